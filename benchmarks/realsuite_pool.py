"""A large uniform-random sample of each real-suite task, the baseline of the normalized score.

    python -m benchmarks.realsuite_pool --out benchmarks/results/realsuite --n 512

writes ``<out>/random_pool.json``: ``{task: {"seed": s, "values": [v or null, ...]}}`` with
``null`` for a configuration whose evaluation failed (raised or NaN).  Tasks already in the
file are kept, so an interrupted run resumes.  The sample uses its own seed, disjoint from
the seeds of the benchmark runs (0, 1, ...).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy imports below

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.peers import RandomSearcher  # noqa: E402
from benchmarks.realsuite import REAL_SUITE  # noqa: E402

POOL_SEED = 1_000_003
POOL_FILE = "random_pool.json"


def sample_task(name: str, n: int, seed: int = POOL_SEED) -> list[float | None]:
    """Values of ``n`` uniform-random configurations of task ``name`` (None: failed)."""
    problem = REAL_SUITE[name]()
    searcher = RandomSearcher(seed=seed)
    searcher.set_search_properties("loss", "min", problem.space)
    values: list[float | None] = []
    for i in range(n):
        try:
            v = problem(searcher.suggest(f"pool_{i}"))
        except Exception:  # a crash region: the protocol records such a trial as failed
            v = math.nan
        values.append(None if math.isnan(v) else v)
    return values


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.realsuite_pool",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/realsuite")
    p.add_argument("--n", type=int, default=512, help="configurations per task")
    p.add_argument("--tasks", default=",".join(REAL_SUITE), help="comma list of tasks")
    args = p.parse_args(argv)
    path = Path(args.out) / POOL_FILE
    pool = json.loads(path.read_text()) if path.exists() else {}
    for name in [t for t in args.tasks.split(",") if t]:
        if name in pool and len(pool[name]["values"]) >= args.n:
            continue
        t0 = time.process_time()
        pool[name] = {"seed": POOL_SEED, "values": sample_task(name, args.n)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pool))
        tmp.replace(path)
        print(f"{name}: {args.n} configs, {(time.process_time() - t0) / args.n:.3f} s CPU each",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
