"""Long experiments: GPSearch at up to ~1000 observations, and whether the local subset is sound.

    python -m benchmarks.long_run scaling --n 50,100,200,400,600,800,1000 --pending 7 \
        --repeats 3 --out benchmarks/results/long_run_scaling.json
    python -m benchmarks.long_run regret --problem ackley --seeds 0,1 --prefix 400 \
        --budget 600 --max-exact 400,100000 --out benchmarks/results/long_run_regret.json
    python -m benchmarks.long_run report --scaling benchmarks/results/long_run_scaling.json \
        --regret benchmarks/results/long_run_regret.json --png benchmarks/results/long_run.png

``scaling``: one searcher on Hartmann6 grows by random observations (``add_evaluated_point``)
to each n; with ``pending`` trials suggested and left running, each repeat completes the oldest
pending trial and times the next ``suggest`` (wall and CPU seconds). After each n it records the
process RSS (``VmRSS`` from ``/proc/self/status``, KiB) and ``len(pickle.dumps(get_state()))``.

``regret``: a BO run with ``pending + 1`` workers (FIFO completions) up to ``prefix`` results,
identical for every variant because the exact GP is used while rows <= ``max_exact``; its state
is then restored into one fresh searcher per ``max_exact`` value, which continues to ``budget``
results. Best-so-far regret per result and suggest times are recorded per variant.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy/torch imports below

import argparse  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.registry import get_problem  # noqa: E402
from raybo import GPSearch  # noqa: E402

METRIC = "value"


def rss_kib() -> int:
    """Resident set size of this process in KiB, from /proc (Linux); -1 elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _timed_suggest(searcher: GPSearch, trial_id: str) -> tuple[dict[str, Any], float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    config = searcher.suggest(trial_id)
    if config is None:
        raise RuntimeError(f"suggest({trial_id!r}) returned None")
    return config, time.perf_counter() - w0, time.process_time() - c0


def scaling(ns: list[int], pending: int, repeats: int, seed: int = 0) -> list[dict[str, Any]]:
    """Suggest time, RSS and state size at each observation count in ``ns`` (ascending)."""
    problem = get_problem("hartmann6")
    searcher = GPSearch(problem.space, metric=METRIC, mode="min", seed=seed)
    rng = np.random.default_rng(seed)
    queue: deque[tuple[str, dict[str, Any]]] = deque()
    rows: list[dict[str, Any]] = []
    n_obs = 0
    for n in sorted(ns):
        while n_obs < n - 1:  # the first timed repeat completes one more trial
            config = {f"x{i}": float(rng.uniform()) for i in range(problem.dim)}
            searcher.add_evaluated_point(config, problem(config))
            n_obs += 1
        while len(queue) < pending + 1:
            tid = f"pending_{n}_{len(queue)}"
            queue.append((tid, _timed_suggest(searcher, tid)[0]))
        walls, cpus = [], []
        for r in range(repeats):
            tid, config = queue.popleft()
            searcher.on_trial_complete(tid, {METRIC: problem(config)})
            n_obs += 1
            new_id = f"timed_{n}_{r}"
            config, wall, cpu = _timed_suggest(searcher, new_id)
            queue.append((new_id, config))
            walls.append(wall)
            cpus.append(cpu)
        row = {
            "n": n, "pending": pending, "median_wall_s": float(np.median(walls)),
            "median_cpu_s": float(np.median(cpus)), "wall_s": walls, "cpu_s": cpus,
            "rss_mib": rss_kib() / 1024, "state_bytes": len(pickle.dumps(searcher.get_state())),
        }
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("wall_s", "cpu_s")}),
              flush=True)
    return rows


def _continue(searcher: GPSearch, problem, queue: deque, until: int, n_done: int,
              log: dict[str, list[float]], tag: str) -> int:
    """Complete the oldest pending trial and suggest a new one until ``until`` results."""
    best = min(log["best_regret"]) if log["best_regret"] else float("inf")
    while n_done < until:
        tid, config = queue.popleft()
        value = problem(config)
        searcher.on_trial_complete(tid, {METRIC: value})
        n_done += 1
        best = min(best, problem.regret(value))
        log["best_regret"].append(best)
        new_id = f"{tag}_{n_done}"
        config, wall, cpu = _timed_suggest(searcher, new_id)
        log["wall_s"].append(wall)
        log["cpu_s"].append(cpu)
        queue.append((new_id, config))
        if n_done % 50 == 0:
            print(f"  {tag}: {n_done} results, best regret {best:.4g}, "
                  f"last suggest {wall:.2f}s wall", flush=True)
    return n_done


