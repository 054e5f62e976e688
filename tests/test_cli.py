"""The ``raybo`` command: option validation, and ``raybo tune`` end to end on real Ray."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import ray
from conftest import ray_tmp

from raybo.cli import _creation_index, main, parse_args, run_tuning
from trainables import get_trainable


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["tune", "mlp"], "arch"),
        (["tune", "cnn", "--trials", "0"], "--trials"),
        (["tune", "cnn", "--trials", "-3"], "--trials"),
        (["tune", "cnn", "--concurrent", "0"], "--concurrent"),
        (["tune", "cnn", "--epochs", "0"], "--epochs"),
        (["tune", "cnn", "--cpus-per-trial", "0"], "--cpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "-0.5"], "--gpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "1.5"], "--gpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "nan"], "--gpus-per-trial"),
        (["tune", "cnn", "--searcher", "tpe"], "--searcher"),
        (["tune", "cnn", "--acquisition", "kg"], "--acquisition"),
        (["tune", "cnn", "--seed", "-1"], "--seed"),
        (["tune", "cnn", "--trials", "two"], "--trials"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("raybo tune: error:") and option in last_line


def test_defaults_and_fractional_gpus():
    args = parse_args(["tune", "lstm"])
    assert (args.trials, args.concurrent, args.cpus_per_trial, args.gpus_per_trial) == (12, 2, 1, 0)
    assert (args.searcher, args.acquisition, args.out) == ("gp", "logei", "raybo_out")
    assert parse_args(["tune", "cnn", "--gpus-per-trial", "0.25"]).gpus_per_trial == 0.25
    assert parse_args(["tune", "cnn", "--gpus-per-trial", "2"]).gpus_per_trial == 2


def test_module_entry_point_reports_errors():
    proc = subprocess.run(
        [sys.executable, "-m", "raybo", "tune", "cnn", "--concurrent", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--concurrent" in proc.stderr


@pytest.mark.parametrize(
    ("trial_id", "trial_dir", "expected"),
    [
        ("07b154bc", "/r/train_cnn_07b154bc_6_name=digits,lr=0.1_2026-11-28", 6),  # searcher
        ("8c971_00001", "/r/train_gru_8c971_00001_1_2026-11-28_04-45-35", 1),  # basic variant
        ("", "/r/unparsable", 9),
    ],
)
def test_trial_creation_index_from_tune_directory_names(trial_id, trial_dir, expected):
    assert _creation_index(trial_id, trial_dir, 9) == expected


@pytest.fixture(scope="module")
def ray_session():
    ray.init(address="local", num_cpus=2, _temp_dir=ray_tmp("C"), include_dashboard=False)
    yield
    ray.shutdown()


@pytest.mark.ray
def test_raybo_tune_end_to_end(ray_session, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["tune", "cnn", "--trials", "3", "--epochs", "1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "val_loss" in printed and "3 trials" in printed
    for name in ("trials.csv", "trials.json", "trajectory.png"):
        assert (out / name).stat().st_size > 0
    doc = json.loads((out / "trials.json").read_text())
    assert len({t["trial_id"] for t in doc["trials"]}) == 3
    finite = [t["value"] for t in doc["trials"] if t["value"] is not None]
    assert doc["best_so_far"][-1] == min(finite)
    with open(out / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and "optim/lr" in rows[0] and "model/channels" in rows[0]
    assert len({r["optim/lr"] for r in rows}) == 3  # the searcher proposed distinct points
    assert (out / "ray_results" / "cnn_gp_seed0").is_dir()
    if len(finite) >= 3:  # GP diagnostics need three successful trials
        assert doc["diagnostics"]["n"] == len(finite)
        assert (out / "diagnostics.png").stat().st_size > 0
        assert "leave-one-out" in printed


@pytest.mark.ray
def test_run_tuning_random_search_with_asha(ray_session, tmp_path):
    run = run_tuning(
        "gru", trials=4, epochs=3, searcher="random", asha=True, seed=1, storage=tmp_path
    )
    assert len(run.rows) == 4 and run.searcher is None and run.diagnostics == {}
    assert all(1 <= r["epochs"] <= 3 for r in run.rows)
    assert all(r["status"] in ("TERMINATED", "DIVERGED") for r in run.rows)
    assert len({r["config"]["optim"]["lr"] for r in run.rows}) == 4
    # tune.with_resources was applied to a wrapper, not to the shared trainable
    assert not hasattr(get_trainable("gru"), "_resources")


@pytest.mark.ray
def test_run_tuning_rejects_a_gpu_share_the_cluster_lacks(ray_session, tmp_path):
    with pytest.raises(ValueError, match="gpus_per_trial"):
        run_tuning("cnn", trials=1, gpus_per_trial=0.5, storage=tmp_path)
