"""The conditional-space comparison: tables against its targets and one trajectory panel per
problem, from the runs of ``benchmarks.run``.

    python -m benchmarks.conditional_report --out benchmarks/results/conditional
    python -m benchmarks.conditional_report --out ... --copy gp=gp-fixed   # keep a baseline

A *series* is (problem, searcher) where runs on ``<problem>_flat`` count as the series
``<searcher> (flat)`` of ``<problem>``: the flat space has the same objective, optimum and
``unit`` map, so its regrets are directly comparable.  Writes ``targets.md`` and
``trajectory_by_problem.png`` next to ``summary.md``.

``--copy gp=gp-fixed`` appends copies of the tree problems' ``gp`` runs as searcher ``gp-fixed``
(the searcher field rewritten) so that a later GP can be compared with today's, which holds inactive
parameters at a fixed value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.report import REGRET_FLOOR, best_curve, evals_to_target, load_runs, regret_at
from benchmarks.store import RunStore, load_records

BASES = ("tree_a", "tree_b", "cash")
FLAT = " (flat)"
SYNTHETIC = ("tree_a", "tree_b")  # where the ">= 100x below random" target applies
RANDOM_RATIO_TARGET = 100.0
COST_RATIO_TARGET = 1.5
W = 4


def series(out: Path) -> dict[tuple[str, str], list[dict]]:
    """(base problem, searcher label) -> runs at W, label suffixed ``(flat)`` for flat runs."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for (problem, searcher, w), runs in load_runs(out).items():
        base = problem.removesuffix("_flat")
        if w != W or base not in BASES:
            continue
        label = searcher + (FLAT if problem.endswith("_flat") else "")
        groups[(base, label)] = runs
    return groups


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "-" if np.isnan(x) else "inf"
    return f"{x:.3g}" if x != 0 else "0"


def final(runs: list[dict]) -> np.ndarray:
    return regret_at(runs, runs[0]["budget"])


def suggest_cpu(runs: list[dict], gp_phase_only: bool = False) -> np.ndarray:
    """CPU s of every suggest (of suggests made with >= 20 observations: the GP's phase)."""
    return np.array(
        [
            e["suggest_cpu_s"]
            for r in runs
            for e in r["evaluations"]
            if not gp_phase_only or e["n_obs_at_suggest"] >= 20
        ]
    )


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if v.size else float("nan")


def _wins(a: list[dict], b: list[dict]) -> str:
    """Seeds where ``a`` ends strictly below ``b`` / strictly above, paired by seed."""
    fb = {r["seed"]: v for r, v in zip(b, final(b))}
    pairs = [(v, fb[r["seed"]]) for r, v in zip(a, final(a)) if r["seed"] in fb]
    better = sum(x < y for x, y in pairs)
    worse = sum(x > y for x, y in pairs)
    return f"{better}/{worse}/{len(pairs)}"


