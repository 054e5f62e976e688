"""GPSearch vs random search on the bundled trainables, same budget, paired seeds.

For each architecture and seed, both searchers get ``--trials`` trials of ``--epochs`` epochs with
``--concurrent`` running at once (through ``raybo.cli.run_tuning``); seed s fixes the searcher
and the training seed for both, so the pairs differ only in the search. Writes
``results.md`` (table), ``curves.png`` (mean best-so-far validation loss vs trial index, with a
standard-error band) and ``results.json`` (every curve) to ``--out``.

    python benchmarks/trainables_bench.py            # full: cnn + gru, 5 seeds, 20 trials
    python benchmarks/trainables_bench.py --quick    # smoke test, about a minute or two
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FULL = {"archs": ["cnn", "gru"], "seeds": 5, "trials": 20, "epochs": 3, "concurrent": 4}
QUICK = {"archs": ["cnn"], "seeds": 2, "trials": 4, "epochs": 1, "concurrent": 2}
SEARCHERS = ("gp", "random")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny settings; output under results/tmp")
    p.add_argument("--archs", nargs="+", default=None)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (0..N-1)")
    p.add_argument("--trials", type=int, default=None, help="trials per run (the budget)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--concurrent", type=int, default=None)
    p.add_argument("--num-cpus", type=int, default=None, help="logical CPUs for local Ray")
    p.add_argument("--ray-temp-dir", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    base = QUICK if args.quick else FULL
    for key, val in base.items():
        if getattr(args, key) is None:
            setattr(args, key, val)
    if args.out is None:
        sub = "tmp/trainables_quick" if args.quick else "trainables"
        args.out = str(REPO / "benchmarks" / "results" / sub)
    for key in ("seeds", "trials", "epochs", "concurrent"):
        if getattr(args, key) < 1:
            p.error(f"--{key} must be >= 1")
    return args


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One record per (arch, seed, searcher): best-so-far curve and wall time."""
    from raybo.cli import run_tuning

    storage = REPO / "benchmarks" / "results" / "tmp" / "trainables_ray"
    records = []
    for arch in args.archs:
        for seed in range(args.seeds):
            for searcher in SEARCHERS:
                start = time.perf_counter()
                run = run_tuning(
                    arch,
                    trials=args.trials,
                    concurrent=args.concurrent,
                    epochs=args.epochs,
                    searcher=searcher,
                    seed=seed,
                    storage=storage,
                    name=f"{arch}_{searcher}_seed{seed}_{int(time.time())}",
                )
                curve = run.best_so_far()
                records.append(
                    {
                        "arch": arch,
                        "seed": seed,
                        "searcher": searcher,
                        "curve": [v if math.isfinite(v) else None for v in curve],
                        "best": curve[-1] if math.isfinite(curve[-1]) else None,
                        "failed": sum(r["status"] != "TERMINATED" for r in run.rows),
                        "wall_s": time.perf_counter() - start,
                        "diagnostics": {
                            k: run.diagnostics.get(k) for k in ("n", "loo_rmse", "loo_calibration")
                        },
                    }
                )
                print(f"{arch} seed {seed} {searcher}: best val_loss {records[-1]['best']}")
    return records


def _stats(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=float)
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else math.nan
    return float(a.mean()), float(se), float(np.median(a))


def markdown(records: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "# GPSearch vs random search on the bundled trainables\n",
        f"Budget per run: {args.trials} trials x {args.epochs} epochs, {args.concurrent} "
        f"concurrent; seeds 0..{args.seeds - 1} (paired). Metric: final best validation loss "
        "(lower is better), mean +- standard error over seeds.\n",
        "| arch | searcher | mean best val_loss | median | GP better in | failed trials "
        "| mean wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for arch in args.archs:
        mine = [r for r in records if r["arch"] == arch]
        by = {s: [r for r in mine if r["searcher"] == s] for s in SEARCHERS}
        pairs = [
            (g["best"], r["best"])
            for g, r in zip(by["gp"], by["random"], strict=True)
            if g["best"] is not None and r["best"] is not None
        ]
        wins = sum(g < r for g, r in pairs)
        for s in SEARCHERS:
            best = [r["best"] for r in by[s] if r["best"] is not None]
            mean, se, med = _stats(best) if best else (math.nan,) * 3
            won = f"{wins}/{len(pairs)} seeds" if s == "gp" else ""
            failed = sum(r["failed"] for r in by[s])
            wall = np.mean([r["wall_s"] for r in by[s]])
            lines.append(
                f"| {arch} | {s} | {mean:.4f} +- {se:.4f} | {med:.4f} | {won} | {failed} "
                f"| {wall:.0f} |"
            )
    return "\n".join(lines) + "\n"


def plot(records: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.archs), figsize=(5 * len(args.archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], args.archs, strict=True):
        for s in SEARCHERS:
            curves = np.array(
                [
                    [np.nan if v is None else v for v in r["curve"]]
                    for r in records
                    if r["arch"] == arch and r["searcher"] == s
                ]
            )
            mean = np.nanmean(curves, axis=0)
            se = np.nanstd(curves, axis=0) / math.sqrt(max(len(curves), 1))
            x = np.arange(1, curves.shape[1] + 1)
            ax.plot(x, mean, label=s)
            ax.fill_between(x, mean - se, mean + se, alpha=0.2)
        ax.set(title=arch, xlabel="trial", ylabel="best val_loss so far")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import ray

    ray.init(
        num_cpus=args.num_cpus or max(args.concurrent, os.cpu_count() or 1),
        _temp_dir=args.ray_temp_dir,
        include_dashboard=False,
    )
    try:
        records = run_all(args)
    finally:
        ray.shutdown()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "runs": records}, indent=1))
    (out / "results.md").write_text(markdown(records, args))
    plot(records, args, out / "curves.png")
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
