"""Paired ablation table: each engine variant against a base, per problem and W.

    python -m benchmarks.ablate --out benchmarks/results/ablations --base gp \\
        --arms gp~issued_design,gp~roulette --workers 4,16

Reads the runs of ``<out>`` (``runs.jsonl.gz``, written by ``benchmarks.run``) and compares
final simple regret seed by seed (same seed = same design points and the same simulated
durations until the searchers' suggestions differ). A cell *loses* when the arm's
median regret is more than ``LOSS_RATIO`` times the base's AND the arm is worse in more than
half of the paired seeds; it *wins* in the mirror case. The adoption rule (benchmarks/README.md):
an arm may replace the base only if it loses on at most one problem x W cell.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.store import load_records

LOSS_RATIO = 1.1  # medians within 10% count as seed noise (benchmarks/README.md, "Ablations")


def load(out: Path) -> dict[tuple[str, str, int], dict[int, float]]:
    """(problem, searcher, W) -> {seed: final best regret}."""
    runs: dict[tuple[str, str, int], dict[int, float]] = defaultdict(dict)
    for rec in load_records(out):
        evals = rec["evaluations"]
        if not evals:
            continue
        runs[(rec["problem"], rec["searcher"], rec["workers"])][rec["seed"]] = evals[-1][
            "best_regret"]
    return runs


def compare(base: dict[int, float], arm: dict[int, float]) -> dict[str, float] | None:
    seeds = sorted(set(base) & set(arm))
    if not seeds:
        return None
    b = np.array([base[s] for s in seeds])
    a = np.array([arm[s] for s in seeds])
    mb, ma = float(np.median(b)), float(np.median(a))
    # Equal within round-off counts as a tie, not a loss (deterministic problems converge).
    tol = 1e-12 + 1e-9 * np.maximum(np.abs(a), np.abs(b))
    worse, better = int(np.sum(a > b + tol)), int(np.sum(a < b - tol))
    ratio = ma / mb if mb > 0 else (1.0 if ma == 0 else float("inf"))
    verdict = ""
    if ratio > LOSS_RATIO and worse > len(seeds) / 2:
        verdict = "LOSS"
    elif ratio < 1 / LOSS_RATIO and better > len(seeds) / 2:
        verdict = "win"
    return {"n": len(seeds), "base": mb, "arm": ma, "ratio": ratio, "better": better,
            "worse": worse, "verdict": verdict}


def table(runs, base: str, arms: list[str], workers: list[int]) -> str:
    problems = sorted({p for p, _, _ in runs})
    lines = []
    for arm in arms:
        lines += [f"### {arm} vs {base}", "",
                  "| problem | W | n | base median | arm median | ratio | arm better/worse | |",
                  "|---|---|---|---|---|---|---|---|"]
        losses = wins = 0
        for prob in problems:
            for w in workers:
                c = compare(runs.get((prob, base, w), {}), runs.get((prob, arm, w), {}))
                if c is None:
                    continue
                losses += c["verdict"] == "LOSS"
                wins += c["verdict"] == "win"
                lines.append(f"| {prob} | {w} | {c['n']} | {c['base']:.3g} | {c['arm']:.3g} | "
                             f"{c['ratio']:.2f} | {c['better']}/{c['worse']} | {c['verdict']} |")
        lines += ["", f"{arm}: {wins} wins, {losses} losses "
                  f"({'adoptable' if losses <= 1 else 'NOT adoptable'} by the one-loss rule)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ablate", description=__doc__.split(
        "\n")[0])
    p.add_argument("--out", required=True, help="results folder (runs.jsonl.gz)")
    p.add_argument("--base", default="gp", help="searcher name of the base arm")
    p.add_argument("--arms", required=True, help="comma list of searcher names to compare")
    p.add_argument("--workers", default="4,16", help="comma list of W")
    p.add_argument("--write", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    text = table(load(Path(args.out)), args.base, args.arms.split(","),
                 [int(w) for w in args.workers.split(",")])
    print(text)
    if args.write:
        Path(args.write).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
