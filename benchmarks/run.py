"""Benchmark CLI: run problems x searchers x workers x seeds, then write tables and plots.

    python -m benchmarks.run --problems branin,hartmann6 --searchers gp,random \
        --workers 4 --seeds 10 --budget auto --out benchmarks/results/<name> --jobs 2

Each run appends its record to ``<out>/runs.jsonl.gz`` (``benchmarks.store``) as soon as it
finishes; runs already there are skipped (so an interrupted run resumes, and GP results can be
recomputed with ``--force --searchers gp`` without touching the peers).  ``summary.md`` and
the plots are rebuilt from every run in ``<out>`` at the end (``--report-only`` does just
that).  Torch and BLAS are single-threaded in every run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy/torch imports below

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.registry import PROBLEM_SOURCES, get_problem, problem_names  # noqa: E402
from benchmarks.store import RunStore, record_key  # noqa: E402

PROFILES = {
    # a smoke profile that exercises every code path in well under a minute
    "quick": {
        "problems": "branin,mixed",
        "searchers": "random,gp",
        "workers": "2",
        "seeds": 1,
        "budget": "12",
    },
    "full": {
        "problems": ",".join(problem_names("synthetic")),
        "searchers": "gp,gp-ei,gp-pi,gp-ucb,random,optuna-tpe,optuna-gp,hebo,bayesopt,ax",
        "workers": "1,4,16",
        "seeds": 10,
        "budget": "auto",
    },
}


def auto_budget(dim: int) -> int:
    """60 evaluations up to 6 dimensions, 100 above."""
    return 60 if dim <= 6 else 100


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    names = ["raybo", "ray", "torch", "gpytorch", "numpy", "optuna", "hebo"]
    names += ["bayesian-optimization", "ax-platform"]
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def run_one(problem: str, searcher: str, workers: int, seed: int, budget: int
            ) -> tuple[dict, str]:
    """Run one (problem, searcher, W, seed); returns its record and a status line."""
    import torch

    from benchmarks.protocol import run_protocol
    from benchmarks.registry import make_searcher

    torch.set_num_threads(1)
    prob = get_problem(problem)
    w0, c0 = time.perf_counter(), time.process_time()
    alg = make_searcher(searcher, prob, seed, workers)
    result = run_protocol(alg, prob, workers=workers, budget=budget, seed=seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    record = {
        "problem": problem,
        "searcher": searcher,
        "workers": workers,
        "seed": seed,
        "budget": budget,
        "f_star": prob.f_star,
        "target": prob.target,
        "wall_s": wall,
        "cpu_s": cpu,
        "versions": _versions(),
        **result.to_dict(),
    }
    final = result.evaluations[-1].best_regret if result.evaluations else float("nan")
    line = f"{problem} {searcher} W={workers} seed={seed}: regret {final:.3g} ({wall:.0f} s)"
    return record, line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), help="preset; explicit flags override")
    p.add_argument(
        "--problems",
        help=f"comma list of {','.join(problem_names())} (benchmarks/registry.py), or a "
        f"kind standing for all its problems: {','.join(PROBLEM_SOURCES)}",
    )
    p.add_argument("--searchers", help="comma list, see benchmarks/registry.py")
    p.add_argument("--workers", help="comma list of worker counts W, e.g. 1,4,16")
    p.add_argument("--seeds", help="number of seeds N (0..N-1) or a range A-B (inclusive)")
    p.add_argument("--budget", help="'auto' (60 evals for d <= 6, else 100) or an integer")
    p.add_argument("--out", default="benchmarks/results/latest", help="output folder")
    p.add_argument("--jobs", type=int, default=1, help="parallel processes (<= cores)")
    p.add_argument("--force", action="store_true", help="rerun runs already in the store")
    p.add_argument("--report-only", action="store_true", help="only rebuild summary/plots")
    p.add_argument("--no-report", action="store_true", help="skip summary/plots")
    p.add_argument("--tune", action="store_true", help="run through real tune.run instead")
    args = p.parse_args(argv)
    preset = PROFILES.get(args.profile or "", {})
    for key in ("problems", "searchers", "workers", "seeds", "budget"):
        if getattr(args, key) is None:
            # without a profile the budget is the protocol's, never the quick profile's 12
            fallback = "auto" if key == "budget" and not args.profile else PROFILES["quick"][key]
            setattr(args, key, str(preset.get(key, fallback)))
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    return args


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(t) for t in text.split("-"))
        return list(range(lo, hi + 1))
    return list(range(int(text)))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(out)
    problems = _expand_kinds([p for p in args.problems.split(",") if p])
    searchers = [s for s in args.searchers.split(",") if s]
    workers = [int(w) for w in args.workers.split(",") if w]
    seeds = _seeds(args.seeds)

    if args.tune:
        from benchmarks.tune_mode import run_tune

        for problem in problems:
            for searcher in searchers:
                for w in workers:
                    for seed in seeds:
                        budget = _budget(args.budget, problem)
                        print(run_tune(problem, searcher, w, seed, budget, out), flush=True)
        return 0

    if not args.report_only:
        from benchmarks.registry import available

        done = store.keys()
        jobs = []
        for problem in problems:
            prob = get_problem(problem)
            budget = _budget(args.budget, problem)
            for searcher in searchers:
                why = available(searcher, prob)
                if why:
                    print(f"skipping {searcher} on {problem}: {why}", flush=True)
                    continue
                for w in workers:
                    for seed in seeds:
                        key = record_key({"problem": problem, "searcher": searcher,
                                          "workers": w, "seed": seed})
                        if key in done and not args.force:
                            continue
                        jobs.append((problem, searcher, w, seed, budget))
        print(f"{len(jobs)} runs to do", flush=True)
        t0 = time.perf_counter()
        if args.jobs == 1:
            for job in jobs:
                record, line = run_one(*job)
                store.append(record)  # only this process writes the store
                print(line, flush=True)
        else:
            ctx = mp.get_context("spawn")  # no forked torch/Ray state
            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
                futures = [pool.submit(run_one, *job) for job in jobs]
                for fut in as_completed(futures):
                    record, line = fut.result()
                    store.append(record)
                    print(line, flush=True)
        print(f"done {len(jobs)} runs in {time.perf_counter() - t0:.0f} s wall", flush=True)

    if not args.no_report:
        from benchmarks.report import write_report

        write_report(out)
        print(f"wrote {out / 'summary.md'} and plots", flush=True)
    return 0


def _expand_suites(names: list[str]) -> list[str]:
    """``realsuite`` stands for every task of ``benchmarks/realsuite.py``."""
    from benchmarks.realsuite import REAL_SUITE

    return [t for n in names for t in (list(REAL_SUITE) if n == "realsuite" else [n])]


def _expand_kinds(names: list[str]) -> list[str]:
    """A kind of ``registry.PROBLEM_SOURCES`` (e.g. ``real_suite``) stands for all its problems."""
    return [t for n in names for t in (problem_names(n) if n in PROBLEM_SOURCES else [n])]


def _budget(text: str, problem: str) -> int:
    if text == "auto":
        return auto_budget(get_problem(problem).dim)
    budget = int(text)
    if budget < 1:
        raise ValueError(f"--budget must be 'auto' or a positive integer, got {text!r}")
    return budget


if __name__ == "__main__":
    sys.exit(main())
