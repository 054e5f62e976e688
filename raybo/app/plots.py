"""The two PNGs of a tuning run (matplotlib, imported only here).

``trajectory.png``: every trial's value in creation order, marked by where its config came from
(initial design, GP, random search), failures as red crosses along the top, and the best so far;
with ``--compare-random`` both searchers' curves. ``diagnostics.png``: the GP's leave-one-out
predictions with the same 95% bands the printed coverage counts, all in metric units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raybo.app.results import TuningRun, band_coverage, bands

LOG_SPAN = 10.0  # log y once positive values span more than a decade
# origin -> (marker, colour, legend label)
STYLE = {
    "design": ("s", "0.55", "initial design"),
    "given": ("D", "tab:purple", "given point"),
    "gp": ("o", "tab:blue", "GP suggestion"),
    "fallback": ("v", "tab:olive", "quasi-random (GP fit failed)"),
    "random": ("^", "tab:orange", "random search"),
}
LINE_COLOR = {"gp": "tab:blue", "random": "tab:orange"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt



def wants_log(values: Sequence[float]) -> bool:
    """True when the finite values are all positive and span more than ``LOG_SPAN``."""
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > LOG_SPAN


def plot_trajectory(runs: Sequence[TuningRun], path: Path) -> Path:
    return _save(trajectory_figure(runs), path)


def plot_diagnostics(run: TuningRun, path: Path) -> Path:
    return _save(diagnostics_figure(run), path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def trajectory_figure(runs: Sequence[TuningRun]) -> Any:
    """The trajectory as a matplotlib Figure (``runs``: one run, or GP then random)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    main = runs[0]
    seen: set[str] = set()
    failed_x: list[int] = []
    for run in runs:
        for origin, (marker, color, label) in STYLE.items():
            pts = [(r["trial"], r["value"]) for r in run.rows
                   if r.get("origin") == origin and math.isfinite(r["value"])]
            if pts:
                ax.plot(*zip(*pts), marker, color=color, alpha=0.7, ms=6,
                        label=None if origin in seen else label)
                seen.add(origin)
        failed_x += [r["trial"] for r in run.rows if not math.isfinite(r["value"])]
        if run.rows:
            ax.step([r["trial"] for r in run.rows], run.best_so_far(), where="post", lw=2,
                    color=LINE_COLOR.get(run.searcher_name, "k"),
                    label=f"best so far ({run.searcher_name})")
    if failed_x:  # no value to draw: a cross on the top edge, at the trial's number
        ax.plot(failed_x, [1.0] * len(failed_x), "x", color="tab:red", ms=8, clip_on=False,
                transform=ax.get_xaxis_transform(), label="failed / diverged")
    values = [r["value"] for run in runs for r in run.rows]
    if wants_log(values):
        ax.set_yscale("log")
    better = "lower" if main.mode == "min" else "higher"
    ax.set(xlabel="trial (creation order)", ylabel=f"{main.metric} ({better} is better"
           f"{', log scale' if wants_log(values) else ''})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(runs) > 1:
        title = (f"{main.arch}: GP vs random search, {main.budget} trials each, "
                 f"{main.concurrent} at a time")
    else:
        who = "GP" if main.searcher_name == "gp" else main.searcher_name
        title = f"{main.arch}: {who} search, {len(main.rows)} trials"
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def diagnostics_figure(run: TuningRun) -> Any:
    """Observed vs leave-one-out prediction with each trial's 95% band, all in metric units;
    the title's count is computed from these same bands (``results.band_coverage``)."""
    d = run.diagnostics
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    obs, pred = d["observed"], d["predicted"]
    lower, upper = bands(d)
    log = wants_log(obs + pred + lower + upper)  # only if every band end is positive too
    for inside in (True, False):
        idx = [i for i in range(len(obs)) if (lower[i] <= obs[i] <= upper[i]) == inside]
        if not idx:
            continue
        err = [[pred[i] - lower[i] for i in idx], [upper[i] - pred[i] for i in idx]]
        ax.errorbar([obs[i] for i in idx], [pred[i] for i in idx], yerr=err, fmt="o",
                    capsize=3, color="tab:blue" if inside else "tab:red",
                    label="inside its 95% band" if inside else "outside its 95% band")
    lo_lim, hi_lim = min(min(obs), min(pred)), max(max(obs), max(pred))
    ax.plot([lo_lim, hi_lim], [lo_lim, hi_lim], "k--", lw=1, label="perfect prediction")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    inside, n = band_coverage(d)
    ax.set(xlabel=f"observed {run.metric}",
           ylabel=f"leave-one-out prediction of {run.metric} (95% band)")
    ax.set_title(f"GP leave-one-out, {run.metric} units: RMSE {d['loo_rmse']:.3g}\n"
                 f"{inside} of {n} trials inside their 95% band", fontsize=10)
    ax.legend(fontsize=8)
    return fig
