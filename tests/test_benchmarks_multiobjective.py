"""The multi-objective benchmark driver (benchmarks/multiobjective.py): its hypervolume against
pymoo's, and one tiny run per kind of searcher."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymoo.indicators.hv import HV

from benchmarks.multiobjective import _problems, hypervolume, log_regret, run_one


@pytest.mark.parametrize("k", [2, 3])
def test_hypervolume_matches_pymoo(k):
    rng = np.random.default_rng(k)
    Y = rng.random((30, k)) * 1.3
    ref = np.full(k, 1.1)
    inside = Y[(Y < ref).all(1)]
    assert math.isclose(hypervolume(Y, ref), float(HV(ref_point=ref)(inside)), rel_tol=1e-12)


def test_true_front_hypervolumes_are_the_known_ones():
    problems = _problems()
    # DTLZ2: the front is the unit sphere's positive part, so HV* = 1.1^k - (its volume)
    assert math.isclose(problems["dtlz2_m2"].max_hv, 1.1**2 - math.pi / 4, rel_tol=1e-9)
    assert math.isclose(problems["dtlz2_m3"].max_hv, 1.1**3 - math.pi / 6, rel_tol=1e-9)
    # a dense sample of DTLZ2's front (g = 0) comes within 1e-3 of HV*
    t = np.linspace(0, math.pi / 2, 2001)
    front = np.stack([np.cos(t), np.sin(t)], 1)
    assert 0 < problems["dtlz2_m2"].max_hv - hypervolume(front, np.full(2, 1.1)) < 1e-3


@pytest.mark.parametrize("searcher", ["gp", "tpe"])
def test_a_tiny_constrained_run_records_what_the_report_reads(searcher):
    problem = _problems()["c2dtlz2"]
    rec = run_one(problem, searcher, seed=0, workers=2, budget=14)
    assert len(rec["hv"]) == len(rec["feasible"]) == 14 and len(rec["suggest_cpu_s"]) == 14
    assert all(a <= b for a, b in zip(rec["hv"], rec["hv"][1:]))  # best-so-far never drops
    assert log_regret(rec["hv"][-1], rec["max_hv"]) <= math.log10(rec["max_hv"])
