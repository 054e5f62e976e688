"""Tables (summary.md) and plots from the runs of one results folder (``runs.jsonl.gz``).

A *group* is (problem, searcher, W); statistics are over the group's seeds.  Regret is
simple regret f - f*, floored at ``REGRET_FLOOR`` only for log-scale plots.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.store import load_records

REGRET_FLOOR = 1e-8  # log-plot floor; tables show the unfloored values
TIME_POINTS = (20, 60, 100)  # observation counts for the suggest-time table
TIME_WINDOW = 5  # suggests with point - window <= n_obs <= point count towards a point;
# one-sided because a run's last suggests see budget - (W - 1) observations
DIVERSITY_W = 16

Group = tuple[str, str, int]


def load_runs(out: Path) -> dict[Group, list[dict]]:
    """All runs of ``out`` grouped by (problem, searcher, W), sorted by seed."""
    groups: dict[Group, list[dict]] = defaultdict(list)
    for run in load_records(out):
        groups[(run["problem"], run["searcher"], run["workers"])].append(run)
    for runs in groups.values():
        runs.sort(key=lambda r: r["seed"])
    return dict(sorted(groups.items()))


def best_curve(run: dict) -> np.ndarray:
    """Best-so-far regret after each evaluation, padded with its last value to the budget."""
    curve = [e["best_regret"] for e in run["evaluations"]] or [np.inf]
    curve += [curve[-1]] * (run["budget"] - len(curve))
    return np.asarray(curve, dtype=np.float64)


def regret_at(runs: list[dict], n: int) -> np.ndarray:
    return np.array([best_curve(r)[min(n, r["budget"]) - 1] for r in runs])


def _fmt(x: float) -> str:
    if np.isnan(x):
        return "-"
    if not np.isfinite(x):
        return "inf"
    return f"{x:.3g}" if x != 0 else "0"


def _med_iqr(v: np.ndarray) -> str:
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]"


def evals_to_target(run: dict) -> int | None:
    hits = np.nonzero(best_curve(run) <= run["target"])[0]
    return int(hits[0]) + 1 if hits.size else None


def suggest_cpu(runs: list[dict], point: int, pending: int | None = None) -> np.ndarray:
    """CPU seconds of suggests made with about ``point`` observations (and ``pending``)."""
    out = []
    for run in runs:
        for e in run["evaluations"]:
            if not point - TIME_WINDOW <= e["n_obs_at_suggest"] <= point:
                continue
            if pending is not None and e["n_pending_at_suggest"] != pending:
                continue
            out.append(e["suggest_cpu_s"])
    return np.asarray(out)


def diversity(runs: list[dict]) -> np.ndarray:
    """Min distance of each new point to the points pending then, once >= W/2 are pending."""
    return np.array(
        [
            e["min_dist_pending"]
            for r in runs
            for e in r["evaluations"]
            if e["min_dist_pending"] is not None and e["n_pending_at_suggest"] >= r["workers"] // 2
        ]
    )


def summary_markdown(groups: dict[Group, list[dict]]) -> str:
    lines = ["# Benchmark summary", ""]
    lines += [
        "Simple regret f - f* of the best evaluation so far; median [25th, 75th percentile]",
        "over seeds. `n` = seeds. Budget: 60 evaluations for d <= 6, 100 otherwise.",
        "",
        "## Regret at half budget and at budget",
        "",
        "| problem | searcher | W | n | regret @ budget/2 | regret @ budget |",
        "|---|---|---|---|---|---|",
    ]
    for (problem, searcher, w), runs in groups.items():
        budget = runs[0]["budget"]
        lines.append(
            f"| {problem} | {searcher} | {w} | {len(runs)} | "
            f"{_med_iqr(regret_at(runs, budget // 2))} | {_med_iqr(regret_at(runs, budget))} |"
        )
    lines += [
        "",
        "## Evaluations to reach the per-problem regret target",
        "",
        "Median over seeds that reached it, and how many did (target fixed in problems.py).",
        "",
        "| problem | target | searcher | W | median evals | reached |",
        "|---|---|---|---|---|---|",
    ]
    for (problem, searcher, w), runs in groups.items():
        hits = [h for h in (evals_to_target(r) for r in runs) if h is not None]
        med = f"{np.median(hits):.0f}" if hits else "-"
        lines.append(
            f"| {problem} | {_fmt(runs[0]['target'])} | {searcher} | {w} | {med} | "
            f"{len(hits)}/{len(runs)} |"
        )
    lines += [
        "",
        "## CPU seconds per suggest",
        "",
        f"Median (mean) CPU s of `suggest` calls made with n-{TIME_WINDOW} .. n observations,"
        " all pending counts. Batch searchers (HEBO) pay for a whole batch in one call,"
        " so compare their mean.",
        "",
        "| problem | searcher | W | " + " | ".join(f"n={p}" for p in TIME_POINTS) + " |",
        "|---|---|---|" + "---|" * len(TIME_POINTS),
    ]
    for (problem, searcher, w), runs in groups.items():
        cells = []
        for point in TIME_POINTS:
            t = suggest_cpu(runs, point)
            cells.append(f"{np.median(t):.3g} ({np.mean(t):.3g})" if t.size else "-")
        lines.append(f"| {problem} | {searcher} | {w} | " + " | ".join(cells) + " |")
    div = {g: diversity(r) for g, r in groups.items() if g[2] == DIVERSITY_W}
    if div:
        lines += [
            "",
            f"## Diversity of concurrently pending points (W={DIVERSITY_W})",
            "",
            "Distance (unit cube; categoricals one-hot) from each new point to the nearest"
            " point pending at that time, once >= W/2 are pending: median [25th, 75th],"
            " and the fraction below 0.01 (near-duplicates).",
            "",
            "| problem | searcher | median [IQR] | frac < 0.01 |",
            "|---|---|---|---|",
        ]
        for (problem, searcher, _), d in div.items():
            if d.size:
                lines.append(
                    f"| {problem} | {searcher} | {_med_iqr(d)} | {np.mean(d < 0.01):.2f} |"
                )
    lines += _gp_vs_peers(groups)
    truncated = [(g, r["seed"]) for g, runs in groups.items() for r in runs if r["truncated"]]
    if truncated:
        lines += ["", "## Runs the searcher ended before the budget", ""]
        lines += [f"- {p} {s} W={w} seed={seed}" for (p, s, w), seed in truncated]
    return "\n".join(lines) + "\n"


def _gp_vs_peers(groups: dict[Group, list[dict]], w: int = 4) -> list[str]:
    """Median final regret of raybo's default ``gp`` next to random and the best peer."""
    finals = {
        (p, s): float(np.median(regret_at(runs, runs[0]["budget"])))
        for (p, s, ww), runs in groups.items()
        if ww == w
    }
    problems = sorted({p for p, s in finals if s == "gp"})
    if not problems:
        return []
    lines = [
        "",
        f"## raybo `gp` against the peers (W={w}, median regret at budget)",
        "",
        "| problem | gp | random | random / gp | optuna-gp | best peer | gp <= best peer |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in problems:
        gp = finals[(p, "gp")]
        rnd = finals.get((p, "random"), np.nan)
        ogp = finals.get((p, "optuna-gp"), np.nan)
        peers = {s: v for (pp, s), v in finals.items() if pp == p and not s.startswith("gp")}
        best = min(peers, key=peers.get) if peers else None
        ratio = rnd / gp if gp > 0 else np.inf
        best_cell = f"{_fmt(peers[best])} ({best})" if best else "-"
        wins = "yes" if best and gp <= peers[best] else "no"
        lines.append(
            f"| {p} | {_fmt(gp)} | {_fmt(rnd)} | {_fmt(ratio)} | {_fmt(ogp)} | {best_cell} "
            f"| {wins} |"
        )
    return lines


def _label(searcher: str, w: int, several_w: bool) -> str:
    return f"{searcher} W={w}" if several_w else searcher


def plot_all(groups: dict[Group, list[dict]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({g[0] for g in groups})
    several_w = len({g[2] for g in groups}) > 1
    series = sorted({(g[1], g[2]) for g in groups})
    cmap = plt.cm.tab10 if len(series) <= 10 else plt.cm.tab20
    colors = {s: cmap(i % cmap.N) for i, s in enumerate(series)}
    ncols = min(3, len(problems))
    nrows = -(-len(problems) // ncols)
    written = []

    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.8 * nrows), squeeze=False)
    for ax, problem in zip(axes.flat, problems):
        for (p, s, w), runs in groups.items():
            if p != problem:
                continue
            curves = np.maximum(np.stack([best_curve(r) for r in runs]), REGRET_FLOOR)
            q1, med, q3 = np.percentile(curves, [25, 50, 75], axis=0)
            x = np.arange(1, curves.shape[1] + 1)
            ax.plot(x, med, color=colors[(s, w)], label=_label(s, w, several_w))
            ax.fill_between(x, q1, q3, color=colors[(s, w)], alpha=0.15)
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best regret")
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    legend = {}  # label -> handle, over all panels (a searcher may skip some problems)
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    written.append(out / "trajectory.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.8 * nrows), squeeze=False)
    for ax, problem in zip(axes.flat, problems):
        keys = [g for g in groups if g[0] == problem]
        data = [
            np.maximum(regret_at(groups[g], groups[g][0]["budget"]), REGRET_FLOOR) for g in keys
        ]
        ax.boxplot(data, tick_labels=[_label(g[1], g[2], several_w) for g in keys])
        ax.set_yscale("log")
        ax.set_title(f"{problem}: regret at budget")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    fig.tight_layout()
    written.append(out / "regret_box.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s, w in series:
        runs = [r for g, rs in groups.items() if (g[1], g[2]) == (s, w) for r in rs]
        n_obs = np.array([e["n_obs_at_suggest"] for r in runs for e in r["evaluations"]])
        cpu = np.array([e["suggest_cpu_s"] for r in runs for e in r["evaluations"]])
        xs = np.unique(n_obs)
        ys = [max(np.mean(cpu[n_obs == x]), 1e-5) for x in xs]
        ax.plot(xs, ys, color=colors[(s, w)], label=_label(s, w, several_w))
    ax.set_yscale("log")
    ax.set_xlabel("observations at suggest")
    ax.set_ylabel("mean CPU s per suggested point")
    ax.set_title("suggest cost (all problems pooled)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    written.append(out / "suggest_time.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def write_report(out: Path) -> None:
    """Write ``summary.md`` and the plots for all runs in ``out``."""
    out = Path(out)
    groups = load_runs(out)
    if not groups:
        raise FileNotFoundError(f"no runs in {out}")
    (out / "summary.md").write_text(summary_markdown(groups))
    plot_all(groups, out)
