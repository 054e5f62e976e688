"""Normalized scores of the real-suite runs against random search (Bayesmark-style).

    python -m benchmarks.scoring --out benchmarks/results/realsuite

Per task and budget n, with R = the expected best of n uniform-random configurations and
B = the best value any run of any searcher (or the random pool) found on that task::

    score = 100 * (R - best_found) / (R - B)

so random search scores 0 in expectation and the best result ever seen scores 100; a run
worse than random's expectation scores below 0.  R is exact for the empirical distribution
of the task's random pool (``realsuite_pool.py``): the expected minimum of n draws without
replacement from the pool.  Failed trials never count as a best.

``score.md`` has, per task x searcher, the median score over seeds [IQR] and the worst
seed; the aggregate is the mean over tasks of those medians, and the mean searcher CPU
seconds per study (the ``suggest`` calls only, not the objective).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.store import load_records

POOL_FILE = "random_pool.json"


def load_pool(out_dir: Path | str) -> dict[str, np.ndarray]:
    """Task -> random-pool values ``(N,)``; failed configurations are +inf."""
    raw = json.loads(Path(out_dir, POOL_FILE).read_text())
    return {task: np.array([math.inf if v is None else v for v in rec["values"]], dtype=float)
            for task, rec in raw.items()}


def expected_min(values: np.ndarray, n: int) -> float:
    """E[min] of ``n`` draws without replacement from ``values`` ``(N,)``, exactly.

    With the values sorted, the minimum is the i-th smallest (1-based) with probability
    C(N - i, n - 1) / C(N, n).  Infinite values (failed trials) are left out of the sum: they
    are the minimum only when all n draws fail, which for the pools here is negligible.
    """
    v = np.sort(np.asarray(values, dtype=float))
    big_n = v.size
    if not 1 <= n <= big_n:
        raise ValueError(f"n must be in [1, {big_n}], got {n}")
    i = np.arange(1, big_n - n + 2)
    log_p = (_log_comb(big_n - i, n - 1) - _log_comb(big_n, n))
    p = np.exp(log_p)
    head = v[: i.size]
    finite = np.isfinite(head)
    return float(np.sum(p[finite] * head[finite]) / np.sum(p[finite]))


def _log_comb(a, b):
    from scipy.special import gammaln

    a = np.asarray(a, dtype=float)
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def normalized_score(best_found: float, random_expected: float, best_any: float) -> float:
    """100 at the best value ever seen, 0 at random search's expected best."""
    gap = random_expected - best_any
    if not gap > 0:
        return math.nan
    return 100.0 * (random_expected - best_found) / gap


def best_of(run: dict, n: int | None = None) -> float:
    """Best non-failed value among the run's first ``n`` evaluations (inf if none)."""
    evals = run["evaluations"][:n]
    vals = [e["value"] for e in evals if not e.get("failed") and math.isfinite(e["value"])]
    return min(vals, default=math.inf)


def searcher_cpu_s(run: dict) -> float:
    return float(sum(e["suggest_cpu_s"] for e in run["evaluations"]))


def paired(runs: list[dict]) -> list[dict]:
    """The runs of the seeds that every searcher on a task has finished: scores then compare
    searchers on the same seeds (a searcher with more seeds done would otherwise be judged on
    others)."""
    seeds: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for r in runs:
        seeds[r["problem"]][r["searcher"]].add(r["seed"])
    common = {t: set.intersection(*by.values()) for t, by in seeds.items()}
    return [r for r in runs if r["seed"] in common[r["problem"]]]


def score_runs(runs: list[dict], pool: dict[str, np.ndarray]) -> dict[tuple[str, str], dict]:
    """(task, searcher) -> {"scores": per-seed scores, "cpu": per-seed searcher CPU s,
    "random": R, "best_any": B}.  Tasks without a pool are left out."""
    runs = [r for r in runs if r["problem"] in pool]
    best_any: dict[str, float] = {t: float(np.min(v)) for t, v in pool.items()}
    for r in runs:
        best_any[r["problem"]] = min(best_any[r["problem"]], best_of(r))
    out: dict[tuple[str, str], dict] = defaultdict(lambda: {"scores": [], "cpu": [], "seeds": []})
    for r in sorted(runs, key=lambda r: (r["problem"], r["searcher"], r["seed"])):
        task = r["problem"]
        rand = expected_min(pool[task], r["budget"])
        cell = out[(task, r["searcher"])]
        cell["scores"].append(normalized_score(best_of(r, r["budget"]), rand, best_any[task]))
        cell["cpu"].append(searcher_cpu_s(r))
        cell["seeds"].append(r["seed"])
        cell["random"], cell["best_any"] = rand, best_any[task]
    return dict(out)


def _order(searchers: set[str]) -> list[str]:
    first = ["gp", "optuna-gp", "optuna-tpe", "hyperopt", "random"]
    return [s for s in first if s in searchers] + sorted(searchers - set(first))


