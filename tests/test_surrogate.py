"""GP fit, posterior, fallbacks and LOO (raybo/surrogate.py) and fantasies (raybo/fantasies.py)."""

from __future__ import annotations

import logging

import numpy as np
import torch

from raybo.fantasies import base_samples, fantasize
from raybo.surrogate import DTYPE, build_posterior, fit_gp, loo_predictions


def _data(n=30, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.random((n, d)), dtype=DTYPE)
    z = torch.sin(6 * X[:, 0]) + X[:, 1] ** 2
    return X, (z - z.mean()) / z.std()


def test_fit_interpolates_smooth_function():
    X, z = _data()
    model = fit_gp(X, z, [])
    post = build_posterior(model, X, z[:, None])
    Xt, zt = _data(n=50, seed=1)
    zt = (torch.sin(6 * Xt[:, 0]) + Xt[:, 1] ** 2 - (torch.sin(6 * X[:, 0]) + X[:, 1] ** 2).mean()
          ) / (torch.sin(6 * X[:, 0]) + X[:, 1] ** 2).std()
    mean, var = post.predict(Xt)
    assert mean.shape == (1, 50) and var.shape == (50,)
    assert torch.sqrt(((mean[0] - zt) ** 2).mean()) < 0.1
    assert (var > 0).all() and var.max() < 0.2


def test_warm_start_reuses_hyperparameters():
    X, z = _data()
    first = fit_gp(X, z, [])
    second = fit_gp(X, z, [], warm_state=first.state_dict())
    ls1 = first.covar_module.lengthscale.detach()
    ls2 = second.covar_module.lengthscale.detach()
    assert torch.allclose(ls1, ls2, rtol=0.05)


def test_categorical_columns_use_overlap_kernel():
    X = torch.tensor([[0.1, 0.25], [0.1, 0.75], [0.9, 0.25], [0.9, 0.75]] * 3, dtype=DTYPE)
    X[:, 0] += torch.linspace(0, 0.05, 12, dtype=DTYPE)
    z = torch.where(X[:, 1] > 0.5, 1.0, -1.0).to(DTYPE)
    model = fit_gp(X, z, cat_cols=[1])
    post = build_posterior(model, X, z[:, None])
    mean, _ = post.predict(torch.tensor([[0.5, 0.25], [0.5, 0.75]], dtype=DTYPE))
    assert mean[0, 0] < -0.5 and mean[0, 1] > 0.5


def test_degenerate_data_degrades_gracefully(caplog):
    X = torch.full((20, 3), 0.5, dtype=DTYPE)  # many identical points
    z = torch.zeros(20, dtype=DTYPE)  # all-equal targets
    with caplog.at_level(logging.WARNING):
        post = build_posterior(fit_gp(X, z, []), X, z[:, None])
    mean, var = post.predict(torch.rand(5, 3, dtype=DTYPE))
    assert torch.isfinite(mean).all() and torch.isfinite(var).all()
    one = fit_gp(X[:1], z[:1] + 1.0, [])  # a single observation
    assert torch.isfinite(build_posterior(one, X[:1], z[:1, None]).predict(X[:2])[0]).all()


def test_loo_matches_refitting_without_each_point():
    X, z = _data(n=15)
    model = fit_gp(X, z, [])
    post = build_posterior(model, X, z[:, None])
    mu, var = loo_predictions(post)
    for i in (0, 7):
        keep = torch.arange(15) != i
        sub = build_posterior(model, X[keep], z[keep, None])
        m, v = sub.predict(X[i:i + 1])
        assert torch.allclose(mu[i], m[0, 0], atol=1e-6)
        assert torch.allclose(var[i], v[0] + post.noise, atol=1e-6)


def test_fantasies_collapse_variance_at_pending_points_and_are_deterministic():
    X, z = _data(n=6)
    post = build_posterior(fit_gp(X, z, []), X, z[:, None])
    X_pending = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=DTYPE)  # far from the data
    eps = base_samples(16, 2, seed=3)
    fant = fantasize(post, X_pending, eps)
    mean, var = fant.predict(X_pending)
    _, var_before = post.predict(X_pending)
    assert mean.shape == (16, 2) and (var < 0.1 * var_before).all()
    assert mean.std(0).min() > 0  # the fantasies differ
    again = fantasize(post, X_pending, base_samples(16, 2, seed=3))
    assert torch.equal(again.predict(X_pending)[0], mean)
    assert fant.best.shape == (16,) and (fant.best <= z.min()).all()
    assert fantasize(post, X_pending[:0], eps[:, :0]) is post
