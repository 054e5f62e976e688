"""One Bayesian-optimization step: trial records -> GP targets -> fit -> fantasies -> acquisition
-> optimizer -> the next point. Also the surrogate's leave-one-out diagnostics.

Notation: ``X_obs: (n, d)``, ``X_failed: (f, d)``, ``X_pending: (p, d)`` in [0, 1]^d; the GP is
trained on ``(n + f)`` rows (failures imputed by ``targets.gp_targets``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from raybo.acquisition import ACQUISITIONS
from raybo.fantasies import base_samples, fantasize
from raybo.optimize import maximize
from raybo.options import DEFAULT, EngineOptions
from raybo.space import CAT, SearchSpace
from raybo.state import TrialState
from raybo.surrogate import (
    DTYPE,
    FitError,
    build_posterior,
    fit_gp,
    loo_predictions,
)
from raybo.targets import OutputTransform, gp_targets, to_minimize

logger = logging.getLogger(__name__)



@dataclass
class FitCache:
    """Hyperparameters of the last fit, used to warm-start the next one (never persisted)."""

    warm_state: dict[str, torch.Tensor] | None = None
    n_fitted: int = 0  # training rows when the hyperparameters were last optimized

    def needs_refit(self, n: int, opts: EngineOptions = DEFAULT) -> bool:
        """Hyperparameters are re-optimized below ``refit_always`` rows and once the training
        set grew by ``refit_growth`` since the last optimization (see ``EngineOptions``)."""
        return (self.warm_state is None or n < opts.refit_always
                or n - self.n_fitted >= round(opts.refit_growth * self.n_fitted))

    def remember(self, model: torch.nn.Module, refit: bool, n_rows: int) -> None:
        """Keep ``model``'s hyperparameters for the next warm start; ``n_rows`` if refitted."""
        self.warm_state = {k: v.clone() for k, v in model.state_dict().items()}
        if refit:
            self.n_fitted = n_rows

    def forget(self, err: Exception) -> None:
        """No usable fit: warn (the caller suggests a quasi-random point) and start cold."""
        warnings.warn(f"GPSearch: {err}; suggesting a quasi-random point instead", stacklevel=5)
        self.warm_state = None


def cat_columns(space: SearchSpace) -> list[int]:
    """Indices of the space's categorical columns (the GP's overlap kernel acts on them)."""
    return [j for j, kind in enumerate(space.kinds) if kind == CAT]


def pending_samples(p: int, seed: int, opts: EngineOptions) -> torch.Tensor:
    """Base samples ``(m, p)`` for fantasizing ``p`` pending trials (``fantasies.fantasize``):
    ``opts.n_fantasies`` QMC normals, or one row of zeros with ``pending_mode="believer"``
    (Kriging believer: the pending outcomes at their posterior mean)."""
    if opts.pending_mode == "believer":
        return torch.zeros(1, p, dtype=DTYPE)
    return base_samples(opts.n_fantasies, p, seed)


