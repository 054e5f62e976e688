"""GPSearch with Tune's schedulers in real Ray runs: trials stopped by ASHA and
HyperBand are recorded at the level they reached, as Tune's own results say; a Tuner stopped
mid-run and restored keeps every curve and counts no trial twice."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ray_tmp
from ray import tune
from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

from raybo import GPSearch
from raybo.state import DONE
from trainables.curves import curve_loss, curve_trainable

pytestmark = pytest.mark.ray

EPOCHS = 9
SPACE = {"x": tune.uniform(0.0, 1.0), "epochs": EPOCHS}
RESOURCES = {"cpu": 0.5}  # 4 trials at once on a 2-CPU Ray instance


def _scheduler(name: str):
    if name == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=EPOCHS, grace_period=1,
                             reduction_factor=3)
    return HyperBandScheduler(time_attr="training_iteration", max_t=EPOCHS, reduction_factor=3)


def _check_against_tune(searcher: GPSearch, trials) -> int:
    """Each Tune trial's record: finished, its last report at Tune's last training_iteration,
    every kept report equal to the trainable's loss there. Returns how many ended early."""
    records = searcher.observations()
    assert set(records) == {t.trial_id for t in trials}
    stopped = 0
    for trial in trials:
        rec = records[trial.trial_id]
        last = trial.last_result["training_iteration"]
        assert rec["status"] == DONE, (trial.trial_id, rec["status"])
        assert rec["reports"][-1][0] == last
        for t, y in rec["reports"]:
            assert y == pytest.approx(curve_loss(trial.config["x"], t, EPOCHS), rel=1e-12)
        stopped += last < EPOCHS
    return stopped


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
def test_tune_run_with_scheduler_records_stopped_trials(ray_local, tmp_path, scheduler):
    searcher = GPSearch(seed=0, n_initial=4)
    analysis = tune.run(
        curve_trainable, config=SPACE, search_alg=searcher, scheduler=_scheduler(scheduler),
        metric="loss", mode="min", num_samples=16, max_concurrent_trials=4,
        resources_per_trial=RESOURCES, storage_path=str(tmp_path), name=scheduler, verbose=0)
    assert len(analysis.trials) == 16
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    stopped = _check_against_tune(searcher, analysis.trials)
    assert stopped >= 3  # the scheduler did stop trials early, and none counts as failed
    assert searcher.last_fit("curve")["n_fitted"] > 0


N_TRIALS = 14
DRIVER = textwrap.dedent(f"""
    import os, sys
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from raybo import GPSearch
    from trainables.curves import curve_trainable

    root, how = sys.argv[1], sys.argv[2]
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=sys.argv[3])
    trainable = tune.with_resources(curve_trainable, {{"cpu": 0.5}})
    if how == "start":
        tuner = tune.Tuner(
            trainable, param_space={{"x": tune.uniform(0.0, 1.0), "epochs": {EPOCHS},
                                     "sleep_s": 0.3}},
            tune_config=tune.TuneConfig(
                search_alg=GPSearch(seed=1, n_initial=4), metric="loss", mode="min",
                scheduler=ASHAScheduler(time_attr="training_iteration", max_t={EPOCHS},
                                        grace_period=1, reduction_factor=3),
                num_samples={N_TRIALS}, max_concurrent_trials=4),
            run_config=tune.RunConfig(storage_path=root, name="exp", verbose=0))
    else:
        tuner = tune.Tuner.restore(os.path.join(root, "exp"), trainable=trainable,
                                   resume_unfinished=True)
    print("RESULTS", len(tuner.fit()), flush=True)
""")


def _results_so_far(exp: str) -> int:
    """Epoch results written so far by all trials (their result.json lines)."""
    return sum(sum(1 for _ in open(f)) for f in glob.glob(os.path.join(exp, "*", "result.json")))


def test_tuner_with_asha_interrupted_and_restored(tmp_path):
    """Ctrl-C mid-run (SIGINT to the driver: Tune saves and stops), then Tuner.restore in a new
    process: trials resume from their checkpoints, their curves continue where they were, no
    trial is counted twice or lost, and the budget completes."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    exp = str(tmp_path / "exp")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "start", ray_tmp("S")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 300
    while _results_so_far(exp) < 30 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert proc.poll() is None, "the first run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert "RESULTS" not in out or f"RESULTS {N_TRIALS}" not in out
    before = GPSearch()
    before.restore_from_dir(exp)
    curves_before = {k: r["reports"] for k, r in before.observations().items()}
    assert 0 < len(curves_before) < N_TRIALS

    done = subprocess.run([sys.executable, str(script), str(tmp_path), "resume", ray_tmp("T")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert f"RESULTS {N_TRIALS}" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    after = GPSearch()
    after.restore_from_dir(exp)
    records = after.observations()
    assert len(records) == N_TRIALS
    for trial_id, reports in curves_before.items():  # nothing from the first run was lost
        # (its rung reports stay; its latest is superseded when the resumed trial reports on)
        now = records[trial_id]["reports"]
        assert now and (not reports or (now[:len(reports) - 1] == reports[:-1]
                                        and now[-1][0] >= reports[-1][0]))
    for trial_dir in glob.glob(os.path.join(exp, "*", "result.json")):
        rows = [json.loads(line) for line in open(trial_dir)]
        rec = records[rows[-1]["trial_id"]]
        assert rec["status"] == DONE  # ...and every trial, resumed or new, ended as Tune says
        # (an epoch reported after the last saved checkpoint is run and reported again on
        # resume: the searcher keeps the rerun's report, see TrialState.report)
        assert rec["reports"][-1] == [rows[-1]["training_iteration"], rows[-1]["loss"]]
        levels = [p[0] for p in rec["reports"]]
        assert levels == sorted(set(levels))
