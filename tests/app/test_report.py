"""The run summary and its files: trajectory, ranking, CSV/JSON, best_config.json and the two
plots (raybo/app/results.py, report.py, plots.py). Pure presentation: no Ray."""

from __future__ import annotations

import csv
import json
import math

import pytest

from raybo.app.plots import diagnostics_figure, trajectory_figure, wants_log
from raybo.app.report import (
    compare_line,
    diagnostics_line,
    format_table,
    short_names,
    write_outputs,
)
from raybo.app.results import TuningRun, band_coverage


def test_best_so_far_skips_failed_trials_and_follows_mode():
    rows = [{"value": v} for v in (math.nan, 3.0, 5.0, 1.0, math.nan)]
    assert TuningRun("cnn", "m", "min", "gp", rows).best_so_far()[1:] == [3.0, 3.0, 1.0, 1.0]
    assert TuningRun("cnn", "m", "max", "gp", rows).best_so_far()[1:] == [3.0, 5.0, 5.0, 5.0]
    assert math.isnan(TuningRun("cnn", "m", "min", "gp", rows).best_so_far()[0])


def _row(i, status, value, lr, origin="gp", **metrics):
    return {"trial": i, "trial_id": f"id{i}", "status": status, "origin": origin, "value": value,
            "metrics": {"val_loss": value, "val_accuracy": 0.9, "train_loss": 0.3,
                        "epoch": 2, **metrics},
            "config": {"epochs": 2, "seed": 0, "data": {"name": "digits"},
                       "optim": {"name": "adam", "lr": lr}, "model": {"width": 8 * i}},
            "error": "ValueError: boom" if status == "ERROR" else ""}


DIAG = {"n": 3, "loo_rmse": 0.1, "loo_calibration": 1.0, "observed": [0.5, 0.2, 2.0],
        "predicted": [0.45, 0.25, 0.3], "predicted_std": [0.05, 0.05, 0.1]}


def _run(searcher="gp", rows=None) -> TuningRun:
    rows = rows if rows is not None else [
        _row(1, "TERMINATED", 0.5, 1e-3, "design"), _row(2, "DIVERGED", math.nan, 1.0, "design"),
        _row(3, "TERMINATED", 0.2, 3e-3), _row(4, "ERROR", math.nan, 0.5)]
    return TuningRun("cnn", "val_loss", "min", searcher, rows, diagnostics=dict(DIAG),
                     tuned=["optim/name", "optim/lr", "model/width"], budget=len(rows),
                     concurrent=2)


def test_table_ranks_successful_trials_with_id_origin_metrics_and_hyperparameters():
    lines = format_table(_run()).splitlines()
    assert lines[0].split() == ["trial", "trial_id", "origin", "val_loss", "val_accuracy",
                                "epoch", "optim", "lr", "width"]
    assert [line.split()[:3] for line in lines[1:]] == [["3", "id3", "gp"],
                                                        ["1", "id1", "design"]]


def test_short_column_names_stay_unambiguous():
    keys = ["optim/name", "optim/lr", "model/lr", "model/width", "data/name"]
    assert short_names(keys) == ["optim", "optim/lr", "model/lr", "width", "data"]