def single_threaded(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` with one torch thread and one BLAS/OpenMP thread. The matrices of a
    suggest are small (n <= MAX_EXACT): one thread is faster than several, and on a busy
    machine (trials on every core) spinning thread pools slow suggest 5-10x. Restored
    afterwards: both are process-wide settings."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return fn(*args)
    finally:
        torch.set_num_threads(threads)


def maximize_acquisition(post: Any, acquisition: str, space: SearchSpace, seed: int,
                         X_best: np.ndarray, X_avoid: np.ndarray, X_pending: np.ndarray,
                         opts: EngineOptions) -> np.ndarray:
    """The point ``(d,)`` maximizing ``acquisition`` of ``post`` (a posterior, fantasized over
    the pending trials, with ``predict(X: (k, d)) -> (m, k)`` mean and variance and ``best``:
    ``(m,)``), averaged over the fantasies by ``optimize.maximize``; conditional spaces let
    the optimizer choose branches."""
    acq = ACQUISITIONS[acquisition]

    def f(Xc: torch.Tensor) -> torch.Tensor:
        mean, var = post.predict(Xc)
        return acq(mean, var, post.best)

    return maximize(f, space.dim, space.levels(), space.snap, seed, X_best=X_best,
                    X_avoid=X_avoid, X_pending=X_pending, opts=opts,
                    tree=space if space.conditional else None)


def _training_data(state: TrialState, space: SearchSpace, mode: str,
                   opts: EngineOptions = DEFAULT
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, OutputTransform, int]:
    """``X: (n + f, d)``, GP targets ``z: (n + f,)``, ``X_pending``, transform and ``n``."""
    X_obs, y, X_failed, X_pending = state.arrays(space.dim)
    z, tf = gp_targets(to_minimize(y, mode), len(X_failed), opts.output_warp == "yeo_johnson",
                       opts.winsorize)
    return np.vstack([X_obs, X_failed]), z, X_pending, tf, len(X_obs)


def _subset(X: np.ndarray, z: np.ndarray, seed: int, opts: EngineOptions
            ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``opts.max_exact`` rows: the ones nearest the incumbent (a trust region in the
    spirit of TuRBO, Eriksson et al. 2019, where the acquisition's maximum almost always lies
    late in a run) plus a random spread of the rest, so the global trend stays modelled."""
    if len(X) <= opts.max_exact:
        return X, z
    incumbent = X[int(np.argmin(z))]
    near = np.argsort(np.linalg.norm(X - incumbent, axis=1), kind="stable")
    n_local = opts.max_exact - opts.n_global_in_subset
    rest = near[n_local:]
    spread = np.random.default_rng(seed).choice(rest, opts.n_global_in_subset, replace=False)
    keep = np.sort(np.concatenate([near[:n_local], spread]))
    return X[keep], z[keep]


def propose(state: TrialState, space: SearchSpace, mode: str, acquisition: str, seed: int,
            cache: FitCache, X_avoid: np.ndarray, opts: EngineOptions = DEFAULT
            ) -> np.ndarray | None:
    """Next point ``x: (d,)`` maximizing the acquisition averaged over fantasies of the pending
    trials, or None if no GP could be fitted (the caller then uses a quasi-random point)."""
    return single_threaded(_propose, state, space, mode, acquisition, seed, cache, X_avoid, opts)


def _propose(state: TrialState, space: SearchSpace, mode: str, acquisition: str, seed: int,
             cache: FitCache, X_avoid: np.ndarray, opts: EngineOptions) -> np.ndarray | None:
    X, z, X_pending, _, n_obs = _training_data(state, space, mode, opts)
    X_best = X[:n_obs][np.argsort(z[:n_obs], kind="stable")[:opts.n_best_seeds]]
    n_rows = len(X)  # counted before subsetting, which caps the rows
    refit = cache.needs_refit(n_rows, opts)
    X, z = _subset(X, z, seed, opts)
    cat_cols = cat_columns(space)
    Xt, zt = torch.as_tensor(X, dtype=DTYPE), torch.as_tensor(z, dtype=DTYPE)
    try:
        tree = space.tree or None
        model = fit_gp(Xt, zt, cat_cols, cache.warm_state, optimize=refit, opts=opts, tree=tree)
        post = build_posterior(model, Xt, zt[:, None], opts.incumbent == "posterior_mean")
        eps = pending_samples(len(X_pending), seed, opts)
        post = fantasize(post, torch.as_tensor(X_pending, dtype=DTYPE), eps,
                         opts.max_fantasized or None)
    except FitError as err:
        cache.forget(err)
        return None
    cache.remember(model, refit, n_rows)
    return maximize_acquisition(post, acquisition, space, seed, X_best, X_avoid, X_pending, opts)


def loo_diagnostics(state: TrialState, space: SearchSpace, mode: str) -> dict[str, Any]:
    """Leave-one-out predictions of the successful trials, in metric units (see
    ``GPSearch.diagnostics``)."""
    X_obs, y, _, _ = state.arrays(space.dim)
    if len(y) < 3:
        return {"n": int(len(y))}
    y_min = to_minimize(y, mode)
    tf = OutputTransform.fit(y_min)
    Xt = torch.as_tensor(X_obs, dtype=DTYPE)
    zt = torch.as_tensor(tf(y_min), dtype=DTYPE)
    try:
        post = build_posterior(fit_gp(Xt, zt, cat_columns(space), tree=space.tree or None), Xt,
                               zt[:, None])
    except FitError as err:
        return {"n": int(len(y)), "error": str(err)}
    with torch.no_grad():
        mu, var = loo_predictions(post)
    mu, sd = mu.numpy(), np.sqrt(var.numpy())
    resid = (zt.numpy() - mu) / sd
    sign = -1.0 if mode == "max" else 1.0
    pred, pred_sd = _to_metric_units(tf, mu, sd, y_min)
    pred = sign * pred
    return {
        "n": int(len(y)),
        "loo_rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "loo_calibration": float(np.mean(np.abs(resid) <= 1.96)),
        "observed": [float(v) for v in y],
        "predicted": [float(v) for v in pred],
        "predicted_std": [float(v) for v in pred_sd],
    }


def _to_metric_units(tf: OutputTransform, mu: np.ndarray, sd: np.ndarray, y_min: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """GP-space LOO means and std ``(n,)`` -> values to minimize and their std.

    A Yeo-Johnson transform with lambda < 0 has a bounded range, and its inverse explodes near
    the edge (a LOO mean a little beyond it came back as 1e171 on a real CNN run). Predictions
    are clipped to the observed range widened by its span on each side: the LOO error of an
    outlier then stays large but finite, which is what a diagnostic should show.
    """
    lo, hi = float(y_min.min()), float(y_min.max())
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    with np.errstate(over="ignore", invalid="ignore"):
        pred = np.clip(np.nan_to_num(tf.inverse(mu), nan=hi + span), lo - span, hi + span)
        up, down = tf.inverse(mu + sd), tf.inverse(mu - sd)
        pred_sd = np.nan_to_num(np.abs(up - down) / 2, nan=span, posinf=span)
    return pred, np.minimum(pred_sd, 2 * span)
