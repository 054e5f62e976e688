"""The run summary: best-so-far trajectory and ranking (raybo/report.py)."""

from __future__ import annotations

import csv
import json
import math

from raybo.report import TuningRun, format_table, write_outputs


def test_best_so_far_skips_failed_trials_and_follows_mode():
    rows = [{"value": v} for v in (math.nan, 3.0, 5.0, 1.0, math.nan)]
    assert TuningRun("cnn", "m", "min", "gp", rows).best_so_far()[1:] == [3.0, 3.0, 1.0, 1.0]
    assert TuningRun("cnn", "m", "max", "gp", rows).best_so_far()[1:] == [3.0, 5.0, 5.0, 5.0]
    assert math.isnan(TuningRun("cnn", "m", "min", "gp", rows).best_so_far()[0])


def _run() -> TuningRun:
    rows = [{"trial": i, "trial_id": f"t{i}", "status": s, "value": v, "epochs": 2, "error": None,
             "config": {"optim": {"lr": lr}, "model": {"width": 8 * (i + 1)}, "seed": 0}}
            for i, (s, v, lr) in enumerate([("TERMINATED", 0.5, 1e-3), ("DIVERGED", math.nan, 1.0),
                                            ("TERMINATED", 0.2, 3e-3)])]
    diag = {"n": 2, "loo_rmse": 0.1, "loo_calibration": 1.0, "observed": [0.5, 0.2],
            "predicted": [0.45, 0.25], "predicted_std": [0.05, 0.05]}
    return TuningRun("cnn", "val_loss", "min", "gp", rows, diagnostics=diag)


def test_table_ranks_successful_trials_with_their_hyperparameters():
    lines = format_table(_run()).splitlines()
    assert lines[0].split() == ["trial", "val_loss", "epochs", "lr", "width"]
    assert [line.split()[0] for line in lines[1:]] == ["2", "0"]  # best first, NaN left out


def test_outputs_written(tmp_path):
    paths = write_outputs(_run(), tmp_path)
    assert set(paths) == {"csv", "json", "trajectory", "diagnostics"}
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["TERMINATED", "DIVERGED", "TERMINATED"]
    doc = json.loads(paths["json"].read_text())
    assert doc["best_so_far"] == [0.5, 0.5, 0.2] and doc["trials"][1]["value"] is None
    assert paths["trajectory"].stat().st_size > 1000
