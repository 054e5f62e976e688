"""The two PNGs of a tuning run (matplotlib, imported only here).

``trajectory.png``: every trial's value in creation order, marked by where its config came from
(initial design, GP, random search), hollow with its epoch when a scheduler stopped it early,
failures as red crosses along the top, and the best so far; with ``--compare-random`` both
searchers' curves. ``diagnostics.png``: the GP's leave-one-out predictions with the same 95%
bands the printed coverage counts, all in metric units, and a one-line reading. Both use a log
scale once positive values span more than a decade, and keep their legend beside the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raybo.app.results import TuningRun, band_coverage, bands, loo_reading

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
    fig.savefig(path, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def trajectory_figure(runs: Sequence[TuningRun]) -> Any:
    """The trajectory as a matplotlib Figure (``runs``: one run, or GP then random)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    main = runs[0]
    several = len(main.metrics) > 1
    if several:  # the first objective as usual, and the hypervolume below it
        fig, (ax, hv_ax) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True,
                                        height_ratios=(3, 2))
        _hypervolume_panel(hv_ax, main)
    else:
        fig, ax = plt.subplots(figsize=(9, 4.5))
    seen: set[str] = set()
    failed_x: list[int] = []
    stopped = False
    for run in runs:
        for origin, (marker, color, label) in STYLE.items():
            rows = [r for r in run.rows
                    if r.get("origin") == origin and math.isfinite(r["value"])]
            done = [(r["trial"], r["value"]) for r in rows if r["status"] != "STOPPED"]
            if done:
                ax.plot(*zip(*done), marker, color=color, alpha=0.7, ms=6,
                        label=None if origin in seen else label)
                seen.add(origin)
            for r in rows:
                if r["status"] == "STOPPED":  # hollow, with the epoch its value is from
                    stopped = True
                    ax.plot(r["trial"], r["value"], marker, color=color, mfc="none", ms=6,
                            label=None if origin in seen else label)
                    seen.add(origin)
                    ax.annotate(f"ep {r.get('stopped_at')}", (r["trial"], r["value"]),
                                xytext=(4, -3), textcoords="offset points", fontsize=7,
                                color=color)
        failed_x += [r["trial"] for r in run.rows if not math.isfinite(r["value"])]
        if run.rows:
            ax.step([r["trial"] for r in run.rows], run.best_so_far(), where="post", lw=2,
                    color=LINE_COLOR.get(run.searcher_name, "k"),
                    label=f"best so far ({run.searcher_name})")
    if failed_x:  # no value to draw: a cross on the top edge, at the trial's number
        ax.plot(failed_x, [1.0] * len(failed_x), "x", color="tab:red", ms=8, clip_on=False,
                transform=ax.get_xaxis_transform(), label="failed / diverged")
    if stopped:
        ax.plot([], [], "o", color="0.3", mfc="none",
                label="hollow: stopped early (ASHA),\nvalue at epoch shown")
    values = [r["value"] for run in runs for r in run.rows]
    if wants_log(values):
        ax.set_yscale("log")
    better = "lower" if main.mode == "min" else "higher"
    ax.set(xlabel="" if several else "trial (creation order)",
           ylabel=f"{main.metric} ({better} is better"
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
        _legend_beside(ax)
    return fig


def _hypervolume_panel(ax: Any, run: TuningRun) -> None:
    """Hypervolume of the feasible trials so far (``front.hypervolume_so_far``)."""
    from raybo.app.front import hypervolume_so_far, outcomes_of, reference_point

    o = outcomes_of(run)
    hv = hypervolume_so_far(run)
    ax.step([r["trial"] for r in run.rows], hv, where="post", lw=2, color="tab:green",
            label="hypervolume so far")
    ref = reference_point(run)
    where = ("" if ref is None else ", ".join(
        f"{m} {v:.4g}" for m, v in zip(o.metrics, o.minimized(ref[None])[0])))
    ax.set(xlabel="trial (creation order)", ylabel="hypervolume (higher is better)")
    ax.set_title(f"hypervolume of the feasible front over {', '.join(o.metrics)}, from the "
                 f"reference point ({where})", fontsize=9)
    ax.grid(True, alpha=0.3)
    _legend_beside(ax)


def _legend_beside(ax: Any) -> None:
    """The legend right of the axes, where it covers no data point."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def diagnostics_figure(run: TuningRun) -> Any:
    """Observed vs leave-one-out prediction with each trial's 95% band, all in metric units;
    the title's count is computed from these same bands (``results.band_coverage``). Axes: log
    once the positive values span more than a decade, and framed on the observations and
    predictions, so one band reaching below zero or an outlier's band does not squash the rest
    (band ends beyond the frame are cut at its edge)."""
    d = run.diagnostics
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    obs, pred = d["observed"], d["predicted"]
    lower, upper = bands(d)
    log = wants_log(obs + pred)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log", nonpositive="clip")
    for inside in (True, False):
        idx = [i for i in range(len(obs)) if (lower[i] <= obs[i] <= upper[i]) == inside]
        if not idx:
            continue
        err = [[max(pred[i] - lower[i], 0.0) for i in idx],
               [max(upper[i] - pred[i], 0.0) for i in idx]]
        ax.errorbar([obs[i] for i in idx], [pred[i] for i in idx], yerr=err, fmt="o",
                    capsize=3, color="tab:blue" if inside else "tab:red",
                    label="inside its 95% band" if inside else "outside its 95% band")
    lo_lim, hi_lim = _frame(obs + pred, log)
    ax.plot([lo_lim, hi_lim], [lo_lim, hi_lim], "k--", lw=1, label="perfect prediction")
    ax.set_xlim(lo_lim, hi_lim)
    ax.set_ylim(lo_lim, hi_lim)
    inside, n = band_coverage(d)
    ax.set(xlabel=f"observed {run.metric}" + (" (log scale)" if log else ""),
           ylabel=f"leave-one-out prediction of {run.metric} (95% band)")
    ax.set_title(f"GP leave-one-out, {run.metric} units: RMSE {d['loo_rmse']:.3g}\n"
                 f"{inside} of {n} trials inside their 95% band", fontsize=10)
    fig.text(0.01, 0.005, f"Reading: {loo_reading(d)}", fontsize=8, ha="left", va="bottom",
             wrap=True)
    _legend_beside(ax)
    return fig


FRAME_MARGIN = 0.05  # share of the span (of its log, on log axes) left around the points


def _frame(values: list[float], log: bool) -> tuple[float, float]:
    """Axis limits holding every finite value with a margin (multiplicative on log axes)."""
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    lo, hi = min(finite), max(finite)
    if log:
        pad = (hi / lo) ** FRAME_MARGIN
        return lo / pad, hi * pad
    pad = FRAME_MARGIN * (hi - lo) or FRAME_MARGIN * max(abs(hi), 1.0)
    return lo - pad, hi + pad
