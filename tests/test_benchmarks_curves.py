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


def _record(arm, seed, finals_at):
    """A fake run: one report per epoch, trial k finishing with final value v at epoch e."""
    events, done = [], dict(finals_at)
    for e in range(1, 101):
        final = done.get(e)
        events.append({"wall": e / 10, "epochs": e, "trial": f"t{e}", "t": 27 if final else 1,
                       "value": 1.0, "final": final})
    return {"problem": "branin_lc", "arm": arm, "seed": seed, "budget": 100, "max_t": 27,
            "wall_s": 10.0, "n_trials": 10, "n_errored": 0, "events": events}


def test_scheduler_summary_counts_epochs_to_reach_the_references():
    from benchmarks.schedulers import best_at, epochs_to_reach, summary

    rand = _record("random-asha", 0, {40: 0.5, 90: 0.3})
    mine = _record("mfgp-asha", 0, {25: 0.6, 30: 0.2})
    assert best_at(mine, 29) == 0.6 and best_at(mine, 24) == float("inf")
    assert epochs_to_reach(mine, 0.3) == 30  # random's final best 0.3, reached at epoch 30
    table = summary([rand, mine, _record("bohb", 0, {50: 0.4})])
    row = next(line for line in table.splitlines() if "| mfgp-asha |" in line)
    assert "0.30 (1/1 reached)" in row  # 30 of random's 100 epochs
    assert row.endswith("| y/y/y/y |")  # 0.6 < inf at 25, then 0.2 < 0.4 at 50, 75, 100
