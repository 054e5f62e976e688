"""The learning-curve problems of benchmarks/curves.py: known optimum, curve shape, and the
misleading early epochs that the scheduler benchmark relies on."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.curves import CURVE_PROBLEMS, T_MAX, get_curve_problem


@pytest.mark.parametrize("name", CURVE_PROBLEMS)
def test_curves_end_at_the_final_value_and_fall_monotonically(name):
    P = get_curve_problem(name)
    U = np.random.default_rng(0).random((200, P.dim))
    for u in U:
        means = [P.mean(u, t) for t in range(0, T_MAX + 1)]
        assert means[-1] == pytest.approx(P.g(u), abs=1e-12)
        assert means[0] == pytest.approx(P.g(u) + P.gap, abs=1e-12)
        assert np.all(np.diff(means) < 0)


@pytest.mark.parametrize("name", CURVE_PROBLEMS)
def test_no_sampled_point_beats_the_stated_optimum(name):
    P = get_curve_problem(name)
    U = np.random.default_rng(1).random((20000, P.dim))
    g = np.array([P.g(u) for u in U])
    assert g.min() >= P.f_star - 1e-12
    assert g.min() - P.f_star < 0.5  # and the optimum is not absurdly far below the samples


def test_reported_values_are_reproducible_noise_around_the_mean():
    P = get_curve_problem("branin_lc")
    u = np.array([0.3, 0.4])
    assert P.value(u, 5, seed=3) == P.value(u, 5, seed=3)
    draws = np.array([P.value(u, 5, seed=s) for s in range(400)]) - P.mean(u, 5)
    assert abs(draws.mean()) < 4 * P.noise / np.sqrt(400)
    assert draws.std() == pytest.approx(P.noise, rel=0.15)


def test_branin_mislead_early_epochs_point_to_the_wrong_basin():
    P = get_curve_problem("branin_mislead")
    best, fast = np.array([0.1239, 0.8183]), np.array([0.9617, 0.1650])
    assert P.g(best) < P.g(fast) - 0.2  # the slow basin is clearly better at the end...
    for t in (1, 3, 9):
        assert P.mean(best, t) > P.mean(fast, t)  # ...and looks worse at every early rung
