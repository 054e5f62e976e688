"""GPSearch vs random search on the bundled trainables, same budget, paired seeds.

For each architecture and seed, both searchers get ``--trials`` trials of ``--epochs`` epochs with
``--concurrent`` running at once (through ``raybo.app.tuning.run_tuning``); seed s fixes the
searcher and the training seed for both, so the pairs differ only in the search. Writes
``results.md`` (table), ``curves.png`` (mean best-so-far validation loss vs trial index, with a
standard-error band), ``runs.jsonl.gz`` (one line per run with its curve; ``benchmarks.store``)
and ``settings.json`` (the budget settings) to ``--out``.

    python benchmarks/trainables_bench.py        # cnn + gru, 5 seeds, 30 trials x 2 epochs
    python benchmarks/trainables_bench.py --quick    # smoke test, about a minute or two
    python benchmarks/trainables_bench.py --report-only   # table + plot from runs.jsonl.gz

    # schedulers: multi-fidelity GPSearch + ASHA against GPSearch + ASHA as before,
    # GPSearch alone, random + ASHA, TuneBOHB + HyperBandForBOHB, TPE + ASHA; a budget of
    # trials x epochs epochs per run (benchmarks/schedulers.py does the work)
    python benchmarks/trainables_bench.py --schedulers --archs cnn gru transformer --epochs 9
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
FULL = {"archs": ["cnn", "gru"], "seeds": 5, "trials": 30, "epochs": 2, "concurrent": 4}
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
    p.add_argument(
        "--target",
        nargs="*",
        default=[],
        metavar="ARCH=VALUE",
        help="val_loss target per arch for 'trials to reach'; default: random search's median "
        "best at the budget",
    )
    p.add_argument(
        "--report-only", action="store_true", help="rebuild table and plot from runs.jsonl.gz"
    )
    p.add_argument(
        "--schedulers", action="store_true",
        help="compare searcher + scheduler arms (benchmarks/schedulers.py) on --archs, with "
        "--trials x --epochs epochs per run; output in results/schedulers_trainables",
    )
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
    targets = {}
    for item in args.target:
        arch, _, value = item.partition("=")
        try:
            targets[arch] = float(value)
        except ValueError:
            p.error(f"--target expects ARCH=VALUE, got {item!r}")
    args.target = targets
    return args


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One record per (arch, seed, searcher): best-so-far curve and wall time."""
    from raybo.app.tuning import run_tuning

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
                best_row = run.best()
                accuracy = best_row["metrics"].get("val_accuracy") if best_row else None
                records.append(
                    {
                        "arch": arch,
                        "seed": seed,
                        "searcher": searcher,
                        "curve": [v if math.isfinite(v) else None for v in curve],
                        "best": curve[-1] if math.isfinite(curve[-1]) else None,
                        # validation accuracy of the trial with the best val_loss
                        "best_accuracy": accuracy,
                        "failed": sum(r["status"] != "TERMINATED" for r in run.rows),
                        "wall_s": time.perf_counter() - start,
                        "diagnostics": {
                            k: run.diagnostics.get(k) for k in ("n", "loo_rmse", "loo_calibration")
                        },
                    }
                )
                print(f"{arch} seed {seed} {searcher}: best val_loss {records[-1]['best']}, "
                      f"its val_accuracy {accuracy}")
    return records


def _stats(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=float)
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else math.nan
    return float(a.mean()), float(se), float(np.median(a))


def trials_to_reach(curve: list[float | None], target: float) -> int | None:
    """1-based index of the first trial whose best-so-far is <= ``target``; None if never."""
    for i, v in enumerate(curve, start=1):
        if v is not None and v <= target:
            return i
    return None


