"""Run one benchmark problem through real ``tune.run`` with ``max_concurrent_trials``.

This checks the searcher inside Tune's own controller (asynchronous completions, trial
ids, checkpoints of searcher state) rather than the in-process protocol driver.  The
trainable is a module-level function of the ``benchmarks`` package: Ray workers import it
by name, which works because Ray ships the driver's ``sys.path`` (the repo root when run
as ``python -m benchmarks.run``) to its workers.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from ray import tune

from benchmarks.registry import METRIC, MODE, get_problem, make_searcher
from benchmarks.store import RunStore

TUNE_RUNS = "tune_runs.jsonl.gz"  # beside the protocol's runs.jsonl.gz in the same folder

RAY_TMP = os.environ.get("RAYBO_BENCH_RAY_TMP", "/tmp/raybo_bench_ray")


def evaluate(config: dict, problem: str) -> None:
    """Tune function trainable: evaluates problem ``problem`` at ``config`` once."""
    tune.report({METRIC: get_problem(problem)(config)})


def run_tune(problem: str, searcher: str, workers: int, seed: int, budget: int, out: Path) -> str:
    """Run ``budget`` trials via ``tune.run``; appends its record to ``<out>/tune_runs.jsonl.gz``
    and returns a status line."""
    import ray

    prob = get_problem(problem)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address="local",
            num_cpus=max(2, workers),
            _temp_dir=RAY_TMP,
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        alg = make_searcher(searcher, prob, seed, workers, set_space=False)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as storage:
            analysis = tune.run(
                tune.with_parameters(evaluate, problem=problem),
                config=prob.space,
                search_alg=alg,
                metric=METRIC,
                mode=MODE,
                num_samples=budget,
                max_concurrent_trials=workers,
                storage_path=storage,
                verbose=0,
                resources_per_trial={"cpu": 1},
            )
        wall = time.perf_counter() - t0
    finally:
        if started_here:
            ray.shutdown()
    trials = sorted(analysis.trials, key=lambda t: t.trial_id)
    values = [t.last_result.get(METRIC, np.nan) for t in trials]
    regrets = [prob.regret(v) for v in values if np.isfinite(v)]
    record = {
        "problem": problem,
        "searcher": searcher,
        "workers": workers,
        "seed": seed,
        "budget": budget,
        "n_trials": len(trials),
        "n_errored": sum(t.status == "ERROR" for t in trials),
        "best_regret": min(regrets) if regrets else None,
        "wall_s": wall,
    }
    RunStore(out, TUNE_RUNS).append(record)
    return (
        f"tune.run {problem} {searcher} W={workers}: {len(trials)} trials, "
        f"best regret {record['best_regret']}, {wall:.0f} s"
    )
