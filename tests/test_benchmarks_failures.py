"""Problems with the optimum next to a failure region (benchmarks/failures.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.failures import ACTS, BATCHES, CLIFF, FAILURE_PROBLEMS, LR_BEST, MEMORY
from benchmarks.protocol import run_protocol
from benchmarks.registry import make_searcher


def _random_configs(name: str, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    if name == "fail_oom":
        return [{"lr": 10 ** rng.uniform(-5, 0), "width": int(rng.integers(8, 1025)),
                 "batch": int(rng.choice(BATCHES)), "act": str(rng.choice(ACTS)),
                 "dropout": rng.uniform(0, 0.5)} for _ in range(n)]
    return [{"lr": 10 ** rng.uniform(-5, 0), "x1": rng.uniform(-5, 10), "x2": rng.uniform(0, 15)}
            for _ in range(n)]


@pytest.mark.parametrize("name", ["fail_crash", "fail_nan", "fail_huge"])
def test_cliff_optimum_is_zero_just_below_the_failure_region(name):
    p = FAILURE_PROBLEMS[name]()
    lr_best = 10 ** (LR_BEST * 5 - 5)
    for x1, x2 in [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]:  # Branin's minima
        assert p({"lr": lr_best, "x1": x1, "x2": x2}) == pytest.approx(0.0, abs=1e-9)
    values = []
    for c in _random_configs(name, 400):
        diverges = (math.log10(c["lr"]) + 5) / 5 > CLIFF
        if diverges and name == "fail_crash":
            with pytest.raises(FloatingPointError):
                p(c)
            continue
        v = p(c)
        if diverges:
            assert math.isnan(v) if name == "fail_nan" else v >= 1e6
        else:
            values.append(v)
            assert v >= -1e-12
    assert 100 < len(values) < 400  # both regions are sampled


def test_oom_optimum_is_the_best_config_that_fits_found_by_enumeration():
    p = FAILURE_PROBLEMS["fail_oom"]()
    # brute force over the integer grid, independent of the module's own search
    best = min(((1 - math.log2(w) / 10) ** 2 + 0.3 * (1 - math.log2(b) / 8) ** 2, w, b)
               for w in range(8, 1025) for b in BATCHES if w * b <= MEMORY)
    _, w, b = best
    assert w * b == MEMORY  # the optimum lies on the memory limit
    assert p({"lr": 10 ** -2.5, "width": w, "batch": b, "act": "relu", "dropout": 0.1}) == \
        pytest.approx(0.0, abs=1e-12)
    with pytest.raises(MemoryError):
        p({"lr": 1e-3, "width": w + 1, "batch": b, "act": "relu", "dropout": 0.1})
    for c in _random_configs("fail_oom", 300):
        if c["width"] * c["batch"] <= MEMORY:
            assert p(c) >= -1e-12


@pytest.mark.parametrize("name", ["fail_crash", "fail_nan"])
def test_protocol_records_crashes_and_nan_as_failures_and_keeps_the_best(name):
    p = FAILURE_PROBLEMS[name]()
    run = run_protocol(make_searcher("random", p, 0, 2), p, workers=2, budget=40, seed=0)
    failed = [e for e in run.evaluations if e.failed]
    assert failed and len(failed) < 40
    assert all(math.isnan(e.value) for e in failed)
    ok = [e.regret for e in run.evaluations if not e.failed]
    assert run.evaluations[-1].best_regret == min(ok)
