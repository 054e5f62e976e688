"""The report of a tuning run: the best-trials table, the end-of-run lines, trials.csv/json,
best_config.json and (through ``plots.py``) the PNGs.

Everything here is pure presentation of a ``results.TuningRun`` (no Ray, no torch), so
benchmarks and notebooks can reuse the same table and files.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raybo.app.plots import plot_diagnostics, plot_trajectory
from raybo.app.results import (
    TuningRun,
    band_coverage,
    loo_reading,
    short_names,
    status_label,
)
from raybo.app.sensitivity_plots import plot_importance, plot_slices

TABLE_ROWS = 5
IMPORTANCE_METHOD = ("Sobol indices of the GP posterior mean in metric units over the search "
                     "space (first order: Saltelli 2010; total: Jansen 1999); importance = "
                     "total / sum of totals")
# Metrics shown first, in this order, when a trial reported them (trainables.metrics.METRICS).
HEADLINE_METRICS = ("val_loss", "val_accuracy", "val_perplexity", "train_loss")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + "/") if isinstance(v, dict) else {key: v})
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def metric_columns(runs: Sequence[TuningRun]) -> list[str]:
    """Every metric key of the trials' last reports: the tuned metric, the headline metrics,
    then the rest alphabetically."""
    keys = {k for run in runs for r in run.rows for k in r.get("metrics", {})}
    first = [runs[0].metric] + [m for m in HEADLINE_METRICS if m != runs[0].metric]
    return [m for m in first if m in keys or m == runs[0].metric] + sorted(keys - set(first))


def format_table(run: TuningRun, k: int = TABLE_ROWS) -> str:
    """Plain-text table of the ``k`` best trials: number, Ray id, origin, every headline metric
    and the tuned hyperparameters."""
    best = run.ranked()[:k]
    if not best:
        return f"no trial reported a finite {run.metric}"
    # train_loss and the rest are in trials.csv; the table stays narrow enough to read.
    metrics = [m for m in metric_columns([run])
               if m in (run.metric, "val_loss", "val_accuracy", "val_perplexity", "epoch")]
    tuned = run.tuned or [key for key in _flatten(best[0]["config"])
                          if key.split("/")[0] in ("optim", "model")]
    # a status column once some trial was stopped early: its value is not a finished training's
    status = ["status"] if any(r["status"] == "STOPPED" for r in run.rows) else []
    header = ["trial", "trial_id", "origin", *status, *metrics, *short_names(tuned)]
    lines = [header]
    for row in best:
        flat = _flatten(row["config"])
        lines.append([str(row["trial"]), row["trial_id"], row.get("origin", "")]
                     + [status_label(row)] * len(status)
                     + [_fmt(row["metrics"].get(m)) for m in metrics]
                     + [_fmt(flat.get(key)) for key in tuned])
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    rendered = ("  ".join(s.rjust(w) for s, w in zip(line, widths)) for line in lines)
    return "\n".join(rendered)



def diagnostics_line(run: TuningRun) -> str:
    """One line on the GP's leave-one-out check, or why there is none."""
    d = run.diagnostics
    if run.searcher_name != "gp":
        return ""
    if d.get("error"):
        return f"GP leave-one-out check unavailable: {d['error']}"
    if "loo_rmse" not in d:
        return (f"GP leave-one-out check needs 3 successful trials; this run has {d.get('n', 0)}"
                " (no diagnostics.png)")
    inside, n = band_coverage(d)
    return (f"GP leave-one-out on {n} trials: RMSE {d['loo_rmse']:.4g} {run.metric}; "
            f"{inside} of {n} inside their 95% band (ideal ~95%, in {run.metric} units)\n"
            f"  reading: {loo_reading(d)}")


def importance_line(run: TuningRun, k: int = 4) -> str:
    """What mattered, in one line: each top parameter's share of the GP mean's variance."""
    if not run.importance:
        return ""
    top = ", ".join(f"{r['parameter']} {100 * r['importance']:.0f}%" for r in run.importance[:k])
    return (f"what mattered for {run.metric} (share of the GP's variance, Sobol total "
            f"indices, {run.importance_trials} trials{_rough(run)}): {top}; "
            "see importance.png, slices.png")


# Below this many successful trials the GP behind the importance is mostly its prior: say so.
FEW_TRIALS_FOR_IMPORTANCE = 10


def _rough(run: TuningRun) -> str:
    n = run.importance_trials or 0
    return "; few trials, a rough guide" if n < FEW_TRIALS_FOR_IMPORTANCE else ""


def compare_line(gp: TuningRun, rnd: TuningRun) -> str:
    """GP vs random at the same budget: final bests and when GP reached random's final best."""
    g, r = gp.best(), rnd.best()
    if g is None or r is None:
        return "GP vs random: not comparable (a searcher has no successful trial)"
    sign = 1.0 if gp.mode == "min" else -1.0
    reached = next((i for i, v in enumerate(gp.best_so_far(), start=1)
                    if math.isfinite(v) and sign * v <= sign * r["value"]), None)
    when = (f"GP reached random's best at trial {reached} of {len(gp.rows)}" if reached
            else "GP never reached random's best")
    return (f"best {gp.metric}: GP {g['value']:.4g} (trial {g['trial']}) vs random "
            f"{r['value']:.4g} (trial {r['trial']}); {when}")


