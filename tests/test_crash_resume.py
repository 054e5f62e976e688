"""A Tune driver running GPSearch is SIGKILLed mid-experiment and resumed with Tuner.restore in
a new process: nothing completed is lost, the budget completes, no configuration repeats.

The kill point is read from disk, not timed: the first driver carries a callback that, after
each controller step, waits for any upload of the experiment state to finish and then reads
that state from storage; once it lists KILL_AFTER finished trials, the driver SIGKILLs its own
process group (itself and its Ray instance). Storage then holds exactly what the callback saw,
and the rest of the budget has not run.
"""

from __future__ import annotations

import glob
import inspect
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

N_TRIALS = 14
# Finished trials listed on storage when the first driver kills itself. Between two state
# snapshots at most 4 more trials can finish (4 run at a time; each sleeps 2 s, longer than
# the 1 s snapshot period), so the kill lands with at most 9 < N_TRIALS done.
KILL_AFTER = 5


def _finished_trials(exp: str) -> dict[str, float]:
    """trial_id -> final loss of the trials Tune's latest experiment checkpoint lists as
    TERMINATED (function trainables never write ``done: true`` into result.json). Also
    pasted into DRIVER, so test and driver read the state the same way."""
    states = glob.glob(os.path.join(exp, "experiment_state-*.json"))
    if not states:
        return {}
    try:
        with open(max(states)) as f:
            data = json.load(f)
    except (json.JSONDecodeError, OSError):  # not written yet
        return {}
    out = {}
    for trial_json, meta_json in data["trial_data"]:
        trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
        meta = json.loads(meta_json) if isinstance(meta_json, str) else meta_json
        last = meta.get("last_result") or {}
        last = json.loads(last) if isinstance(last, str) else last
        if trial["status"] == "TERMINATED" and "loss" in last:
            out[trial["trial_id"]] = last["loss"]
    return out


DRIVER = textwrap.dedent("""
    import glob, json, os, signal, sys
    import ray
    from ray import tune
    from raybo import GPSearch
    from trainables.synthetic import synthetic_trainable

    root, how = sys.argv[1], sys.argv[2]
""") + inspect.getsource(_finished_trials) + textwrap.dedent(f"""

    class KillAfterFinished(tune.Callback):
        # Pickled by value with the RunConfig (globals included) and brought back by
        # Tuner.restore: it reads this process's argv, so only the first driver kills.
        def on_step_end(self, iteration, trials, **info):
            if sys.argv[2] != "start" or not trials:
                return
            trials[0].storage.syncer.wait()  # no experiment-state upload half-written
            done = _finished_trials(os.path.join(root, "exp"))
            if len(done) >= {KILL_AFTER}:
                print("KILLED WITH", len(done), "FINISHED", flush=True)
                os.killpg(os.getpgid(0), signal.SIGKILL)

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _temp_dir=sys.argv[3])
    trainable = tune.with_resources(synthetic_trainable, {{"cpu": 0.5}})
    if how == "start":
        space = {{"u": tune.uniform(-1, 1), "log_lr": tune.loguniform(1e-5, 1e-1),
                  "depth": tune.randint(1, 4), "name": tune.choice(["adam", "bsgd"]),
                  "fault": tune.choice(["none"] * 5 + ["error"]), "sleep_s": 2.0}}
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(search_alg=GPSearch(seed=0, n_initial=4), metric="loss",
                                        mode="min", num_samples={N_TRIALS},
                                        max_concurrent_trials=4),
            run_config=tune.RunConfig(storage_path=root, name="exp", verbose=0,
                                      callbacks=[KillAfterFinished()]))
    else:
        tuner = tune.Tuner.restore(os.path.join(root, "exp"), trainable=trainable,
                                   resume_unfinished=True, restart_errored=how == "restart")
    grid = tuner.fit()
    print("RESULTS", len(grid), flush=True)
""")


def _driver(tmp_path, how: str, tag: str) -> subprocess.Popen:
    """Start a Tune driver in its own session; each gets a fresh, short Ray temp dir."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1"}  # experiment state saved every second
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), how, f"/tmp/rK{os.getpid()}{tag}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True)  # its own process group: the kill takes its Ray processes too


@pytest.mark.parametrize("how", ["resume", "restart"])
def test_sigkill_then_restore(tmp_path, how):
    exp = str(tmp_path / "exp")
    first = _driver(tmp_path, "start", f"{how}1")
    try:
        out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL, out[-3000:]  # it killed itself, as planned
    done_before = _finished_trials(exp)
    assert f"KILLED WITH {len(done_before)} FINISHED" in out  # storage is what it saw
    assert KILL_AFTER <= len(done_before) < N_TRIALS  # it really was interrupted

    second = _driver(tmp_path, how, f"{how}2")
    try:
        out, _ = second.communicate(timeout=600)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    assert second.returncode == 0, out[-3000:]
    assert f"RESULTS {N_TRIALS}" in out

    after = _finished_trials(exp)
    for trial_id, loss in done_before.items():  # completed before the kill: kept as they were
        assert after[trial_id] == loss
    state_file = max(glob.glob(os.path.join(exp, "searcher-state-*.pkl")))
    with open(state_file, "rb") as f:
        records = pickle.load(f)["trials"]["records"]
    for trial_id, loss in done_before.items():  # ... and still observed by the searcher
        assert records[trial_id]["status"] == "done" and records[trial_id]["y"] == loss
    configs = [repr(sorted(r["config"].items())) for r in records.values()]
    assert len(set(configs)) == len(configs)  # no configuration proposed twice
