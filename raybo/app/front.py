"""The Pareto front of a tuning run with several objectives or constraints (``raybo tune
--metric A --metric B --constraint "C <= x"``): which trials are on it, pareto.csv, the printed
table and the hypervolume after each trial.

A trial counts when it finished (TERMINATED) and reported every objective and constrained metric
as a finite number; it is feasible when every constraint holds, and on the front when it is
feasible and no other feasible trial is at least as good in every objective and better in one
(``raybo.pareto.front_mask``, the same rule as ``raybo.pareto_front``). numpy here; BoTorch and
torch load on first use.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from raybo.app.results import TuningRun, short_names, status_label
from raybo.outcomes import Outcomes, outcomes_from

REF_SCALE = 0.1  # inferred reference point: nadir + 0.1 * range, GPSearch's own rule


def outcomes_of(run: TuningRun) -> Outcomes:
    """The run's objectives and constraints as ``raybo.outcomes.Outcomes``."""
    metrics, modes = run.metrics or [run.metric], run.modes or [run.mode]
    o = outcomes_from(metrics, modes, run.constraints, run.reference_point)
    return o if o is not None else Outcomes((run.metric,), (run.mode,))


def values_of(run: TuningRun, o: Outcomes | None = None) -> list[dict[str, float] | None]:
    """Per row: ``{name: value}`` for every name of ``o.names``, or None (the trial did not
    finish, or lacks a metric)."""
    o = o or outcomes_of(run)
    return [o.read(r["metrics"], warn=False) if r["status"] == "TERMINATED" else None
            for r in run.rows]


def feasible_mask(run: TuningRun) -> np.ndarray:
    """``(n_rows,)``: finished with every metric and every constraint holding."""
    o = outcomes_of(run)
    values = values_of(run, o)
    keep = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        if v is not None:
            keep[i] = bool((o.slacks(np.array([[v[n] for n in o.names]])) <= 0).all())
    return keep


def front_mask_of(run: TuningRun) -> np.ndarray:
    """``(n_rows,)``: which rows are on the feasible Pareto front."""
    from raybo.pareto import front_mask

    return front_mask(outcomes_of(run), values_of(run))


def front_rows(run: TuningRun) -> list[dict[str, Any]]:
    """The rows on the front, best first on the first objective."""
    rows = [r for r, k in zip(run.rows, front_mask_of(run)) if k]
    return sorted(rows, key=lambda r: r["metrics"][run.metric], reverse=run.mode == "max")


def reference_point(run: TuningRun) -> np.ndarray | None:
    """``(k,)`` reference point in values to minimize: ``run.reference_point`` where given,
    else the final front's nadir plus ``REF_SCALE`` times its range (GPSearch's rule, applied
    to the whole run so every trial's hypervolume is measured from one point). None without a
    feasible trial."""
    o = outcomes_of(run)
    rows = front_rows(run)
    if not rows:
        return None
    Y = o.minimized(np.array([[r["metrics"][m] for m in o.metrics] for r in rows]))
    worst, best = Y.max(0), Y.min(0)
    ref = worst + REF_SCALE * np.maximum(worst - best, 1e-6 * np.maximum(np.abs(worst), 1.0))
    for j, (name, mode) in enumerate(zip(o.metrics, o.modes)):
        if name in (o.reference_point or {}):
            ref[j] = -o.reference_point[name] if mode == "max" else o.reference_point[name]
    return ref


def hypervolume_so_far(run: TuningRun) -> list[float]:
    """Hypervolume of the feasible trials among ``1..i`` for each ``i`` (BoTorch's
    ``Hypervolume`` over the objectives, minimized, from ``reference_point``; in the product of
    the objectives' units), 0 until a feasible trial beats the reference point."""
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    o = outcomes_of(run)
    ref = reference_point(run)
    if ref is None:
        return [0.0] * len(run.rows)
    hv = Hypervolume(ref_point=-torch.as_tensor(ref, dtype=torch.float64))  # it maximizes
    feasible, values = feasible_mask(run), values_of(run, o)
    points: list[list[float]] = []
    out: list[float] = []
    for ok, v in zip(feasible, values):
        if ok:
            points.append(o.minimized(np.array([[v[m] for m in o.metrics]]))[0].tolist())
        Y = np.array(points).reshape(-1, len(o.metrics))
        Y = Y[(Y < ref).all(1)]
        out.append(float(hv.compute(-torch.as_tensor(Y, dtype=torch.float64))) if len(Y)
                   else 0.0)
    return out


def best_on_front(run: TuningRun) -> dict[str, Any] | None:
    """best_config.json's trial: the front member best on the first ``--metric``."""
    rows = front_rows(run)
    return rows[0] if rows else None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def write_pareto_csv(run: TuningRun, path: Path) -> Path:
    """pareto.csv: one row per front trial (best first on the first objective): trial, Ray id,
    origin, every objective and constrained metric, then ``config/...`` columns."""
    o = outcomes_of(run)
    rows = front_rows(run)
    flat = [_flatten(r["config"]) for r in rows]
    keys = sorted({k for f in flat for k in f})
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trial", "trial_id", "status", "origin", *o.names,
                         *(f"config/{k}" for k in keys)])
        for r, f in zip(rows, flat):
            writer.writerow([r["trial"], r["trial_id"], status_label(r), r.get("origin", "")]
                            + [r["metrics"][n] for n in o.names] + [f.get(k, "") for k in keys])
    return path


def pareto_table(run: TuningRun, tuned: list[str] | None = None) -> str:
    """The front as a plain-text table (best first on the first objective)."""
    o = outcomes_of(run)
    rows = front_rows(run)
    if not rows:
        return (f"no feasible trial: none reported {', '.join(o.names)}"
                + (f" with {' and '.join(map(str, o.constraints))}" if o.constraints else ""))
    tuned = tuned or run.tuned
    header = ["trial", "origin", *o.names, *short_names(tuned)]
    lines = [header]
    for r in rows:
        f = _flatten(r["config"])
        lines.append([str(r["trial"]), r.get("origin", "")]
                     + [_fmt(r["metrics"][n]) for n in o.names] + [_fmt(f.get(k)) for k in tuned])
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    return "\n".join("  ".join(s.rjust(w) for s, w in zip(line, widths)) for line in lines)


def front_line(run: TuningRun) -> str:
    """One line above the table: what the front is over."""
    o = outcomes_of(run)
    goals = ", ".join(f"{m} ({mode})" for m, mode in zip(o.metrics, o.modes))
    limits = f" subject to {', '.join(map(str, o.constraints))}" if o.constraints else ""
    n_feasible = int(feasible_mask(run).sum())
    return (f"Pareto front of {goals}{limits}: {len(front_rows(run))} of {n_feasible} feasible "
            f"trials ({len(run.rows)} in all)")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "nan"
    return "" if v is None else str(v)
