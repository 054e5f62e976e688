"""Several objectives and constraints in ``raybo tune``: the options and their errors (no Ray),
pareto.csv against a brute-force non-dominated filter of trials.csv, pareto.png, the
hypervolume panel, and one real run (slow)."""

from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest

from raybo.app.cli import main, parse_args
from raybo.app.front import front_rows, hypervolume_so_far, pareto_table, reference_point
from raybo.app.report import write_outputs
from raybo.app.results import TuningRun


# ------------------------------------------------------------------ options (fast, no Ray)
def test_one_metric_keeps_plain_strings_and_several_become_lists():
    one = parse_args(["tune", "cnn"])
    assert (one.metric, one.mode, one.constraint) == ("val_loss", "min", None)
    one = parse_args(["tune", "cnn", "--metric", "val_accuracy"])
    assert (one.metric, one.mode) == ("val_accuracy", "max")
    two = parse_args(["tune", "cnn", "--metric", "val_accuracy", "--metric", "n_params",
                      "--constraint", "inference_ms <= 2"])
    assert (two.metric, two.mode) == (["val_accuracy", "n_params"], ["max", "min"])
    assert two.constraint == ["inference_ms <= 2.0"]
    given = parse_args(["tune", "cnn", "--metric", "val_loss", "--metric", "n_params",
                        "--mode", "min", "--mode", "max"])
    assert given.mode == ["min", "max"]


@pytest.mark.parametrize("argv, says", [
    (["--metric", "val_loss", "--metric", "n_param"], "--metric 'n_param': cnn reports"),
    (["--metric", "val_loss", "--metric", "val_perplexity"], "--metric 'val_perplexity'"),
    (["--metric", "val_loss", "--metric", "n_params", "--mode", "min"],
     "--mode given 1 times for 2 --metric"),
    (["--metric", "val_loss", "--metric", "val_loss"], "--metric given twice"),
    (["--constraint", "inference_ms < 2"], "--constraint 'inference_ms < 2': unknown operator"),
    (["--constraint", "inference_ms <= fast"], "--constraint 'inference_ms <= fast': the bound"),
    (["--constraint", "latency <= 2"], "--constraint 'latency <= 2': cnn reports"),
    (["--metric", "val_loss", "--metric", "n_params", "--constraint", "n_params <= 9"],
     "--constraint 'n_params <= 9' limits the objective 'n_params'"),
    (["--metric", "val_loss", "--metric", "n_params", "--compare-random"], "--compare-random"),
    (["--metric", "val_loss", "--metric", "n_params", "--asha"], "--asha"),
])
def test_bad_objectives_exit_2_naming_the_option(argv, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["tune", "cnn", *argv, "--out", str(tmp_path / "never")])
    assert err.value.code == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


