"""raybo/strategies/ and raybo/step.py: the surrogate strategies through one BO step, and
pieces of them that are testable on their own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ray import tune
from threadpoolctl import threadpool_info

from raybo.options import DEFAULT
from raybo.space import SearchSpace
from raybo.state import TrialState, is_known
from raybo.step import propose, single_threaded
from raybo.strategies.curve import CurveGP
from raybo.strategies.plain import PlainGP, _to_metric_units
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


@pytest.mark.parametrize("strategy", [PlainGP(), CurveGP(max_resource=4)],
                         ids=lambda s: s.name)
def test_one_step_runs_each_strategy_and_keeps_its_fit(strategy):
    """step.propose with either strategy: a new admissible point, away from every tried or
    pending config, and the strategy's own cache holds the fit for the next warm start."""
    space = SearchSpace({"u": tune.uniform(0, 1), "c": tune.choice(["a", "b", "c"])})
    state = TrialState()
    rng = np.random.default_rng(0)
    for i in range(7):
        x = space.snap(rng.random((1, space.dim)))[0]
        state.add_pending(f"t{i}", space.decode(x), x)
        stop = 4 if i % 2 else 1  # every other trial stopped after its first report
        for t in range(1, stop + 1):
            state.report(f"t{i}", t, (x[0] - 0.3) ** 2 + 1.0 / t)
        if i < 6:  # t6 stays pending
            state.complete(f"t{i}", (x[0] - 0.3) ** 2 + 1.0 / stop)
    X_avoid = np.array([r.x for r in state.records.values()])
    data = strategy.training_data(state, space, "min", 1, DEFAULT)
    assert len(data.X_pending) == 1 and data.X.shape[1] == space.dim + (strategy.name == "curve")
    x = propose(strategy, state, space, "min", "logei", seed=1, X_avoid=X_avoid, opts=DEFAULT)
    assert x.shape == (space.dim,) and np.array_equal(space.snap(x[None])[0], x)
    assert not is_known(x, X_avoid)
    assert strategy.cache.warm_state is not None and strategy.cache.n_fitted == data.n_rows


def test_single_threaded_restores_the_process_wide_thread_settings_also_on_errors():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        settings = (3, [p["num_threads"] for p in threadpool_info()])
        with single_threaded():
            assert torch.get_num_threads() == 1
            assert all(p["num_threads"] == 1 for p in threadpool_info())
        assert (torch.get_num_threads(), [p["num_threads"] for p in threadpool_info()]) == settings
        with pytest.raises(RuntimeError, match="inside"), single_threaded():
            raise RuntimeError("inside")
        assert (torch.get_num_threads(), [p["num_threads"] for p in threadpool_info()]) == settings
    finally:
        torch.set_num_threads(before)
