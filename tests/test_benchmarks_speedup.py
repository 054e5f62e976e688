"""Parallel speed-up from run records (benchmarks/speedup.py)."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.protocol import run_protocol
from benchmarks.registry import get_problem, make_searcher
from benchmarks.speedup import best_at, median_time_to, speedups


def _run(problem: str, workers: int, seed: int, regrets: list[float], dt: float) -> dict:
    best = np.minimum.accumulate(regrets)
    return {"problem": problem, "searcher": "s", "workers": workers, "seed": seed,
            "evaluations": [{"end": dt * (i + 1), "best_regret": float(b)}
                            for i, b in enumerate(best)]}


def test_the_same_trajectory_in_a_quarter_of_the_time_is_a_fourfold_speed_up():
    regrets = [[5.0, 3.0, 2.0, 1.0, 0.5], [4.0, 4.0, 1.0, 0.7, 0.6], [6.0, 2.0, 2.0, 1.5, 0.4]]
    records = [_run("p", 1, k, r, 1.0) for k, r in enumerate(regrets)]
    records += [_run("p", 4, k, r, 0.25) for k, r in enumerate(regrets)]
    records += [_run("p", 16, k, [9.0] * 5, 0.0625) for k in range(3)]  # never gets there
    rows = {r["workers"]: r for r in speedups(records)}
    assert rows[1]["target"] == 0.5 and rows[1]["median_time"] == 5.0
    assert rows[4]["speedup"] == 4.0
    assert rows[16]["speedup"] == 0.0 and math.isinf(rows[16]["median_time"])
    assert best_at(records[0]["evaluations"], np.array([0.5, 2.0, 9.0])).tolist() == [
        math.inf, 3.0, 0.5]
    assert median_time_to(records[:3], 2.0) == 3.0  # seeds reach 2 at 3, 3, 2: median 3


def test_random_search_speeds_up_about_linearly_through_the_protocol():
    """Random search's quality does not depend on W, so W workers reach its W = 1 result about
    W times sooner: a check of the protocol's clock and of the measure together."""
    problem = get_problem("branin")
    records = []
    for w in (1, 4):
        for seed in range(9):
            run = run_protocol(make_searcher("random", problem, seed, w), problem, workers=w,
                               budget=40, seed=seed)
            records.append({"problem": "branin", "searcher": "random", "workers": w,
                            "seed": seed, "evaluations": [vars(e) for e in run.evaluations]})
    rows = {r["workers"]: r for r in speedups(records)}
    assert 2.0 < rows[4]["speedup"] < 8.0