# ------------------------------------------------------------------ front and files (no Ray)
def _rows(seed: int = 2, n: int = 30) -> list[dict]:
    """Trials with ties, a failure and constraint violations."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        loss = round(float(rng.uniform(0.1, 0.8)), 1)  # rounded: ties on the front
        params = int(rng.choice([1000, 2000, 5000, 20000, 50000, 100000]))
        ms = float(rng.uniform(0.5, 3.0))
        status = "ERROR" if i == 7 else "TERMINATED"
        metrics = {} if status == "ERROR" else {"val_loss": loss, "n_params": params,
                                                 "inference_ms": ms, "epoch": 1}
        rows.append({"trial": i, "trial_id": f"t{i}", "status": status,
                     "origin": "design" if i < 5 else "gp", "stopped_at": None,
                     "value": loss if metrics else math.nan, "metrics": metrics,
                     "config": {"epochs": 1, "optim": {"lr": 1e-3 * i},
                                "model": {"channels": 4 + i}}, "error": ""})
    return rows


def _run(constraints=(), modes=("min", "min")) -> TuningRun:
    return TuningRun("cnn", "val_loss", modes[0], "gp", _rows(), tuned=["optim/lr"],
                     budget=30, concurrent=2, metrics=["val_loss", "n_params"],
                     modes=list(modes), constraints=list(constraints))


def _brute_force_front(path, objectives, modes, limits) -> set[str]:
    """Trials of trials.csv that satisfy every limit and that no other such trial weakly
    dominates with one strict improvement: the definition, pair by pair."""
    with open(path) as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "TERMINATED"]
    sign = {"min": 1.0, "max": -1.0}
    ok = [r for r in rows if all(float(r[m]) <= b for m, b in limits)]
    vals = {r["trial"]: [sign[d] * float(r[m]) for m, d in zip(objectives, modes)] for r in ok}
    front = set()
    for a in vals:
        if not any(all(x <= y for x, y in zip(vals[b], vals[a])) and vals[b] != vals[a]
                   for b in vals if b != a):
            front.add(a)
    return front


@pytest.mark.parametrize("constraints, modes", [
    ((), ("min", "min")), (("inference_ms <= 2.0",), ("min", "min")),
    (("inference_ms <= 1.5",), ("min", "max"))])
def test_pareto_csv_is_the_brute_force_front_of_trials_csv(tmp_path, constraints, modes):
    run = _run(constraints, modes)
    paths = write_outputs(run, tmp_path)
    assert {"pareto_csv", "pareto", "trajectory", "best_config"} <= set(paths)
    limits = [(c.split()[0], float(c.split()[-1])) for c in constraints]
    expected = _brute_force_front(paths["csv"], ["val_loss", "n_params"], modes, limits)
    with open(paths["pareto_csv"]) as fh:
        front = list(csv.DictReader(fh))
    assert {r["trial"] for r in front} == expected and len(expected) >= 2
    assert set(front[0]) >= {"val_loss", "n_params", "config/optim/lr", "config/model/channels"}
    assert ("inference_ms" in front[0]) == bool(constraints)
    # best_config.json: the front member best on the first metric
    best = min(front, key=lambda r: float(r["val_loss"]))
    config = json.loads(paths["best_config"].read_text())
    assert config["optim"]["lr"] == pytest.approx(float(best["config/optim/lr"]))
    assert paths["pareto"].stat().st_size > 10_000
    assert pareto_table(run).count("\n") == len(expected)


def test_hypervolume_so_far_matches_a_direct_computation_and_never_falls():
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    run = _run(("inference_ms <= 2.0",))
    hv = hypervolume_so_far(run)
    assert all(b >= a for a, b in zip(hv, hv[1:]))
    ref = reference_point(run)
    front = front_rows(run)
    Y = torch.tensor([[r["metrics"]["val_loss"], r["metrics"]["n_params"]] for r in front],
                     dtype=torch.float64)
    direct = Hypervolume(-torch.as_tensor(ref)).compute(-Y)
    assert hv[-1] == pytest.approx(float(direct), rel=1e-12)
    # the same by boxes: sort by the first objective, sum the rectangles up to the reference
    pts = sorted(set(map(tuple, Y.tolist())))
    area = sum((x2 - x1) * (ref[1] - y) for (x1, y), (x2, _) in
               itertools.pairwise(pts + [(ref[0], 0.0)]))
    assert hv[-1] == pytest.approx(area, rel=1e-12)


def test_three_objectives_draw_a_pairwise_grid(tmp_path):
    from raybo.app.pareto_plots import pareto_figure

    run = _run()
    run.metrics, run.modes = ["val_loss", "n_params", "inference_ms"], ["min"] * 3
    fig = pareto_figure(run)
    assert sum(ax.axison for ax in fig.axes) == 3
    assert fig.axes[0].get_yscale() == "log"  # n_params spans two decades


# ------------------------------------------------------------------ a real run (slow)
@pytest.mark.ray
def test_tune_cnn_on_val_loss_and_n_params_writes_the_front(tmp_path, capsys):
    import ray
    from conftest import ray_tmp

    ray.init(address="local", num_cpus=2, _temp_dir=ray_tmp("F"), include_dashboard=False)
    try:
        out = tmp_path / "mo"
        code = main(["tune", "cnn", "--metric", "val_loss", "--metric", "n_params",
                     "--trials", "6", "--concurrent", "2", "--epochs", "1", "--out", str(out)])
    finally:
        ray.shutdown()
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Pareto front of val_loss (min), n_params (min)" in printed
    with open(out / "pareto.csv") as fh:
        front = list(csv.DictReader(fh))
    assert len(front) >= 2, front
    assert {r["trial"] for r in front} == _brute_force_front(
        out / "trials.csv", ["val_loss", "n_params"], ["min", "min"], [])
    for name in ("pareto.png", "trajectory.png", "best_config.json", "trials.csv"):
        assert (out / name).is_file()
    assert json.loads((out / "run.json").read_text())["options"]["metric"] == ["val_loss",
                                                                               "n_params"]


def test_one_metric_with_a_constraint_keeps_the_best_feasible_trial(tmp_path):
    run = _run(("inference_ms >= 0.8", "inference_ms <= 1.9"))
    run.metrics, run.modes = ["val_loss"], ["min"]
    paths = write_outputs(run, tmp_path)
    assert "pareto" not in paths  # nothing to draw in one dimension; pareto.csv has the best
    feasible = [r for r in run.rows if r["metrics"] and 0.8 <= r["metrics"]["inference_ms"] <= 1.9]
    best = min(r["value"] for r in feasible)
    assert min(r["value"] for r in run.rows if math.isfinite(r["value"])) < best  # infeasible
    with open(paths["pareto_csv"]) as fh:
        assert {float(r["val_loss"]) for r in csv.DictReader(fh)} == {best}
    config = json.loads(paths["best_config"].read_text())
    assert config in [r["config"] for r in feasible if r["value"] == best]
