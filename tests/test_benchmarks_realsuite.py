"""The real-task suite (benchmarks/realsuite.py), its protocol handling of crashed trials and
the normalized scoring (benchmarks/scoring.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from benchmarks.peers import RandomSearcher
from benchmarks.protocol import run_protocol
from benchmarks.realsuite import REAL_SUITE
from benchmarks.registry import get_problem, make_searcher
from benchmarks.scoring import best_of, expected_min, normalized_score, score_runs


def _random_config(problem, seed: int) -> dict:
    s = RandomSearcher(seed=seed)
    s.set_search_properties("loss", "min", problem.space)
    return s.suggest("t")


def test_suite_has_enough_tasks_and_registered():
    assert len(REAL_SUITE) >= 12
    for name in REAL_SUITE:
        assert get_problem(name).name == name


@pytest.mark.parametrize("name", sorted(REAL_SUITE))
def test_task_evaluates_to_finite_nonnegative(name):
    problem = REAL_SUITE[name]()
    for seed in range(30):  # the first config outside the crash region
        config = _random_config(problem, seed)
        try:
            value = problem(config)
        except ValueError:
            continue
        assert math.isfinite(value) and value >= 0.0
        u = problem.unit(config)
        assert np.all((u >= 0.0) & (u <= 1.0))
        return
    pytest.fail("no random config evaluated")


def test_logreg_crash_region_raises():
    problem = REAL_SUITE["logreg_cancer"]()
    config = {"C": 1.0, "solver": "lbfgs", "penalty": "l1", "l1_ratio": 0.5, "max_iter": 50}
    with pytest.raises(ValueError):
        problem(config)
    assert math.isfinite(problem({**config, "solver": "liblinear"}))


def test_divergence_scores_a_finite_bad_value():
    problem = REAL_SUITE["sgd_diabetes_raw"]()
    config = {"loss": "squared_error", "penalty": "l2", "alpha": 1e-6, "l1_ratio": 0.5,
              "eta0": 0.1, "schedule": "constant", "max_iter": 20, "epsilon": 1.0}
    value = problem(config)
    assert math.isfinite(value) and value > 1000.0


def test_protocol_records_crashes_as_failed_trials():
    problem = get_problem("logreg_cancer")
    searcher = make_searcher("random", problem, seed=0, workers=2)
    result = run_protocol(searcher, problem, workers=2, budget=12, seed=0)
    assert len(result.evaluations) == 12
    failed = [e for e in result.evaluations if e.failed]
    assert failed, "a third of this space crashes; 12 draws should hit it"
    assert all(math.isnan(e.value) and e.regret == math.inf for e in failed)
    ok = [e.value for e in result.evaluations if not e.failed]
    assert result.evaluations[-1].best_regret == min(ok)


def test_expected_min_matches_brute_force_enumeration():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    for n in (1, 2, 3, 6):
        brute = np.mean([min(c) for c in itertools.combinations(values, n)])
        assert expected_min(values, n) == pytest.approx(brute, rel=1e-12)


def test_expected_min_matches_monte_carlo():
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=200)
    draws = [values[rng.choice(200, size=16, replace=False)].min() for _ in range(20000)]
    assert expected_min(values, 16) == pytest.approx(np.mean(draws), rel=0.02)


def test_expected_min_ignores_failed_configs():
    values = np.array([2.0, math.inf, 1.0, 3.0])
    brute = np.mean([min(c) for c in itertools.combinations([2.0, 1.0, 3.0], 1)])
    # n = 1: a failed draw leaves nothing; conditioned on success it is the finite mean
    assert expected_min(values, 1) == pytest.approx(brute)


def test_normalized_score_endpoints():
    assert normalized_score(5.0, random_expected=5.0, best_any=1.0) == 0.0
    assert normalized_score(1.0, random_expected=5.0, best_any=1.0) == 100.0
    assert normalized_score(7.0, random_expected=5.0, best_any=1.0) == -50.0


def test_score_runs_uses_pool_and_runs_for_best_any():
    def run(searcher, values, seed=0):
        evals = [{"value": v, "failed": math.isnan(v), "suggest_cpu_s": 0.1} for v in values]
        return {"problem": "t", "searcher": searcher, "seed": seed, "budget": 2,
                "evaluations": evals}

    pool = {"t": np.array([4.0, 6.0, 8.0, 10.0])}
    runs = [run("a", [5.0, 0.5]), run("b", [math.nan, 4.0])]
    cells = score_runs(runs, pool)
    rand = expected_min(pool["t"], 2)
    assert cells[("t", "a")]["scores"] == [pytest.approx(100.0)]
    assert cells[("t", "b")]["scores"] == [pytest.approx(100 * (rand - 4.0) / (rand - 0.5))]
    assert best_of(runs[1]) == 4.0


def test_scores_compare_searchers_on_the_seeds_they_all_finished():
    from benchmarks.scoring import paired

    runs = [{"problem": "t", "searcher": s, "seed": k} for s, ks in
            (("a", [0, 1, 2]), ("b", [0, 2])) for k in ks] + [
        {"problem": "u", "searcher": "a", "seed": 5}]
    kept = sorted((r["problem"], r["searcher"], r["seed"]) for r in paired(runs))
    assert kept == [("t", "a", 0), ("t", "a", 2), ("t", "b", 0), ("t", "b", 2), ("u", "a", 5)]
