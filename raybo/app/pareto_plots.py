"""pareto.png of a run with several objectives: every trial in objective space, the feasible
Pareto front highlighted and joined as a step line (the region it dominates), dominated trials
faded, infeasible ones as crosses; a pairwise grid for three or more objectives. An axis is
logarithmic once its positive values span more than a decade (n_params does).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from raybo.app.front import feasible_mask, front_mask_of, outcomes_of, values_of
from raybo.app.plots import _legend_beside, _pyplot, _save, wants_log
from raybo.app.results import TuningRun


def plot_pareto(run: TuningRun, path: Path) -> Path:
    return _save(pareto_figure(run), path)


def pareto_figure(run: TuningRun) -> Any:
    """The front as a matplotlib Figure (two objectives: one scatter; k >= 3: the k(k-1)/2
    pairs, the front being the k-dimensional one)."""
    plt = _pyplot()
    o = outcomes_of(run)
    k = len(o.metrics)
    pairs = list(itertools.combinations(range(k), 2))
    cols = min(len(pairs), 3)
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols + (1.5 if cols == 1 else 0),
                                                  4.8 * rows), squeeze=False)
    values = values_of(run, o)
    front, feasible = front_mask_of(run), feasible_mask(run)
    have = [i for i, v in enumerate(values) if v is not None]
    V = np.array([[values[i][m] for m in o.metrics] for i in have]).reshape(-1, k)
    where = {"front": [j for j, i in enumerate(have) if front[i]],
             "dominated": [j for j, i in enumerate(have) if feasible[i] and not front[i]],
             "infeasible": [j for j, i in enumerate(have) if not feasible[i]]}
    numbers = [run.rows[i]["trial"] for i in have]
    for ax, (a, b) in zip(axes.flat, pairs):
        _pair(ax, V, where, numbers, o, a, b, label_points=k == 2)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    failed = len(run.rows) - len(have)
    limits = f"; {', '.join(map(str, o.constraints))}" if o.constraints else ""
    fig.suptitle(f"{run.arch}: Pareto front of {len(where['front'])} of {len(run.rows)} trials "
                 f"({run.searcher_name} search{limits}"
                 + (f"; {failed} without results, not shown" if failed else "") + ")",
                 fontsize=11)
    _legend_beside(axes.flat[min(cols, len(pairs)) - 1])
    return fig


def _pair(ax: Any, V: np.ndarray, where: dict[str, list[int]], numbers: list[int],
          o: Any, a: int, b: int, label_points: bool) -> None:
    """One panel: objective ``a`` on x, ``b`` on y."""
    dom, bad, fr = where["dominated"], where["infeasible"], where["front"]
    if dom:
        ax.plot(V[dom, a], V[dom, b], "o", color="0.6", alpha=0.45, ms=6,
                label="dominated trial")
    if bad:
        ax.plot(V[bad, a], V[bad, b], "x", color="tab:red", ms=7, mew=1.5,
                label="infeasible (breaks a constraint)")
    if fr:
        P = V[fr]
        ax.plot(P[:, a], P[:, b], "o", color="tab:blue", ms=8, mec="k", mew=0.6, zorder=3,
                label="Pareto front" if len(o.metrics) == 2 else "on the Pareto front")
        if len(o.metrics) == 2:
            _step(ax, P[:, [a, b]], o.modes[a], o.modes[b])
        if label_points:
            for j in fr:
                ax.annotate(f"#{numbers[j]}", (V[j, a], V[j, b]), xytext=(4, 4),
                            textcoords="offset points", fontsize=7, color="tab:blue")
    for axis, j in (("x", a), ("y", b)):
        log = wants_log(list(V[:, j]))
        if log:
            _log_axis(getattr(ax, f"{axis}axis"), getattr(ax, f"set_{axis}scale"))
        better = "lower" if o.modes[j] == "min" else "higher"
        getattr(ax, f"set_{axis}label")(f"{o.metrics[j]} ({better} is better"
                                        f"{', log scale' if log else ''})")
    ax.grid(True, alpha=0.3)


def _log_axis(axis: Any, set_scale: Any) -> None:
    """A log axis labelled in plain numbers at 1, 2 and 5 times each power of ten (matplotlib's
    default 2x10^-1, 3x10^-1... labels overlap on a short span)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    set_scale("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _step(ax: Any, P: np.ndarray, mode_x: str, mode_y: str) -> None:
    """The 2-D front as a staircase: sorted best-first on x, each point joined to the next by
    a horizontal then a vertical segment, so the shape bounds the dominated region."""
    order = np.argsort(P[:, 0] if mode_x == "min" else -P[:, 0])
    Q = P[order]
    xs, ys = [Q[0, 0]], [Q[0, 1]]
    for x, y in Q[1:]:
        xs += [x, x]
        ys += [ys[-1], y]
    ax.plot(xs, ys, "-", color="tab:blue", lw=1.5, alpha=0.8, zorder=2)
