"""Sign flip, output warping and failure imputation (raybo/targets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from raybo.targets import OutputTransform, gp_targets, to_minimize


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
