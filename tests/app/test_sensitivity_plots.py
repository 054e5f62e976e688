"""What mattered in a run directory: importance.csv, the importance table in trials.json,
importance.png and slices.png, from a real GPSearch's GP (no Ray: the searcher holds evaluated
points of a known function, as at the end of a run)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
from ray import tune

import raybo
from raybo.app.report import importance_line, write_outputs
from raybo.app.results import TuningRun
from raybo.app.sensitivity_plots import importance_figure, slices_figure
from raybo.app.tuning import _what_mattered
from raybo.sensitivity import slices
from raybo.space import SearchSpace

SPACE = {"optim": {"lr": tune.loguniform(1e-4, 1e-1), "batch_size": tune.choice([16, 32, 64]),
                   "method": tune.choice([{"name": "adam"},
                                          {"name": "sgd", "momentum": tune.uniform(0, 0.99)}])},
         "model": {"hidden": tune.lograndint(16, 129), "dropout": tune.uniform(0.0, 0.5)}}


def _loss(c: dict) -> float:
    o, m = c["optim"], c["model"]
    return float(0.2 + (math.log10(o["lr"]) + 2.5) ** 2 + 0.1 * (o["method"]["name"] == "sgd")
                 + 0.05 * math.log2(128 / m["hidden"]))


def _run(n: int = 30) -> TuningRun:
    ss = SearchSpace(SPACE)
    X = ss.snap(np.random.default_rng(1).random((n, ss.dim)))
    configs = [ss.decode(x) for x in X]
    values = [_loss(c) for c in configs]
    searcher = raybo.GPSearch(space=SPACE, metric="val_loss", mode="min",
                              points_to_evaluate=configs, evaluated_rewards=values)
    rows = [{"trial": i + 1, "trial_id": f"t{i}", "status": "TERMINATED", "origin": "design",
             "value": v, "metrics": {"val_loss": v}, "config": c, "error": ""}
            for i, (c, v) in enumerate(zip(configs, values))]
    run = TuningRun("lstm", "val_loss", "min", "gp", rows, searcher=searcher, budget=n)
    run.importance, run.slices, run.importance_trials = _what_mattered(searcher)
    return run


def test_a_gp_run_writes_what_mattered(tmp_path):
    run = _run()
    assert run.importance[0]["parameter"] == "optim/lr" and run.importance_trials == 30
    assert [s["parameter"] for s in run.slices] == [r["parameter"] for r in run.importance[:3]]
    paths = write_outputs(run, tmp_path)
    assert {"importance", "importance_csv", "slices"} <= set(paths)
    with open(paths["importance_csv"]) as fh:
        table = list(csv.DictReader(fh))
    assert [r["parameter"] for r in table] == [r["parameter"] for r in run.importance]
    assert abs(sum(float(r["importance"]) for r in table) - 1) < 1e-9
    doc = json.loads(paths["json"].read_text())["importance"]
    assert doc["trials"] == 30 and "Sobol" in doc["method"]
    assert doc["parameters"][0]["parameter"] == "optim/lr"
    assert paths["importance"].stat().st_size > 5000 and paths["slices"].stat().st_size > 5000
    assert importance_line(run).startswith("what mattered for val_loss")
    assert "optim/lr" in importance_line(run)
    assert "30 trials" in importance_line(run) and "rough" not in importance_line(run)
    run.importance_trials = 4  # a GP on a handful of points is mostly its prior: say so
    assert "4 trials; few trials, a rough guide" in importance_line(run)


def test_the_slices_use_log_axes_for_log_domains_and_categories_for_choices():
    run = _run()
    run.slices = slices(run.searcher, ["optim/lr", "optim/method", "optim/batch_size"])
    fig = slices_figure(run)
    lr_ax, method_ax, batch_ax = fig.axes[:3]
    assert lr_ax.get_xscale() == "log" and method_ax.get_xscale() == "linear"
    assert [t.get_text() for t in method_ax.get_xticklabels()] == ["adam", "sgd"]
    assert [t.get_text() for t in batch_ax.get_xticklabels()] == ["16", "32", "64"]
    importance_figure(run)


def test_fewer_than_three_successes_give_no_importance(tmp_path):
    run = _run(2)
    assert run.importance == [] and run.slices == []
    assert "importance" not in write_outputs(run, tmp_path)
    assert importance_line(run) == ""
