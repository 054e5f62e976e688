"""The learning-curve strategy: one GP over (configuration, resource) that predicts final values
(``fidelity.py``), used once a trial ended below the maximum resource (a scheduler stopped it).

Notation as in ``fidelity.py``: ``t_max`` the maximum resource, rows ``Z: (N, d + 1)`` with
``r = t / t_max``, ``X_pending: (p, d)``. Targets are standardized over all rows without
``EngineOptions.output_warp`` (see ``_data``). Failed trials enter as one row at ``r = 1`` with the
worst GP target (as in ``targets.gp_targets``); a finished trial without reports (a known point
from ``evaluated_rewards``, or results without the resource key) as one row at ``r = 1``.

``EngineOptions`` apply as for the plain GP, except two: ``output_warp`` (see ``_data``) and
``incumbent``: the incumbent here is always the lowest predicted *final* value of a seen
configuration (``fidelity.final_posterior``), because a stopped trial has no observed final
value to improve on. Running trials are fantasized at the level they are heading to.
"""

from __future__ import annotations

import numpy as np
import torch

from raybo.fidelity import FinalPosterior, curve_rows, final_posterior, fit_curve_gp
from raybo.options import EngineOptions
from raybo.rungs import next_level
from raybo.space import SearchSpace
from raybo.state import DONE, FAILED, PENDING, TrialState
from raybo.strategies.base import CURVE, FitCache, TrainingData
from raybo.strategies.plain import cat_columns
from raybo.surrogate import DTYPE
from raybo.targets import gp_targets, to_minimize


def stopped_early(state: TrialState, t_max: float) -> bool:
    """Whether some finished trial's last report lies below ``t_max`` (it was stopped)."""
    return any(r.status == DONE and r.reports and r.reports[-1][0] < t_max
               for r in state.records.values())


class CurveGP:
    """``Strategy`` (see ``strategies/__init__.py``) of the learning-curve GP. ``max_resource``:
    the final fidelity, or None for the highest level any trial has reported so far."""

    name = CURVE

    def __init__(self, max_resource: float | None = None) -> None:
        self.cache = FitCache()
        self.max_resource = max_resource

    def training_data(self, state: TrialState, space: SearchSpace, mode: str, seed: int,
                      opts: EngineOptions) -> TrainingData:
        t_max = self.max_resource or state.max_resource()
        return _data(state, space.dim, mode, t_max, opts)

    def fit(self, data: TrainingData, space: SearchSpace,
            warm_state: dict[str, torch.Tensor] | None, optimize: bool, opts: EngineOptions):
        Zt, zt = data.tensors()
        return fit_curve_gp(Zt, zt, cat_columns(space), warm_state, optimize=optimize, opts=opts,
                            structure=space.structure)

    def posterior(self, model, data: TrainingData, eps: torch.Tensor,
                  opts: EngineOptions) -> FinalPosterior:
        Zt, zt = data.tensors()
        return final_posterior(model, Zt, zt, _seen(data),
                               torch.as_tensor(data.rows_pending, dtype=DTYPE), eps,
                               opts.max_fantasized or None)

    def seeds(self, model, data: TrainingData, opts: EngineOptions) -> np.ndarray:
        """The observed configurations predicted best at the final fidelity."""
        Zt, zt = data.tensors()
        with torch.no_grad():
            mean, _ = final_posterior(model, Zt, zt, _seen(data)).predict(
                torch.as_tensor(data.X_obs, dtype=DTYPE))
        return data.X_obs[np.argsort(mean[0].numpy(), kind="stable")[:opts.n_best_seeds]]



def _seen(data: TrainingData) -> torch.Tensor:
    """Configurations (observed, then pending) whose predicted final values define ``best``."""
    return torch.as_tensor(np.vstack([data.X_obs, data.X_pending]), dtype=DTYPE)


def _data(state: TrialState, d: int, mode: str, t_max: float, opts: EngineOptions
          ) -> TrainingData:
    """Rows ``Z``, GP targets ``z``, pending configurations and their rows ``Z_pending: (p, d +
    1)`` at the level each is heading to, and ``X_obs`` (configurations with a report)."""
    X_obs, curves, X_failed, X_pending, r_pending = [], [], [], [], []
    for rec in state.records.values():
        if rec.status == FAILED:
            X_failed.append(rec.x)
            continue
        reports = rec.reports
        if rec.status == DONE and not reports:
            reports = [[t_max, rec.y]]
        if reports:
            X_obs.append(rec.x)
            curves.append(([p[0] for p in reports], to_minimize([p[1] for p in reports], mode)))
        if rec.status == PENDING and not (reports and reports[-1][0] >= t_max):
            X_pending.append(rec.x)  # a trial already at t_max adds nothing a fantasy would
            r_pending.append(next_level(reports[-1][0] if reports else None, t_max) / t_max)
    X_obs = np.array(X_obs, dtype=float).reshape(-1, d)
    rows = curve_rows(X_obs, curves, t_max, max_rows=max(1, opts.max_exact - len(X_failed)))
    # Standardized, never warped: the model adds a decaying transient to a final value in the
    # metric's own units, and a power transform fitted to rows that are mostly early, high
    # losses would bend that sum (benchmarks/README.md, "Engine decisions").
    z, _ = gp_targets(rows.y, len(X_failed), warp=False, winsor=opts.winsorize,
                      divergence=opts.divergence_ratio)
    X_failed = np.array(X_failed, dtype=float).reshape(-1, d)
    Z = np.vstack([rows.Z, np.hstack([X_failed, np.ones((len(X_failed), 1))])])
    X_pending = np.array(X_pending, dtype=float).reshape(-1, d)
    Z_pending = np.hstack([X_pending, np.array(r_pending).reshape(-1, 1)])
    return TrainingData(Z, z, X_pending, Z_pending, X_obs, len(Z))
