"""``importance.png`` and ``slices.png``: what mattered in a GP run (``raybo.sensitivity``).

``importance.png``: one bar per hyperparameter, its share of the GP mean's variance (Sobol
total index, normalized to sum to 1), with the first-order index (alone, no interactions)
marked inside it. ``slices.png``: for the most important hyperparameters, the GP mean and 95%
band along the parameter with the others at the best trial's values, every successful trial's
value overlaid, the best trial starred; log x for log domains, log y as in ``trajectory.png``.
Both read plain data (``TuningRun.importance`` rows, ``TuningRun.slices``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from raybo.app.plots import _pyplot, _save, wants_log
from raybo.app.results import TuningRun


def plot_importance(run: TuningRun, path: Path) -> Path:
    return _save(importance_figure(run), path)


def plot_slices(run: TuningRun, path: Path) -> Path:
    return _save(slices_figure(run), path)


def importance_figure(run: TuningRun) -> Any:
    plt = _pyplot()
    rows = run.importance
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.6))
    names = [r["parameter"] for r in rows][::-1]
    share = [r["importance"] for r in rows][::-1]
    total = sum(max(r["total"], 0.0) for r in rows) or 1.0
    # the same scale as the bars; an estimate above its total (sampling error) is cut there
    first = [min(max(r["first_order"], 0.0) / total, r["importance"]) for r in rows][::-1]
    ax.barh(names, share, color="tab:blue", alpha=0.45, label="total (with interactions)")
    ax.barh(names, first, height=0.35, color="tab:blue", label="first order (alone)")
    for i, v in enumerate(share):
        ax.text(v, i, f" {100 * v:.0f}%" if v >= 0.1 else f" {100 * v:.1f}%", va="center",
                fontsize=8)
    ax.set_xlim(0, max(share + [0.01]) * 1.18)
    ax.set(xlabel=f"share of the variance of the GP's {run.metric} (Sobol indices)")
    ax.set_title(f"{run.arch}: what mattered for {run.metric} "
                 f"({run.importance_trials} successful trials)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def slices_figure(run: TuningRun) -> Any:
    plt = _pyplot()
    k = len(run.slices)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.8), squeeze=False, sharey=True)
    share = {r["parameter"]: r["importance"] for r in run.importance}
    ys = [v for s in run.slices for v in s["mean"] + [o[1] for o in s["observed"]]]
    log_y = wants_log(ys)
    for ax, s in zip(axes[0], run.slices):
        _one_slice(ax, s, log_y)
        ax.set_title(f"{s['parameter']} ({100 * share.get(s['parameter'], 0):.0f}% of variance)",
                     fontsize=9)
    axes[0][0].set_ylabel(f"{run.metric} ({'lower' if run.mode == 'min' else 'higher'} is "
                          f"better{', log scale' if log_y else ''})")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{run.arch}: GP mean and 95% band along each parameter, the others at the "
                 "best trial's values", fontsize=10)
    return fig


def _one_slice(ax: Any, s: dict[str, Any], log_y: bool) -> None:
    values, mean, lo, hi = s["values"], s["mean"], s["lower"], s["upper"]
    obs = [o for o in s["observed"] if math.isfinite(o[1])]
    if s["categorical"] or isinstance(values[0], str):
        pos = {v: i for i, v in enumerate(values)}
        ax.errorbar(range(len(values)), mean, yerr=[[m - a for m, a in zip(mean, lo)],
                    [b - m for m, b in zip(mean, hi)]], fmt="o", capsize=4, color="tab:blue",
                    label="GP mean, 95% band")
        ax.plot([pos.get(o[0], math.nan) for o in obs], [o[1] for o in obs], ".", color="0.4",
                alpha=0.6, label="trials")
        if s["best"] in pos:
            ax.plot([pos[s["best"]]], [_at(values, mean, s["best"])], "*", ms=12,
                    color="tab:red", label="best trial's value")
        ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=30, fontsize=8)
    else:
        ax.plot(values, mean, color="tab:blue", label="GP mean")
        ax.fill_between(values, lo, hi, color="tab:blue", alpha=0.2, label="95% band")
        ax.plot([o[0] for o in obs], [o[1] for o in obs], ".", color="0.4", alpha=0.6,
                label="trials")
        if s["best"] is not None:
            ax.axvline(s["best"], color="tab:red", lw=1, ls="--", label="best trial's value")
        if s["log"]:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short spans
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(s["parameter"] + (" (log scale)" if s["log"] else ""))


def _at(values: list[Any], mean: list[float], v: Any) -> float:
    return mean[values.index(v)]
