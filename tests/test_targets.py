"""Sign flip, output warping and failure imputation (raybo/targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from raybo.targets import OutputTransform, divergent, gp_targets, to_minimize


def test_max_mode_flips_sign_once():
    assert to_minimize(np.array([1.0, -2.0]), "max").tolist() == [-1.0, 2.0]
    assert to_minimize(np.array([1.0, -2.0]), "min").tolist() == [1.0, -2.0]


def test_transform_standardizes_keeps_order_and_inverts():
    y = np.exp(np.random.default_rng(0).normal(0, 3, size=50))  # losses over many decades
    tf = OutputTransform.fit(y)
    z = tf(y)
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-9
    assert (np.argsort(z) == np.argsort(y)).all()
    assert np.allclose(tf.inverse(z), y, rtol=1e-6)


def test_transform_reduces_skew_of_heavy_tails():
    y = np.exp(np.random.default_rng(1).normal(0, 2, size=60))
    assert abs(stats.skew(OutputTransform.fit(y)(y))) < 0.5 * abs(stats.skew(y))


@pytest.mark.parametrize("y", [[], [3.0], [2.0, 2.0, 2.0], [1e12, 1e12 + 1, 1e12 + 2],
                               [1e-12, 2e-12, 3e-12, 4e-12]])
def test_degenerate_inputs_stay_finite(y):
    y = np.array(y, dtype=float)
    tf = OutputTransform.fit(y)
    assert np.isfinite(tf(y)).all() and np.allclose(tf.inverse(tf(y)), y, rtol=1e-9, atol=0)


def test_failures_get_worst_observed_target():
    z, _ = gp_targets(np.array([0.1, 0.5, 0.3]), n_failed=2)
    assert z.shape == (5,) and z[3] == z[4] == z[:3].max()
    z, _ = gp_targets(np.array([]), n_failed=2)
    assert z.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("y, flagged", [
    # a diverged SGD run's log-loss of 13-23 above a plateau near log(3) and one good model
    ([15.0, 0.74, 1.1, 1.1, 1.12, 13.0, 20.0, 23.0], [0, 5, 6, 7]),
    # a diverged loss reported as a huge finite number
    ([0.1, 3.0, 2.0, 1e6, 1e6, 0.5], [3, 4]),
    # accuracy to maximize, flipped: chance-level runs far below the trained ones
    ([-0.98, -0.97, -0.95, -0.1, -0.1], [3, 4]),
    # a smooth heavy tail (Branin-like values) is signal: nothing is cut
    ([0.5, 10.0, 12.0, 40.0, 250.0], []),
    (np.exp(np.random.default_rng(0).normal(0, 1.5, size=60)).tolist(), []),
    # too few values below any gap to tell divergence from signal
    ([0.1, 0.2, 1e6], []),
])
def test_divergent_values_are_those_above_a_gap_far_wider_than_the_spread_below(y, flagged):
    mask = divergent(np.array(y), ratio=10.0)
    assert np.flatnonzero(mask).tolist() == flagged
    assert not divergent(np.array(y), ratio=0.0).any()  # off


def test_divergent_values_become_the_worst_of_the_rest_like_failures():
    y = np.array([0.3, 0.5, 0.4, 0.45, 1e6, 2e6])
    z, _ = gp_targets(y, n_failed=1, divergence=10.0)
    rest, _ = gp_targets(y[:4], n_failed=3)  # the same as the two runs failing outright
    assert np.allclose(z, rest[[0, 1, 2, 3, 4, 5, 6]])
    z_off, _ = gp_targets(y, n_failed=1)
    assert z_off[4] < z_off[5]  # without the rule the huge values are fitted as numbers