def targets(records: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    """Per arch: ``--target`` if given, else random search's median best at the budget, so the
    figure reads "GP reaches what random search reaches in half its seeds, in N trials"."""
    out = {}
    for arch in args.archs:
        if arch in args.target:
            out[arch] = args.target[arch]
            continue
        best = [r["best"] for r in records if r["arch"] == arch and r["searcher"] == "random"]
        out[arch] = float(np.median([b for b in best if b is not None]))
    return out


def _median_trials(hits: list[int | None], budget: int) -> str:
    """Median trials to target, counting a miss as ``budget + 1`` (shown as "> budget")."""
    med = float(np.median([budget + 1 if h is None else h for h in hits]))
    return f"> {budget}" if med > budget else f"{med:g}"


def markdown(records: list[dict[str, Any]], args: argparse.Namespace) -> str:
    goal = targets(records, args)
    lines = [
        "# GPSearch vs random search on the bundled trainables\n",
        f"Budget per run: {args.trials} trials x {args.epochs} epochs, {args.concurrent} "
        f"concurrent; seeds 0..{args.seeds - 1} (paired). Metric: final best validation loss "
        "(lower is better), mean +- standard error over seeds, and the validation accuracy of "
        "that best trial. Target: "
        + ", ".join(f"{a} val_loss <= {goal[a]:.4f}" for a in args.archs)
        + ("" if args.target else " (random search's median best at the budget)")
        + "; trials to reach it counted in trial order, a miss as budget + 1.\n",
        "| arch | searcher | mean best val_loss | median | its val_accuracy (mean) | GP better in "
        "| trials to target (median) | reached | failed trials | mean wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
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
            acc = [r["best_accuracy"] for r in by[s] if r.get("best_accuracy") is not None]
            acc_text = f"{np.mean(acc):.4f}" if acc else "n/a"  # n/a: results from before it
            hits = [trials_to_reach(r["curve"], goal[arch]) for r in by[s]]
            reached = sum(h is not None for h in hits)
            lines.append(
                f"| {arch} | {s} | {mean:.4f} +- {se:.4f} | {med:.4f} | {acc_text} | {won} "
                f"| {_median_trials(hits, args.trials)} | {reached}/{len(hits)} | {failed} "
                f"| {wall:.0f} |"
            )
    return "\n".join(lines) + "\n"


def plot(records: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    goal = targets(records, args)
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
        ax.axhline(goal[arch], color="grey", ls=":", label="target")
        ax.set(title=arch, xlabel="trial", ylabel="best val_loss so far", yscale="log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


SETTINGS = "settings.json"  # the run's arguments, beside its runs.jsonl.gz


def main(argv: list[str] | None = None) -> None:
    import sys

    args = parse_args(argv)
    if str(REPO) not in sys.path:  # run as a script: make the benchmarks package importable
        sys.path.insert(0, str(REPO))
    from benchmarks.store import RunStore, load_records

    if args.schedulers:
        from benchmarks import schedulers

        out = args.out if "--out" in (argv or sys.argv) else str(
            REPO / "benchmarks" / "results" / "schedulers_trainables")
        schedulers.main(["--problems", ",".join(args.archs), "--epochs", str(args.epochs),
                         "--seeds", str(args.seeds), "--budget", str(args.trials * args.epochs),
                         "--out", out] + (["--report-only"] if args.report_only else []))
        return
    out = Path(args.out)
    if args.report_only:
        saved = json.loads((out / SETTINGS).read_text())
        for key in ("archs", "seeds", "trials", "epochs", "concurrent"):
            setattr(args, key, saved[key])
        write_outputs(load_records(out), args, out)
        return
    import ray

    ray.init(
        num_cpus=args.num_cpus or max(args.concurrent, os.cpu_count() or 1),
        _temp_dir=args.ray_temp_dir,
        include_dashboard=False,
        log_to_driver=False,  # trial workers' checkpoint notices
    )
    try:
        records = run_all(args)
    finally:
        ray.shutdown()
    out.mkdir(parents=True, exist_ok=True)
    RunStore(out).write_all(records)
    (out / SETTINGS).write_text(json.dumps(vars(args), indent=1))
    write_outputs(records, args, out)


def write_outputs(records: list[dict[str, Any]], args: argparse.Namespace, out: Path) -> None:
    (out / "results.md").write_text(markdown(records, args))
    plot(records, args, out / "curves.png")
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
