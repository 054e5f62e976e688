"""Parallel speed-up in wall-clock: how much sooner W workers reach what one worker reaches.

    python -m benchmarks.speedup --out benchmarks/results/main --write speedup.md

For each problem and searcher, the target is the median final regret of its W = 1 runs (at
the budget). Time is the protocol's simulated time (``protocol.py``: each evaluation lasts an
exponential time of mean 1, W at once), so W = 1 spends about one unit per evaluation and times
read as rounds of W completions. The time to target at W is the first time at which the median
over seeds of the best-so-far regret is at most the target; the speed-up at W is that time at
W = 1 over that time at W. "Not reached": the median run at W never got there within its
budget (longer runs would be needed to measure it).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.store import load_records


def best_at(evaluations: list[dict], times: np.ndarray) -> np.ndarray:
    """Best-so-far regret ``(k,)`` at each simulated time of ``times: (k,)`` (inf before the
    first evaluation ended)."""
    ends = np.array([e["end"] for e in evaluations])
    order = np.argsort(ends, kind="stable")
    best = np.minimum.accumulate(np.array([e["best_regret"] for e in evaluations])[order])
    idx = np.searchsorted(ends[order], times, side="right") - 1
    return np.where(idx >= 0, best[np.maximum(idx, 0)], np.inf)


def median_time_to(runs: list[dict], target: float) -> float:
    """First simulated time at which the median over seeds of the best-so-far regret is at
    most ``target`` (inf: not within the runs' budget)."""
    times = np.unique(np.concatenate([[e["end"] for e in r["evaluations"]] for r in runs]))
    med = np.median(np.stack([best_at(r["evaluations"], times) for r in runs]), axis=0)
    hit = np.flatnonzero(med <= target)
    return float(times[hit[0]]) if hit.size else math.inf


def speedups(records: list[dict]) -> list[dict]:
    """Rows ``{problem, searcher, workers, target, median_time, n, speedup}``."""
    runs: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    for r in records:
        runs[(r["problem"], r["searcher"], r["workers"])].append(r)
    rows = []
    for (problem, searcher, w), group in sorted(runs.items()):
        base = runs.get((problem, searcher, 1))
        if not base:
            continue
        target = float(np.median([min(e["best_regret"] for e in r["evaluations"])
                                  for r in base]))
        t1, tw = median_time_to(base, target), median_time_to(group, target)
        rows.append({"problem": problem, "searcher": searcher, "workers": w, "target": target,
                     "median_time": tw, "n": len(group),
                     "speedup": t1 / tw if math.isfinite(tw) else 0.0})
    return rows


def render(rows: list[dict]) -> str:
    lines = ["# Parallel speed-up", "",
             "Median simulated time (rounds) to reach the searcher's own W = 1 median final "
             "regret, and the speed-up t(W=1) / t(W); 'not reached' when most seeds never got "
             "there within the budget. Cells: speed-up (median time to target).",
             ""]
    workers = sorted({r["workers"] for r in rows})
    lines += ["| problem | searcher | target | " + " | ".join(f"W={w}" for w in workers) + " |",
              "|---|---|---|" + "---|" * len(workers)]
    by = {(r["problem"], r["searcher"], r["workers"]): r for r in rows}
    for problem, searcher in sorted({(r["problem"], r["searcher"]) for r in rows}):
        cells = []
        for w in workers:
            r = by.get((problem, searcher, w))
            if r is None:
                cells.append("-")
            elif math.isfinite(r["median_time"]):
                cells.append(f"{r['speedup']:.1f}x ({r['median_time']:.1f})")
            else:
                cells.append("not reached")
        target = by[(problem, searcher, 1)]["target"]
        lines.append(f"| {problem} | {searcher} | {target:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.speedup",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="results folder with W = 1 runs")
    p.add_argument("--write", default="speedup.md", help="file name inside --out")
    args = p.parse_args(argv)
    text = render(speedups(load_records(args.out)))
    Path(args.out, args.write).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
