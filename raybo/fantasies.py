"""Conditioning the GP on fantasized outcomes of pending trials (Snoek et al. 2012, sec. 3.3).

Notation: ``X: (n, d)`` observed inputs, ``X_pending: (p, d)`` running trials, ``m`` fantasies.
We draw ``m`` joint samples of the noisy outcomes at ``X_pending`` from the current posterior,
using fixed quasi-random base samples so the result is deterministic for a given seed (and the
acquisition stays smooth in the candidate), then condition on each: all ``m`` conditioned GPs
share inputs and covariance, so one Cholesky factor of the (n + p) kernel matrix serves them
all and only the ``(n + p, m)`` right-hand side differs. The acquisition is then averaged over
the ``m`` columns; a pending point has near-zero posterior variance in every fantasy, which is
what stops N workers from all proposing the same point.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import qmc

from raybo.surrogate import DTYPE, Posterior, build_posterior, cholesky


def base_samples(n_fantasies: int, p: int, seed: int) -> torch.Tensor:
    """Fixed standard-normal base samples ``(m, p)`` from a scrambled Sobol sequence."""
    draws = qmc.MultivariateNormalQMC(np.zeros(p), seed=seed).random(n_fantasies)
    return torch.as_tensor(draws.reshape(n_fantasies, p), dtype=DTYPE)


def fantasize(post: Posterior, X_pending: torch.Tensor, eps: torch.Tensor) -> Posterior:
    """Posterior conditioned on ``m`` sampled outcomes at ``X_pending: (p, d)``, given base
    samples ``eps: (m, p)``. Returns a posterior with ``m`` target columns and per-column
    incumbents that include the fantasized values."""
    if len(X_pending) == 0:
        return post
    with torch.no_grad():
        mean, _ = post.predict(X_pending)  # (1, p)
        Kpn = post.kernel(X_pending, post.X)
        v = torch.linalg.solve_triangular(post.L, Kpn.T, upper=False)
        cov = post.kernel(X_pending, X_pending) - v.T @ v
        cov = cov + post.noise * torch.eye(len(X_pending), dtype=DTYPE)  # outcomes are noisy
        Lp = cholesky(0.5 * (cov + cov.T))
        Yf = mean[0] + eps @ Lp.T  # (m, p)
        m = eps.shape[0]
        Y = torch.cat([post.Y[:, :1].expand(-1, m), Yf.T], dim=0)  # (n + p, m)
        X = torch.cat([post.X, X_pending], dim=0)
    return build_posterior(post.model, X, Y, post.plugin)