def render(cells: dict[tuple[str, str], dict]) -> str:
    tasks = sorted({t for t, _ in cells})
    searchers = _order({s for _, s in cells})
    lines = [
        "# Real-suite normalized scores",
        "",
        "100 * (R - best) / (R - B): R = expected best of the budget's worth of uniform-random "
        "configurations (exact, from the task's random pool), B = best value any run or the "
        "pool found. 0 = random search, 100 = best seen. Cells: median over seeds "
        "[25th, 75th percentile] (worst seed; number of seeds).",
        "",
        "| task | R | B | " + " | ".join(searchers) + " |",
        "|---|---|---|" + "---|" * len(searchers),
    ]
    for t in tasks:
        any_cell = next(cells[(t, s)] for s in searchers if (t, s) in cells)
        row = [t, f"{any_cell['random']:.4g}", f"{any_cell['best_any']:.4g}"]
        for s in searchers:
            c = cells.get((t, s))
            if c is None:
                row.append("-")
                continue
            sc = np.array(c["scores"])
            q1, med, q3 = np.nanpercentile(sc, [25, 50, 75])
            row.append(f"{med:.0f} [{q1:.0f}, {q3:.0f}] ({np.nanmin(sc):.0f}; {sc.size})")
        lines.append("| " + " | ".join(row) + " |")
    common = [t for t in tasks if all((t, s) in cells for s in searchers)]
    lines += ["", f"## Aggregate over the {len(common)} tasks every searcher has finished", "",
              "| searcher | mean of per-task medians | mean over all its tasks (n) | "
              "searcher CPU s per study |", "|---|---|---|---|"]
    for s in searchers:
        med = {t: float(np.nanmedian(cells[(t, s)]["scores"])) for t in tasks if (t, s) in cells}
        cpu = [x for t in tasks if (t, s) in cells for x in cells[(t, s)]["cpu"]]
        common_mean = np.mean([med[t] for t in common]) if common else math.nan
        lines.append(f"| {s} | {common_mean:.1f} | {np.mean(list(med.values())):.1f} "
                     f"({len(med)}) | {np.mean(cpu):.1f} |")
    lines += _targets(cells, tasks, searchers)
    return "\n".join(lines) + "\n"


def _targets(cells: dict[tuple[str, str], dict], tasks: list[str], searchers: list[str]
             ) -> list[str]:
    """Per raybo arm: tasks where its median trails GPSampler's by more than GPSampler's
    interquartile range, and tasks where a seed of it scores below random search's median."""
    if "optuna-gp" not in searchers:
        return []
    lines = ["", "## Against GPSampler and random search", "",
             "| searcher | tasks below GPSampler by more than its IQR | "
             "tasks with a seed below random's median |", "|---|---|---|"]
    for s in searchers:
        if not s.startswith("gp"):
            continue
        behind, below = [], []
        for t in tasks:
            if (t, s) not in cells or (t, "optuna-gp") not in cells:
                continue
            mine = np.array(cells[(t, s)]["scores"])
            ref = np.array(cells[(t, "optuna-gp")]["scores"])
            q1, q3 = np.nanpercentile(ref, [25, 75])
            if np.nanmedian(mine) < np.nanmedian(ref) - (q3 - q1):
                behind.append(t)
            rand = cells.get((t, "random"))
            if rand is not None and np.nanmin(mine) < np.nanmedian(rand["scores"]):
                below.append(t)
        lines.append(f"| {s} | {len(behind)}: {', '.join(behind) or '-'} | "
                     f"{len(below)}: {', '.join(below) or '-'} |")
    return lines


def plot(cells: dict[tuple[str, str], dict], path: Path) -> None:
    """Median score per task and searcher, one row of bars per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({t for t, _ in cells})
    searchers = _order({s for _, s in cells})
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(tasks) * max(1, len(searchers) / 3) + 1.5))
    h = 0.8 / len(searchers)
    for k, s in enumerate(searchers):
        med = [float(np.nanmedian(cells[(t, s)]["scores"])) if (t, s) in cells else np.nan
               for t in tasks]
        ax.barh(np.arange(len(tasks)) + k * h, np.clip(med, -100, None), height=h, label=s)
    ax.set_yticks(np.arange(len(tasks)) + 0.4 - h / 2, tasks)
    ax.axvline(0, color="k", lw=0.8)
    ax.axvline(100, color="k", lw=0.8, ls=":")
    ax.set_xlabel("median normalized score\n(0: random search's expected best, 100: best seen;"
                  " clipped at -100)")
    ax.invert_yaxis()
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(searchers), frameon=False,
              fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scoring",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/realsuite", help="results folder")
    p.add_argument("--all-seeds", action="store_true",
                   help="score every finished seed, not only the seeds all searchers share")
    p.add_argument("--searchers", help="comma list: score only these (paired among them)")
    p.add_argument("--write", default="score", help="file stem inside --out (.md, .png)")
    args = p.parse_args(argv)
    runs = load_records(args.out)
    if args.searchers:
        keep = set(args.searchers.split(","))
        runs = [r for r in runs if r["searcher"] in keep]
    cells = score_runs(runs if args.all_seeds else paired(runs), load_pool(args.out))
    text = render(cells)
    Path(args.out, f"{args.write}.md").write_text(text)
    plot(cells, Path(args.out, f"{args.write}.png"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