def write_outputs(runs: TuningRun | Sequence[TuningRun], out: str | Path) -> dict[str, Path]:
    """Write trials.csv, trials.json, best_config.json (if any trial succeeded; with several
    objectives or constraints the Pareto front's best on the first metric), pareto.csv and
    pareto.png (several objectives or constraints; ``front.py``), trajectory.png and, with GP
    search and >= 3 successes, diagnostics.png, importance.csv, importance.png and slices.png.
    ``runs``: one run, or a GP run followed by the random-search run it is compared with."""
    runs = [runs] if isinstance(runs, TuningRun) else list(runs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "trials.csv", "json": out / "trials.json"}
    _write_csv(runs, paths["csv"])
    main = runs[0]
    doc = {"arch": main.arch, "metric": main.metric, "mode": main.mode,
           "searcher": main.searcher_name, "experiment_path": main.experiment_path,
           **_run_doc(main)}
    if len(runs) > 1:
        doc["compare"] = {"searcher": runs[1].searcher_name,
                          "experiment_path": runs[1].experiment_path, **_run_doc(runs[1])}
    paths["json"].write_text(json.dumps(doc, indent=2, default=str))
    best = _overall_best(runs)
    if best is not None:
        paths["best_config"] = out / "best_config.json"
        paths["best_config"].write_text(json.dumps(best["config"], indent=2, default=str) + "\n")
    paths["trajectory"] = plot_trajectory(runs, out / "trajectory.png")
    if "loo_rmse" in main.diagnostics:
        paths["diagnostics"] = plot_diagnostics(main, out / "diagnostics.png")
    if main.importance:
        paths["importance_csv"] = _write_importance(main, out / "importance.csv")
        paths["importance"] = plot_importance(main, out / "importance.png")
    if main.slices:
        paths["slices"] = plot_slices(main, out / "slices.png")
    if main.multi:
        from raybo.app.front import write_pareto_csv

        paths["pareto_csv"] = write_pareto_csv(main, out / "pareto.csv")
        if len(main.metrics) > 1:
            from raybo.app.pareto_plots import plot_pareto

            paths["pareto"] = plot_pareto(main, out / "pareto.png")
    return paths


IMPORTANCE_COLUMNS = ("parameter", "importance", "first_order", "total")


def _write_importance(run: TuningRun, path: Path) -> Path:
    """importance.csv: one row per parameter, most important first (columns as in
    ``raybo.sensitivity.Importance.rows``)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=IMPORTANCE_COLUMNS)
        writer.writeheader()
        writer.writerows({k: r[k] for k in IMPORTANCE_COLUMNS} for r in run.importance)
    return path


def _overall_best(runs: Sequence[TuningRun]) -> dict[str, Any] | None:
    found = best_of(runs)
    return found[1] if found else None


def best_of(runs: Sequence[TuningRun]) -> tuple[TuningRun, dict[str, Any]] | None:
    """The run (searcher) and row of the best trial over ``runs``: best_config.json's trial
    (with several objectives or constraints: the front member best on the first metric)."""
    if runs and runs[0].multi:
        from raybo.app.front import best_on_front

        row = best_on_front(runs[0])
        return None if row is None else (runs[0], row)
    bests = [(run, b) for run, b in ((run, run.best()) for run in runs) if b is not None]
    if not bests:
        return None
    return sorted(bests, key=lambda rb: rb[1]["value"], reverse=runs[0].mode == "max")[0]


def retrain_line(runs: Sequence[TuningRun], config_path: str | Path) -> str:
    """How to retrain best_config.json, naming the searcher and trial it came from."""
    found = best_of(runs)
    if found is None:
        return ""
    run, row = found
    who = "GP" if run.searcher_name == "gp" else run.searcher_name
    if run.multi:
        return (f"retrain the Pareto front's best on {run.metric} ({who} search, trial "
                f"{row['trial']}, {run.metric} {row['value']:.4g}; the other front trials' "
                f"configs are in pareto.csv): raybo train {run.arch} --config {config_path} "
                "[--epochs N]")
    return (f"retrain the best config ({who} search, trial {row['trial']}, {run.metric} "
            f"{row['value']:.4g}): raybo train {run.arch} --config {config_path} [--epochs N]")


def _run_doc(run: TuningRun) -> dict[str, Any]:
    return {
        "budget": run.budget, "concurrent": run.concurrent, "max_running": run.max_running,
        "trials": [_jsonable(r) for r in run.rows],
        "best_so_far": [_finite_or_none(v) for v in run.best_so_far()],
        "diagnostics": run.diagnostics,
        **({"importance": {"method": IMPORTANCE_METHOD, "trials": run.importance_trials,
                           "parameters": run.importance}} if run.importance else {}),
    }


def _write_csv(runs: Sequence[TuningRun], path: Path) -> None:
    metrics = metric_columns(runs)
    flat = [[_flatten(r["config"]) for r in run.rows] for run in runs]
    config_keys = sorted({k for f in flat for row in f for k in row})
    header = ["trial", "trial_id", "searcher", "status", "origin", *metrics, "error",
              *(f"config/{k}" for k in config_keys)]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for run, run_flat in zip(runs, flat):
            for r, f in zip(run.rows, run_flat):
                writer.writerow(
                    [r["trial"], r["trial_id"], run.searcher_name, status_label(r), r["origin"]]
                    + [_csv_value(r["metrics"].get(m)) for m in metrics] + [r["error"]]
                    + [f.get(k, "") for k in config_keys])


def _csv_value(v: Any) -> Any:
    return "" if v is None else v


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in row.items()}
    clean["value"] = _finite_or_none(row["value"])
    clean["metrics"] = {k: _finite_or_none(v) if isinstance(v, float) else v
                        for k, v in row.get("metrics", {}).items()}
    return clean


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None  # JSON has no NaN
