"""raybo/strategies/plain.py: pieces of the plain-GP strategy that are testable on their own."""

from __future__ import annotations

import numpy as np

from raybo.strategies.plain import _to_metric_units
from raybo.targets import OutputTransform


def test_loo_predictions_stay_finite_where_the_warp_inverse_explodes():
    # Heavy right tail -> Yeo-Johnson lambda < 0, whose inverse has a pole: a LOO mean just past
    # it must not come back as 1e171 (seen on a real CNN run) and poison the LOO RMSE.
    y = np.array([0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.2, 0.9, 1.9])
    tf = OutputTransform.fit(y)
    assert tf.lam is not None and tf.lam < 0
    z = tf(y)
    mu = np.concatenate([z[:-1], [z.max() + 10.0]])  # last prediction far past the range
    sd = np.full_like(mu, 0.5)
    pred, pred_sd = _to_metric_units(tf, mu, sd, y)
    assert np.all(np.isfinite(pred)) and np.all(np.isfinite(pred_sd))
    np.testing.assert_allclose(pred[:-1], y[:-1], rtol=1e-9)  # inside the range: exact inverse
    span = y.max() - y.min()
    assert pred[-1] == y.max() + span and pred_sd.max() <= 2 * span
