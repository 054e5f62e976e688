"""The plain GP strategy: one GP over configurations, fitted to each trial's final value.

Notation: ``X_obs: (n, d)``, ``X_failed: (f, d)``, ``X_pending: (p, d)`` in [0, 1]^d; the GP is
trained on ``(n + f)`` rows (failures imputed by ``targets.gp_targets``), at most
``EngineOptions.max_exact`` of them (``_subset``). Also the surrogate's leave-one-out
diagnostics (``GPSearch.diagnostics``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from raybo.fantasies import fantasize
from raybo.options import EngineOptions
from raybo.space import CAT, SearchSpace
from raybo.state import TrialState
from raybo.strategies.base import PLAIN, FitCache, TrainingData
from raybo.surrogate import (
    DTYPE,
    FitError,
    Posterior,
    RayboGP,
    build_posterior,
    fit_gp,
    loo_predictions,
)
from raybo.targets import OutputTransform, gp_targets, to_minimize

LOO_BAND_Z = 1.96  # half-width of the two-sided 95% normal band, in GP standard deviations


def cat_columns(space: SearchSpace) -> list[int]:
    """Indices of the space's categorical columns (the GP's overlap kernel acts on them)."""
    return [j for j, kind in enumerate(space.kinds) if kind == CAT]


class PlainGP:
    """``Strategy`` (see ``strategies/__init__.py``) of the plain GP."""

    name = PLAIN

    def __init__(self) -> None:
        self.cache = FitCache()

    def training_data(self, state: TrialState, space: SearchSpace, mode: str, seed: int,
                      opts: EngineOptions) -> TrainingData:
        X_obs, y, X_failed, X_pending = state.arrays(space.dim)
        z, _ = gp_targets(to_minimize(y, mode), len(X_failed), opts.output_warp == "yeo_johnson",
                          opts.winsorize, opts.divergence_ratio)
        X = np.vstack([X_obs, X_failed])
        n_obs, n_rows = len(X_obs), len(X)  # rows counted before subsetting, which caps them
        # optimizer seeds: the best observations, taken before subsetting
        X_best = X[:n_obs][np.argsort(z[:n_obs], kind="stable")[:opts.n_best_seeds]]
        X, z = _subset(X, z, seed, opts)
        return TrainingData(X, z, X_pending, X_pending, X_obs, n_rows, X_best)

    def fit(self, data: TrainingData, space: SearchSpace,
            warm_state: dict[str, torch.Tensor] | None, optimize: bool,
            opts: EngineOptions) -> RayboGP:
        Xt, zt = data.tensors()
        return fit_gp(Xt, zt, cat_columns(space), warm_state, optimize=optimize, opts=opts,
                      structure=space.structure)

    def posterior(self, model: RayboGP, data: TrainingData, eps: torch.Tensor,
                  opts: EngineOptions) -> Posterior:
        Xt, zt = data.tensors()
        post = build_posterior(model, Xt, zt[:, None], opts.incumbent == "posterior_mean")
        return fantasize(post, torch.as_tensor(data.rows_pending, dtype=DTYPE), eps,
                         opts.max_fantasized or None)

    def seeds(self, model: RayboGP, data: TrainingData, opts: EngineOptions) -> np.ndarray:
        return data.X_best



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
        post = build_posterior(fit_gp(Xt, zt, cat_columns(space), structure=space.structure),
                               Xt, zt[:, None])
    except FitError as err:
        return {"n": int(len(y)), "error": str(err)}
    with torch.no_grad():
        mu, var = loo_predictions(post)
    mu, sd = mu.numpy(), np.sqrt(var.numpy())
    sign = -1.0 if mode == "max" else 1.0
    pred, pred_sd = _to_metric_units(tf, mu, sd, y_min)
    pred = sign * pred
    # The 95% band is Gaussian in the GP's (warped) space; its ends mapped back through the
    # monotone inverse warp are the band in metric units, so counting observations inside it
    # is the same as counting standardized residuals within +-1.96.
    ends = _band_ends(tf, mu, sd, y_min)
    lower, upper = (ends[0], ends[1]) if mode != "max" else (-ends[1], -ends[0])
    inside = (lower <= y) & (y <= upper)
    return {
        "n": int(len(y)),
        "loo_rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "loo_calibration": float(np.mean(inside)),
        "observed": [float(v) for v in y],
        "predicted": [float(v) for v in pred],
        "predicted_std": [float(v) for v in pred_sd],
        "lower": [float(v) for v in lower],
        "upper": [float(v) for v in upper],
    }


def _band_ends(tf: OutputTransform, mu: np.ndarray, sd: np.ndarray, y_min: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Ends ``(n,)`` of each GP-space band ``mu +- LOO_BAND_Z sd`` as values to minimize,
    clipped like ``_to_metric_units``' predictions (the clip never moves an end past an
    observation, so which observations lie inside is unchanged)."""
    lo, hi = float(y_min.min()), float(y_min.max())
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    with np.errstate(over="ignore", invalid="ignore"):
        down = np.nan_to_num(tf.inverse(mu - LOO_BAND_Z * sd), nan=lo - span)
        up = np.nan_to_num(tf.inverse(mu + LOO_BAND_Z * sd), nan=hi + span)
    return np.clip(down, lo - span, hi + span), np.clip(up, lo - span, hi + span)


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
