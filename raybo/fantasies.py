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


def fantasize(post: Posterior, X_pending: torch.Tensor, eps: torch.Tensor,
              n_sampled: int | None = None) -> Posterior:
    """Posterior conditioned on ``m`` sampled outcomes at ``X_pending: (p, d)``, given base
    samples ``eps: (m, p)``. Returns a posterior with ``m`` target columns and per-column
    incumbents that include the fantasized values.

    ``n_sampled``: only the ``n_sampled`` pending points with the lowest posterior mean are
    sampled; every other one is set to its mean *conditional on those samples* (a Kriging
    believer for the rest). Pending points are reordered so the sampled ones lead the joint
    Cholesky factor, and the base samples of the others are zero. All pending points still
    remove variance (that does not depend on the values); what the cap limits is how far
    fantasized values lower the incumbent, which with 15+ pending makes the next point
    needlessly exploratory (benchmarks/results/ablations).
    """
    if len(X_pending) == 0:
        return post
    with torch.no_grad():
        mean, _ = post.predict(X_pending)  # (1, p)
        if n_sampled is not None and n_sampled < len(X_pending):
            order = torch.argsort(mean[0], stable=True)
            X_pending, mean = X_pending[order], mean[:, order]
            eps = eps.clone()
            eps[:, n_sampled:] = 0.0
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