def problem_table(groups: dict, base: str) -> list[str]:
    rows = sorted((label, runs) for (b, label), runs in groups.items() if b == base)
    if not rows:
        return []
    budget = rows[0][1][0]["budget"]
    target = rows[0][1][0]["target"]
    lines = [
        f"### {base} (budget {budget}, W = {W}, regret target {_fmt(target)})",
        "",
        "| searcher | n | regret @ budget/2 | regret @ budget, median [IQR] | reached target |"
        " suggest CPU s, mean (GP phase) | run CPU s, median |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in rows:
        half = np.median(regret_at(runs, budget // 2))
        q1, med, q3 = np.percentile(final(runs), [25, 50, 75])
        hits = sum(evals_to_target(r) is not None for r in runs)
        cpu_all, cpu_gp = suggest_cpu(runs), suggest_cpu(runs, True)
        run_cpu = np.median([r["cpu_s"] for r in runs])
        lines.append(
            f"| {label} | {len(runs)} | {_fmt(half)} | {_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}] "
            f"| {hits}/{len(runs)} | {_fmt(_mean(cpu_all))} ({_fmt(_mean(cpu_gp))}) "
            f"| {run_cpu:.3g} |"
        )
    return lines + [""]


def target_table(groups: dict, gp: str) -> list[str]:
    """The targets for searcher ``gp`` on the tree spaces (benchmarks/README.md)."""
    med = {key: float(np.median(final(runs))) for key, runs in groups.items()}
    lines = [
        f"### `{gp}` against the issue's targets (median regret at budget, W = {W}; "
        "wins = seeds better/worse/paired)",
        "",
        "| problem | "
        + gp
        + " | hyperopt | wins vs hyperopt | random | random / "
        + gp
        + " | gp (flat) | wins vs gp (flat) | suggest CPU "
        + gp
        + " / gp (flat) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    n_hyper = n_flat_le = n_flat_lt = n_random = 0
    n_bases = 0
    cost_ok = True
    for base in BASES:
        if (base, gp) not in groups:
            continue
        n_bases += 1
        g = med[(base, gp)]
        hyp = med.get((base, "hyperopt"), np.nan)
        rnd = med.get((base, "random"), np.nan)
        flat = med.get((base, "gp" + FLAT), np.nan)
        ratio = rnd / g if g > 0 else np.inf
        n_hyper += g < hyp
        n_flat_le += g <= flat
        n_flat_lt += g < flat
        n_random += base in SYNTHETIC and ratio >= RANDOM_RATIO_TARGET
        cost = np.nan
        if (base, "gp" + FLAT) in groups:
            cost = _mean(suggest_cpu(groups[(base, gp)], True)) / _mean(
                suggest_cpu(groups[(base, "gp" + FLAT)], True)
            )
            cost_ok &= not cost > COST_RATIO_TARGET  # NaN (no GP phase yet) does not count
        wins_h = _wins(groups[(base, gp)], groups[(base, "hyperopt")]) if np.isfinite(hyp) else "-"
        wins_f = (
            _wins(groups[(base, gp)], groups[(base, "gp" + FLAT)]) if np.isfinite(flat) else "-"
        )
        lines.append(
            f"| {base} | {_fmt(g)} | {_fmt(hyp)} | {wins_h} | {_fmt(rnd)} | {_fmt(ratio)} "
            f"| {_fmt(flat)} | {wins_f} | {_fmt(cost)} |"
        )
    n_syn = sum((b, gp) in groups for b in SYNTHETIC)
    lines += [
        "",
        f"- better than HyperOpt on >= 2 of 3: {n_hyper} of {n_bases}"
        f" ({'met' if n_hyper >= 2 else 'missed'})",
        f"- >= {RANDOM_RATIO_TARGET:.0f}x below random on the synthetic trees: {n_random} of "
        f"{n_syn} ({'met' if n_random == n_syn == len(SYNTHETIC) else 'missed'})",
        f"- at least as good as the flat GP on all three: {n_flat_le} of {n_bases}; better on >= 2:"
        f" {n_flat_lt} ({'met' if n_flat_le == n_bases == 3 and n_flat_lt >= 2 else 'missed'})",
        f"- suggest CPU within {COST_RATIO_TARGET}x of the flat space (mean over suggests with"
        f" >= 20 observations): {'met' if cost_ok else 'missed'} (timings from a shared machine)",
        "",
    ]
    return lines


def optimum_check(groups: dict) -> list[str]:
    """The lowest value any run found, against f* (a value below f* would mean f* is wrong)."""
    lines = ["### Lowest value found by any run", "", "| problem | f* | lowest found | by |"]
    lines.append("|---|---|---|---|")
    for base in BASES:
        best, who, f_star = np.inf, "-", np.nan
        for (b, label), runs in groups.items():
            if b != base:
                continue
            for r in runs:
                f_star = r["f_star"]
                v = min((e["value"] for e in r["evaluations"]), default=np.inf)
                if v < best:
                    best, who = v, f"{label} seed {r['seed']}"
        if np.isfinite(best):
            lines.append(f"| {base} | {f_star:.6g} | {best:.6g} | {who} |")
    return lines + [""]


def markdown(groups: dict) -> str:
    lines = [
        "# Conditional search spaces: tree vs flat vs peers",
        "",
        "Simple regret f - f* of the best evaluation so far; median [25th, 75th percentile] over"
        " seeds. `(flat)`: the same problem written flat (every parameter always present,"
        " branches as plain categoricals). CPU seconds come from a machine shared with other"
        " jobs.",
        "",
    ]
    for gp in ("gp", "gp-fixed"):
        if any(label == gp for _, label in groups):
            lines += target_table(groups, gp)
    for base in BASES:
        lines += problem_table(groups, base)
    lines += optimum_check(groups)
    return "\n".join(lines)


def plot(groups: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bases = [b for b in BASES if any(k[0] == b for k in groups)]
    labels = sorted({label for _, label in groups})
    cmap = plt.cm.tab10
    colors = {label: cmap(i % 10) for i, label in enumerate(labels)}
    fig, axes = plt.subplots(1, len(bases), figsize=(5 * len(bases), 4), squeeze=False)
    for ax, base in zip(axes[0], bases):
        for (b, label), runs in sorted(groups.items()):
            if b != base:
                continue
            curves = np.maximum(np.stack([best_curve(r) for r in runs]), REGRET_FLOOR)
            q1, med, q3 = np.percentile(curves, [25, 50, 75], axis=0)
            x = np.arange(1, curves.shape[1] + 1)
            style = "--" if label.endswith(FLAT) else "-"
            ax.plot(x, med, style, color=colors[label], label=label)
            ax.fill_between(x, q1, q3, color=colors[label], alpha=0.12)
        ax.set_yscale("log")
        ax.set_title(f"{base} (W={W})")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best regret (median, IQR)")
    handles = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=6, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def copy_searcher(out: Path, src: str, dst: str) -> int:
    """Append copies of the tree problems' runs of ``src`` as searcher ``dst``; returns the
    count."""
    store, n = RunStore(out), 0
    for run in load_records(out):
        if run["problem"] not in BASES or run["searcher"] != src:
            continue
        store.append({**run, "searcher": dst})
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conditional_report")
    p.add_argument("--out", default="benchmarks/results/conditional")
    p.add_argument("--copy", help="SRC=DST: copy the tree problems' runs of searcher SRC")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.copy:
        src, _, dst = args.copy.partition("=")
        if not src or not dst:
            p.error(f"--copy takes SRC=DST, got {args.copy!r}")
        print(f"copied {copy_searcher(out, src, dst)} runs of {src} to {dst}")
    groups = series(out)
    if not groups:
        raise SystemExit(f"no runs of {', '.join(BASES)} at W={W} in {out}")
    (out / "targets.md").write_text(markdown(groups))
    plot(groups, out / "trajectory_by_problem.png")
    print(f"wrote {out / 'targets.md'} and {out / 'trajectory_by_problem.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
