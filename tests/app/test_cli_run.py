"""``raybo tune`` / ``resume`` / ``train`` running real trials on real Ray.

One subprocess test is the user's view (its own Ray, Ctrl-C, ``raybo resume``); the rest share
one local Ray session (2 CPUs) and call ``main``/``run_tuning`` in-process.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from conftest import ray_tmp

from raybo.app.cli import main
from raybo.app.report import diagnostics_line, write_outputs
from raybo.app.tuning import run_tuning

pytestmark = pytest.mark.ray

# What a default run must not print (Ray's banners, worker log lines, the snapshot warning
# caused by CheckpointConfig(num_to_keep=1), Tune's own resume hint).
NOISE = ("snapshotting has been triggered", "Checkpoint successfully created",
         "Configuration for experiment", "View detailed results", "Started a local Ray",
         "Tuner.restore(", "Traceback")


def _csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_interrupted_run_writes_its_outputs_and_resumes(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "RAY_TMPDIR": ray_tmp("E")}
    cmd = [sys.executable, "-m", "raybo", "tune", "cnn", "--trials", "3", "--concurrent", "1",
           "--epochs", "3", "--out", str(out), "--num-cpus", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    first = []
    for line in proc.stdout:  # wait for the first finished trial, then press Ctrl-C
        first.append(line)
        if line.startswith("[1/3] trial 1"):
            proc.send_signal(signal.SIGINT)
            break
    first += proc.stdout.readlines()
    assert proc.wait(timeout=300) == 130, "".join(first)
    text = "".join(first)
    assert not [n for n in NOISE if n in text], text
    assert f"finish with: raybo resume {out}" in text
    assert "needs 3 successful trials" in text  # < 3 finished: said plainly, no KeyError
    before = _csv(out / "trials.csv")
    done = {r["trial"]: r["trial_id"] for r in before if r["status"] == "TERMINATED"}
    assert "1" in done and len(done) < 3
    assert json.loads((out / "run.json").read_text())["finished"] is False

    resumed = subprocess.run(["raybo", "resume", str(out), "--num-cpus", "2"], env=env,
                             capture_output=True, text=True, timeout=600)
    text = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, text
    assert not [n for n in NOISE if n in text], text
    rows = _csv(out / "trials.csv")
    assert [r["trial"] for r in rows] == ["1", "2", "3"]
    assert all(r["status"] == "TERMINATED" for r in rows)
    assert {r["trial"]: r["trial_id"] for r in rows if r["trial"] in done} == done
    assert len(list((out / "ray_results").iterdir())) == 1  # one experiment, continued
    assert "GP leave-one-out on 3 trials" in text and (out / "diagnostics.png").exists()
    assert json.loads((out / "run.json").read_text())["finished"] is True
    # the progress lines after resuming continue the same numbering
    assert [ln.split("trial ")[1].split()[0] for ln in resumed.stdout.splitlines()
            if ln.startswith("[")] == [t for t in ("1", "2", "3") if t not in done]


@pytest.fixture(scope="module")
def ray_session():
    ray.init(address="local", num_cpus=2, _temp_dir=ray_tmp("C"), include_dashboard=False)
    yield
    ray.shutdown()


def test_compare_random_runs_both_at_the_requested_concurrency(ray_session, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["tune", "cnn", "--trials", "3", "--concurrent", "1", "--epochs", "1",
                 "--compare-random", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    doc = json.loads((out / "trials.json").read_text())
    # 2 CPUs could run 2 trials at once: both searchers kept to --concurrent 1 (random search
    # ignored it before: Ray drops max_concurrent_trials for a SearchAlgorithm)
    assert (doc["searcher"], doc["compare"]["searcher"]) == ("gp", "random")
    assert doc["max_running"] == 1 and doc["compare"]["max_running"] == 1
    rows = _csv(out / "trials.csv")
    assert [(r["searcher"], r["trial"]) for r in rows] == [
        ("gp", "1"), ("gp", "2"), ("gp", "3"), ("random", "1"), ("random", "2"), ("random", "3")]
    assert {r["origin"] for r in rows if r["searcher"] == "random"} == {"random"}
    assert "best val_loss: GP" in printed and "vs random" in printed
    for n in ("1", "2", "3"):
        assert f"gp     [{n}/3]" in printed and f"random [{n}/3]" in printed

    # best_config.json is the trainable's config as is: `raybo train` runs it
    best = json.loads((out / "best_config.json").read_text())
    code = main(["train", "cnn", "--config", str(out / "best_config.json"), "--epochs", "1",
                 "--out", str(tmp_path / "train")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "epoch 1/1" in printed and "final checkpoint:" in printed
    (params,) = (tmp_path / "train" / "ray_results").glob("*/*/params.json")
    assert json.loads(params.read_text()) == {**best, "epochs": 1}


def test_a_run_where_every_trial_fails_still_reports(ray_session, tmp_path, capsys):
    # MNIST without a root directory: every trial raises before its first report
    run = run_tuning("cnn", trials=2, epochs=1, data={"name": "mnist"}, max_failures=0,
                     storage=tmp_path / "ray", name="failing", progress=True)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    assert len(lines) == 2 and all("failed: ValueError: data 'mnist' needs a 'root'" in ln
                                   for ln in lines), lines
    assert [r["status"] for r in run.rows] == ["ERROR", "ERROR"]
    assert all("needs a 'root' directory" in r["error"] for r in run.rows)
    paths = write_outputs(run, tmp_path / "out")
    assert set(paths) == {"csv", "json", "trajectory"}  # no best config, no diagnostics
    assert "this run has 0" in diagnostics_line(run)


def test_a_gpu_share_the_cluster_lacks_is_refused_naming_the_option(ray_session, tmp_path,
                                                                      capsys, monkeypatch):
    out = tmp_path / "gpu"
    assert main(["tune", "cnn", "--gpus-per-trial", "0.5", "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert "raybo tune: error: --gpus-per-trial=0.5: no node" in printed.err
    assert not out.exists()  # nothing ran: the same --out can be used once it is fixed
    assert "run directory" not in printed.out  # never announced a directory that then vanished
    # raybo train likewise: the refused request leaves no empty run directory, named or default
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"optim": {"lr": 0.01}}))
    monkeypatch.chdir(tmp_path)
    for extra in (["--out", str(tmp_path / "train")], []):
        assert main(["train", "cnn", "--config", str(config), "--gpus-per-trial", "1",
                     *extra]) == 2
        printed = capsys.readouterr()
        assert "raybo train: error: --gpus-per-trial=1: no node" in printed.err
        assert "run directory" not in printed.out
    assert not (tmp_path / "train").exists()
    assert not list((tmp_path / "raybo_out").glob("*"))  # no raybo_out/cnn-train-TIMESTAMP


def test_warnings_when_the_cluster_or_the_budget_cannot_give_what_the_header_says(ray_session):
    from raybo.app.commands import budget_warnings

    opts = {"arch": "cnn", "trials": 10, "concurrent": 8, "epochs": 1, "cpus_per_trial": 1.0,
            "gpus_per_trial": 0.0}
    cluster, design = budget_warnings(opts, ["gp"])  # the run: 2 CPUs, 10 trials
    assert cluster.startswith("--concurrent 8, but the cluster holds 2 trials of 1 CPU at once")
    assert design.startswith("all 10 trials will be initial-design (quasi-random) trials")
    assert "about the first 11 trials" in design  # 4 results awaited + 7 more suggested
    assert budget_warnings(opts, ["random"]) == [cluster]  # no design to speak of
    # the defaults (12 trials, 2 at a time) and half-CPU trials 4 at a time warn of nothing
    assert budget_warnings({**opts, "trials": 12, "concurrent": 2}, ["gp", "random"]) == []
    assert budget_warnings({**opts, "trials": 12, "concurrent": 4, "cpus_per_trial": 0.5},
                           ["gp"]) == []