def regret_run(problem_name: str, seed: int, pending: int, prefix: int, budget: int,
               max_exacts: list[int]) -> dict[str, Any]:
    """One shared BO prefix, then one continuation per ``max_exact`` value (see module doc)."""
    problem = get_problem(problem_name)
    searcher = GPSearch(problem.space, metric=METRIC, mode="min", seed=seed)
    queue: deque[tuple[str, dict[str, Any]]] = deque()
    for j in range(pending + 1):
        queue.append((f"start_{j}", searcher.suggest(f"start_{j}")))
    prefix_log: dict[str, list[float]] = {"best_regret": [], "wall_s": [], "cpu_s": []}
    t0 = time.perf_counter()
    n_done = _continue(searcher, problem, queue, prefix, 0, prefix_log, f"s{seed}_prefix")
    out: dict[str, Any] = {"problem": problem_name, "seed": seed, "pending": pending,
                           "prefix": prefix, "budget": budget, "prefix_log": prefix_log,
                           "prefix_seconds": time.perf_counter() - t0, "variants": {}}
    snapshot, snapshot_queue = searcher.get_state(), list(queue)
    for max_exact in max_exacts:
        branch = GPSearch()
        branch.set_state({**snapshot, "engine": {**snapshot["engine"], "max_exact": max_exact}})
        log = {"best_regret": list(prefix_log["best_regret"]), "wall_s": [], "cpu_s": []}
        t0 = time.perf_counter()
        _continue(branch, problem, deque(snapshot_queue), budget, n_done, log,
                  f"s{seed}_exact{max_exact}")
        log["seconds"] = time.perf_counter() - t0
        out["variants"][str(max_exact)] = log
    return out


def report(scaling_rows: list[dict[str, Any]], runs: list[dict[str, Any]], png: Path) -> str:
    """Markdown tables for both experiments; writes the curves to ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["| n observations | pending | suggest median wall s | suggest median CPU s | "
             "RSS MiB | state bytes | state bytes / n |", "|---|---|---|---|---|---|---|"]
    for r in scaling_rows:
        lines.append(f"| {r['n']} | {r['pending']} | {r['median_wall_s']:.2f} | "
                     f"{r['median_cpu_s']:.2f} | {r['rss_mib']:.0f} | {r['state_bytes']} | "
                     f"{r['state_bytes'] / r['n']:.0f} |")
    fig, axes = plt.subplots(1, 2 if runs else 1, figsize=(11 if runs else 5.5, 4),
                             squeeze=False)
    ax = axes[0, 0]
    ns = [r["n"] for r in scaling_rows]
    ax.plot(ns, [r["median_wall_s"] for r in scaling_rows], "o-", label="wall")
    ax.plot(ns, [r["median_cpu_s"] for r in scaling_rows], "s--", label="CPU")
    ax.axhline(2.0, color="grey", lw=0.8, ls=":", label="2 s target")
    ax.set(xlabel="observations", ylabel="median suggest seconds (7 pending)",
           title="GPSearch.suggest cost")
    ax.legend()
    if runs:
        lines += ["", "| problem | seed | MAX_EXACT | regret at prefix | final regret | "
                  "median suggest wall s after prefix | continuation seconds |",
                  "|---|---|---|---|---|---|---|"]
        ax = axes[0, 1]
        colours = {}
        for run in runs:
            for name, log in run["variants"].items():
                regret = log["best_regret"]
                lines.append(
                    f"| {run['problem']} | {run['seed']} | {name} | "
                    f"{regret[run['prefix'] - 1]:.4g} | {regret[-1]:.4g} | "
                    f"{np.median(log['wall_s']):.2f} | {log['seconds']:.0f} |")
                label = f"MAX_EXACT={name}"
                line, = ax.semilogy(np.arange(1, len(regret) + 1), regret, color=colours.get(name),
                                    label=None if name in colours else label, lw=1)
                colours.setdefault(name, line.get_color())
        ax.axvline(runs[0]["prefix"], color="grey", lw=0.8, ls=":")
        ax.set(xlabel="results", ylabel="best regret", title=f"{runs[0]['problem']}, "
               f"{len(runs)} seeds, {runs[0]['pending'] + 1} workers")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.long_run",
                                description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scaling")
    s.add_argument("--n", default="50,100,200,400,600,800,1000")
    s.add_argument("--pending", type=int, default=7)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--out", required=True)
    r = sub.add_parser("regret")
    r.add_argument("--problem", default="ackley")
    r.add_argument("--seeds", default="0,1")
    r.add_argument("--pending", type=int, default=7)
    r.add_argument("--prefix", type=int, default=400)
    r.add_argument("--budget", type=int, default=600)
    r.add_argument("--max-exact", default="400,100000")
    r.add_argument("--out", required=True)
    g = sub.add_parser("report")
    g.add_argument("--scaling", required=True)
    g.add_argument("--regret", default=None)
    g.add_argument("--png", required=True)
    args = p.parse_args(argv)

    if args.cmd == "scaling":
        ns = [int(v) for v in args.n.split(",")]
        if min(ns) < 1 or args.pending < 0 or args.repeats < 1:
            p.error("--n values must be >= 1, --pending >= 0, --repeats >= 1")
        rows = scaling(ns, args.pending, args.repeats)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    elif args.cmd == "regret":
        if not 0 < args.prefix <= args.budget:
            p.error(f"need 0 < --prefix <= --budget, got {args.prefix}, {args.budget}")
        runs: list[dict[str, Any]] = []
        for seed in (int(v) for v in args.seeds.split(",")):
            runs.append(regret_run(args.problem, seed, args.pending, args.prefix, args.budget,
                                   [int(v) for v in args.max_exact.split(",")]))
            Path(args.out).write_text(json.dumps(runs))  # partial results survive a stop
    else:
        rows = json.loads(Path(args.scaling).read_text())
        runs = json.loads(Path(args.regret).read_text()) if args.regret else []
        print(report(rows, runs, Path(args.png)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
