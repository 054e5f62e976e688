"""Reporting for a tuning run: the result rows, a best-trials table, trials.csv/json and plots.

``TuningRun`` is what ``raybo.cli.run_tuning`` returns; everything here is pure presentation of
it (no Ray, no torch), so benchmarks and notebooks can reuse the same table and plots.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE_ROWS = 5


@dataclass
class TuningRun:
    """What ``run_tuning`` returns: one row per trial plus the Tune objects behind them.

    ``rows``: dicts with ``trial`` (0-based creation order), ``trial_id``, ``status``
    (TERMINATED | ERROR | DIVERGED), ``value`` (last reported metric, NaN if none), ``epochs``,
    ``config`` (nested) and ``error``.
    """

    arch: str
    metric: str
    mode: str
    searcher_name: str
    rows: list[dict[str, Any]]
    result_grid: Any = None
    searcher: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def best_so_far(self) -> list[float]:
        """Best finite value among trials ``0..i`` for each ``i`` (NaN until one succeeds)."""
        sign = 1.0 if self.mode == "min" else -1.0
        best, out = math.inf, []
        for row in self.rows:
            if math.isfinite(row["value"]):
                best = min(best, sign * row["value"])
            out.append(sign * best if math.isfinite(best) else math.nan)
        return out

    def ranked(self) -> list[dict[str, Any]]:
        """Successful rows, best first."""
        ok = [r for r in self.rows if math.isfinite(r["value"])]
        return sorted(ok, key=lambda r: r["value"], reverse=self.mode == "max")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + "/") if isinstance(v, dict) else {key: v})
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(run: TuningRun, k: int = TABLE_ROWS) -> str:
    """Plain-text table of the ``k`` best trials and their tuned hyperparameters."""
    best = run.ranked()[:k]
    if not best:
        return "no trial reported a finite value"
    tuned = [key for key in _flatten(best[0]["config"]) if key.split("/")[0] in ("optim", "model")]
    header = ["trial", run.metric, "epochs", *(key.split("/")[-1] for key in tuned)]
    lines = [header]
    for row in best:
        flat = _flatten(row["config"])
        lines.append([str(row["trial"]), _fmt(row["value"]), str(row["epochs"])])
        lines[-1] += [_fmt(flat.get(key)) for key in tuned]
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    rendered = ("  ".join(s.rjust(w) for s, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(rendered)


def write_outputs(run: TuningRun, out: str | Path) -> dict[str, Path]:
    """Write trials.csv, trials.json, trajectory.png (and diagnostics.png with GP search)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "trials.csv", "json": out / "trials.json"}
    flat = [_flatten(r["config"]) for r in run.rows]
    keys = sorted({k for f in flat for k in f})
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trial", "trial_id", "status", run.metric, "epochs", "error", *keys])
        for r, f in zip(run.rows, flat, strict=True):
            fixed = [r["trial"], r["trial_id"], r["status"], r["value"], r["epochs"], r["error"]]
            writer.writerow(fixed + [f.get(k, "") for k in keys])
    doc = {
        "arch": run.arch,
        "metric": run.metric,
        "mode": run.mode,
        "searcher": run.searcher_name,
        "trials": [{**r, "value": _finite_or_none(r["value"])} for r in run.rows],
        "best_so_far": [_finite_or_none(v) for v in run.best_so_far()],
        "diagnostics": run.diagnostics,
    }
    paths["json"].write_text(json.dumps(doc, indent=2, default=str))
    paths["trajectory"] = _plot_trajectory(run, out / "trajectory.png")
    if run.diagnostics.get("n", 0) > 0:
        paths["diagnostics"] = _plot_diagnostics(run, out / "diagnostics.png")
    return paths


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None  # JSON has no NaN


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_trajectory(run: TuningRun, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    idx = [r["trial"] + 1 for r in run.rows]
    ax.plot(idx, [r["value"] for r in run.rows], "o", alpha=0.5, label="trial")
    ax.step(idx, run.best_so_far(), where="post", label="best so far")
    ax.set(xlabel="trial (creation order)", ylabel=run.metric)
    ax.set_title(f"{run.arch}: {run.searcher_name} search")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_diagnostics(run: TuningRun, path: Path) -> Path:
    d = run.diagnostics
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    err = [1.96 * s for s in d["predicted_std"]]
    ax.errorbar(d["observed"], d["predicted"], yerr=err, fmt="o", capsize=3)
    lo = min(min(d["observed"]), min(d["predicted"]))
    hi = max(max(d["observed"]), max(d["predicted"]))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xlabel=f"observed {run.metric}", ylabel="leave-one-out prediction (95% band)")
    ax.set_title(f"LOO RMSE {d['loo_rmse']:.3g}, calibration {d['loo_calibration']:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