def test_files_hold_every_metric_one_numbering_and_a_usable_best_config(tmp_path):
    run = _run()
    paths = write_outputs(run, tmp_path)
    assert set(paths) == {"csv", "json", "best_config", "trajectory", "diagnostics"}
    with open(paths["csv"]) as f:
        header = next(csv.reader(f))
        f.seek(0)
        rows = list(csv.DictReader(f))
    assert len(header) == len(set(header))  # no duplicate columns (was: two "epochs")
    assert header[:5] == ["trial", "trial_id", "searcher", "status", "origin"]
    for key in ("val_loss", "val_accuracy", "train_loss", "epoch", "config/epochs",
                "config/optim/lr", "error"):
        assert key in header
    assert [r["trial"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["status"] for r in rows] == ["TERMINATED", "DIVERGED", "TERMINATED", "ERROR"]
    assert rows[3]["error"] == "ValueError: boom"
    doc = json.loads(paths["json"].read_text())
    assert [t["trial"] for t in doc["trials"]] == [1, 2, 3, 4]
    assert doc["best_so_far"] == [0.5, 0.5, 0.2, 0.2] and doc["trials"][1]["value"] is None
    # the best trial's config, nested exactly as the trainable received it
    assert json.loads(paths["best_config"].read_text()) == run.rows[2]["config"]
    assert paths["trajectory"].stat().st_size > 1000


def test_a_run_where_every_trial_failed_still_writes_its_files(tmp_path):
    run = _run(rows=[_row(1, "ERROR", math.nan, 1e-3), _row(2, "ERROR", math.nan, 2e-3)])
    run.diagnostics = {"n": 0}
    paths = write_outputs(run, tmp_path)
    assert set(paths) == {"csv", "json", "trajectory"}
    assert "no trial reported a finite val_loss" in format_table(run)
    assert "needs 3 successful trials; this run has 0" in diagnostics_line(run)


def test_diagnostics_line_says_why_there_are_none():
    run = _run()
    run.diagnostics = {"n": 2}
    assert diagnostics_line(run).endswith("this run has 2 (no diagnostics.png)")
    run.diagnostics = {"n": 5, "error": "GP fit failed"}
    assert "unavailable: GP fit failed" in diagnostics_line(run)
    assert diagnostics_line(_run(searcher="random")) == ""


def test_diagnostics_count_what_the_plot_draws_in_metric_units():
    # The GP-space calibration says 1.0, but trial 3 (observed 2.0, predicted 0.3 +- 0.196)
    # lies outside the band drawn in metric units: the printed line and the plot say 2 of 3.
    run = _run()
    assert band_coverage(run.diagnostics) == (2, 3)
    assert "2 of 3 inside their 95% band" in diagnostics_line(run)
    fig = diagnostics_figure(run)
    ax = fig.axes[0]
    assert "val_loss units" in ax.get_title() and "2 of 3" in ax.get_title()
    drawn = {c.get_label(): len(c.lines[0].get_xdata()) for c in ax.containers}
    assert drawn == {"inside its 95% band": 2, "outside its 95% band": 1}


@pytest.mark.parametrize(("values", "log"), [([0.05, 0.1, 5.0], True), ([0.2, 0.5, 1.0], False),
                                              ([-1.0, 20.0, 0.5], False)])
def test_trajectory_uses_a_log_scale_past_a_decade(values, log):
    assert wants_log(values) is log
    rows = [_row(i, "TERMINATED", v, 1e-3) for i, v in enumerate(values, start=1)]
    ax = trajectory_figure([_run(rows=rows)]).axes[0]
    assert ax.get_yscale() == ("log" if log else "linear")


def test_trajectory_marks_design_gp_failures_and_both_searchers():
    gp = _run()
    rnd = _run(searcher="random", rows=[_row(i, "TERMINATED", v, 1e-3, "random")
                                        for i, v in enumerate((0.6, 0.3, 0.25, 0.4), start=1)])
    ax = trajectory_figure([gp, rnd]).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert {"initial design", "GP suggestion", "random search", "failed / diverged",
            "best so far (gp)", "best so far (random)"} <= set(labels)
    assert "GP vs random" in ax.get_title()
    assert compare_line(gp, rnd).endswith("GP reached random's best at trial 3 of 4")


def test_diagnostics_use_quantile_bands_when_given():
    # Exact quantiles of a warped GP are asymmetric in metric units; when the diagnostics carry
    # them they are what is counted and drawn.
    run = _run()
    run.diagnostics.update(lower=[0.4, 0.21, 0.25], upper=[0.6, 0.3, 2.5])
    assert band_coverage(run.diagnostics) == (2, 3)  # trial 2 (0.2) is below its band
    ax = diagnostics_figure(run).axes[0]
    assert ax.get_yscale() == "linear"  # the points span a decade, not more: band ends don't count


@pytest.mark.parametrize("outlier", [4.0, 5e21])
def test_diagnostics_frame_the_points_on_log_axes_and_read_in_one_line(outlier):
    # Good trials near 0.1, one outlier (a loss of 4, or a 5e21 perplexity), bands reaching
    # below zero: log axes framed on the points, not on the bands, and a reading under the plot.
    obs = [0.10, 0.11, 0.12, 0.13, 0.14, outlier]
    pred = [0.105, 0.11, 0.125, 0.12, 0.15, outlier / 3]
    run = _run()
    run.diagnostics = {"n": 6, "loo_rmse": 1.0, "loo_calibration": 5 / 6, "observed": obs,
                       "predicted": pred, "predicted_std": [0.01] * 6,
                       "lower": [p - 0.3 for p in pred[:5]] + [-outlier],
                       "upper": [p + 0.01 for p in pred[:5]] + [outlier / 2]}
    fig = diagnostics_figure(run)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    # framed on the points with the same margin (a factor) at both ends, not on the bands
    assert 0 < lo < 0.1 < outlier < hi and hi / outlier == pytest.approx(0.1 / lo)
    assert ax.get_xlim() == (lo, hi)
    reading = [t.get_text() for t in fig.texts if t.get_text().startswith("Reading: ")]
    assert reading == ["Reading: the GP predicts held-out trials well (rank correlation 0.94, "
                       "5 of 6 inside): trust its suggestions"]
    _legend_clear_of_the_axes(fig, ax)


def _legend_clear_of_the_axes(fig, ax):
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # beside the data, covering none of it


def test_the_reading_says_when_to_distrust_the_gp():
    from raybo.app.results import loo_reading

    d = {"observed": [1.0, 2.0, 3.0, 4.0], "predicted": [4.0, 3.0, 2.0, 1.0],
         "lower": [0.0] * 4, "upper": [5.0] * 4}
    assert loo_reading(d).startswith("the GP ranks held-out trials poorly")
    d.update(predicted=[1.1, 2.1, 2.9, 4.2], lower=[1.05, 2.05, 2.8, 4.1],
             upper=[1.2, 2.2, 3.1, 4.3])
    assert "overconfident (1 of 4 inside)" in loo_reading(d)
    d.update(lower=[-9.0] * 4, upper=[9.0] * 4)
    assert loo_reading(d).startswith("the GP is still unsure (most bands are wider than")


def test_one_leave_one_out_calibration_in_json_console_and_plot(tmp_path):
    # A skewed metric (the GP warps it): the fraction trials.json reports, the console's count
    # and diagnostics.png's title all count observations inside the same metric-unit bands.
    from drive import drive
    from ray import tune

    from raybo import GPSearch

    searcher = GPSearch({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}, metric="loss",
                        mode="min", seed=1)
    drive(searcher, 14, lambda c: math.exp(8 * c["a"]) * (1 + c["b"])
          + (5e3 if c["b"] > 0.8 else 0.0))
    run = _run()
    run.diagnostics = searcher.diagnostics()
    inside, n = band_coverage(run.diagnostics)
    assert n == 14 and run.diagnostics["loo_calibration"] == pytest.approx(inside / n)
    assert f"{inside} of {n} inside" in diagnostics_line(run)
    assert f"{inside} of {n} trials inside" in diagnostics_figure(run).axes[0].get_title()
    doc = json.loads(write_outputs(run, tmp_path)["json"].read_text())
    assert doc["diagnostics"]["loo_calibration"] == pytest.approx(inside / n)


def test_trials_a_scheduler_stopped_early_are_marked_in_table_csv_and_plot(tmp_path):
    from raybo.app.results import trial_status

    config = {"epochs": 5}
    assert trial_status("TERMINATED", False, 0.9, {"epoch": 1}, config) == ("STOPPED", 1)
    assert trial_status("TERMINATED", False, 0.3, {"epoch": 5}, config) == ("TERMINATED", None)
    assert trial_status("TERMINATED", False, math.nan, {"epoch": 1}, config)[0] == "DIVERGED"
    assert trial_status("ERROR", True, math.nan, {}, config)[0] == "ERROR"
    assert trial_status("RUNNING", False, 0.5, {"epoch": 1}, config)[0] == "UNFINISHED"

    rows = [_row(1, "TERMINATED", 0.5, 1e-3, "design"), _row(2, "STOPPED", 0.4, 1e-2, "design"),
            _row(3, "TERMINATED", 0.2, 3e-3)]
    rows[1]["stopped_at"] = 1
    run = _run(rows=rows)
    lines = format_table(run).splitlines()
    assert lines[0].split()[:4] == ["trial", "trial_id", "origin", "status"]
    assert "STOPPED (epoch 1)" in lines[2] and lines[1].split()[3] == "TERMINATED"
    assert "status" not in format_table(_run()).splitlines()[0]  # no column without ASHA
    paths = write_outputs(run, tmp_path)
    with open(paths["csv"]) as f:
        assert [r["status"] for r in csv.DictReader(f)] == [
            "TERMINATED", "STOPPED (epoch 1)", "TERMINATED"]
    trial = json.loads(paths["json"].read_text())["trials"][1]
    assert (trial["status"], trial["stopped_at"]) == ("STOPPED", 1)
    ax = trajectory_figure([run]).axes[0]
    hollow = [ln for ln in ax.lines if ln.get_markerfacecolor() == "none" and len(ln.get_xdata())]
    assert [list(ln.get_xdata()) for ln in hollow] == [[2]]
    assert any(t.get_text() == "ep 1" for t in ax.texts)
    assert any("stopped early" in label for label in ax.get_legend_handles_labels()[1])


def test_the_trajectory_legend_sits_beside_the_data():
    fig = trajectory_figure([_run()])
    _legend_clear_of_the_axes(fig, fig.axes[0])


def test_the_retrain_line_names_the_searcher_and_trial_of_best_config():
    from raybo.app.report import retrain_line

    gp = _run()
    rnd = _run(searcher="random", rows=[_row(i, "TERMINATED", v, 1e-3, "random")
                                        for i, v in enumerate((0.6, 0.15, 0.25), start=1)])
    assert retrain_line([gp, rnd], "out/best_config.json") == (
        "retrain the best config (random search, trial 2, val_loss 0.15): raybo train cnn "
        "--config out/best_config.json [--epochs N]")
    assert retrain_line([gp], "b.json").startswith("retrain the best config (GP search, trial 3")
