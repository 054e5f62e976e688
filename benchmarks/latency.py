"""Suggest latency at a given number of observations and pending trials, single-threaded.

    python -m benchmarks.latency --searchers gp,optuna-gp --n 20,60,500 --pending 3,15,63 \
        --out benchmarks/results/latency.json

For each (searcher, n, p): ``n - 1`` random Hartmann6 points are added with
``add_evaluated_point``, ``p + 1`` trials are suggested and left pending, then each repeat
completes the oldest pending trial (n, n+1, ... observations; p pending) and times the next
``suggest`` -- the steady state of an asynchronous run.  Reports the median wall and CPU seconds
over repeats.

raybo re-optimizes its GP hyperparameters only every ``refit_growth * n`` new results
(``EngineOptions``), Optuna's GPSampler on every call. So ``gp`` is timed two ways, side by side
with the peers: ``gp[fit]`` with a hyperparameter fit on every call (``refit_growth=0``) and
``gp[nofit]`` reusing the last fit; ``gp[amortized]`` is their mix over a run,
``(fit + (k - 1) * nofit) / k`` with ``k`` the suggests between refits at that ``n``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy/torch imports below

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.registry import GP_TIMING_MODES as GP_MODES  # noqa: E402
from benchmarks.registry import (  # noqa: E402
    METRIC,
    available,
    get_problem,
    make_searcher,
)


def measure(name: str, n: int, pending: int, repeats: int, seed: int = 0) -> dict:
    """Time ``repeats`` steady-state suggests of searcher ``name``; see the module doc."""
    import torch

    torch.set_num_threads(1)
    problem = get_problem("hartmann6")
    searcher = make_searcher(name, problem, seed, pending + 1)
    rng = np.random.default_rng(seed)
    for _ in range(n - 1):
        config = {f"x{i}": float(rng.uniform()) for i in range(problem.dim)}
        searcher.add_evaluated_point(config, problem(config))
    queue: deque[tuple[str, dict]] = deque()
    for j in range(pending + 1):
        queue.append((f"pending_{j}", searcher.suggest(f"pending_{j}")))
    walls, cpus = [], []
    for r in range(repeats):
        trial_id, config = queue.popleft()
        searcher.on_trial_complete(trial_id, {METRIC: problem(config)})
        w0, c0 = time.perf_counter(), time.process_time()
        config = searcher.suggest(f"timed_{r}")
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        if config is None:
            raise RuntimeError(f"{name} returned no suggestion at n={n}, pending={pending}")
        queue.append((f"timed_{r}", config))
    return {
        "searcher": name,
        "n": n,
        "pending": pending,
        "repeats": repeats,
        "median_wall_s": float(np.median(walls)),
        "median_cpu_s": float(np.median(cpus)),
        "wall_s": walls,
    }


def _print(row: dict) -> None:
    print(f"{row['searcher']:14s} n={row['n']:4d} pending={row['pending']:3d}: median wall "
          f"{row['median_wall_s']:.3f} s, cpu {row['median_cpu_s']:.3f} s", flush=True)


def amortized(rows: list[dict]) -> list[dict]:
    """``gp[amortized]`` rows from matching ``gp[fit]`` / ``gp[nofit]`` rows (module doc)."""
    from raybo.options import DEFAULT

    by_key = {(r["searcher"], r["n"], r["pending"]): r for r in rows}
    out = []
    for (name, n, pending), fit in by_key.items():
        nofit = by_key.get(("gp[nofit]", n, pending))
        if name != "gp[fit]" or nofit is None:
            continue
        k = 1 if n < DEFAULT.refit_always else max(1, round(DEFAULT.refit_growth * n))
        row = {"searcher": "gp[amortized]", "n": n, "pending": pending, "suggests_per_fit": k}
        for key in ("median_wall_s", "median_cpu_s"):
            row[key] = (fit[key] + (k - 1) * nofit[key]) / k
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.latency", description=__doc__.split("\n")[0]
    )
    p.add_argument("--searchers", default="gp", help="comma list; needs add_evaluated_point")
    p.add_argument("--n", default="20,60,500", help="comma list of observation counts")
    p.add_argument("--pending", default="3,15,63", help="comma list of pending-trial counts")
    p.add_argument("--repeats", type=int, default=5, help="timed suggests per setting")
    p.add_argument("--out", default=None, help="JSON file to write (optional)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    rows = []
    hartmann = get_problem("hartmann6")
    names = []
    for name in args.searchers.split(","):
        names += list(GP_MODES) if name == "gp" else [name]
    for name in names:
        why = None if name in GP_MODES else available(name, hartmann)
        if why:
            print(f"skipping {name}: {why}", flush=True)
            continue
        for n in (int(v) for v in args.n.split(",")):
            for pending in (int(v) for v in args.pending.split(",")):
                row = measure(name, n, pending, args.repeats)
                rows.append(row)
                _print(row)
    rows += amortized(rows)
    for row in rows:
        if row["searcher"] == "gp[amortized]":
            _print(row)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
