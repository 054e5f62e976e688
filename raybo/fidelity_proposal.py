"""One multi-fidelity Bayesian-optimization step: learning curves -> (x, r) GP -> fantasies of
running trials at the level they are heading to -> acquisition at the final fidelity -> x*.

Used by ``GPSearch`` once a trial has ended below the maximum resource (a scheduler stopped
it); until then ``proposal.py``'s plain step runs, so without a scheduler nothing changes.

Notation as in ``fidelity.py``: ``t_max`` the maximum resource, rows ``Z: (N, d + 1)`` with
``r = t / t_max``, ``X_pending: (p, d)``. Targets are standardized over all rows without
``EngineOptions.output_warp`` (see ``_data``). Failed trials enter as one row at ``r = 1`` with the
worst GP target (as in ``targets.gp_targets``); a finished trial without reports (a known point
from ``evaluated_rewards``, or results without the resource key) as one row at ``r = 1``.

``EngineOptions`` apply as in ``proposal.py`` (fit, refit schedule, fantasies and
``max_fantasized``, ``pending_mode``, ``winsorize``, the optimizer and ``min_pending_distance``),
except two: ``output_warp`` (see ``_data``) and ``incumbent``: the incumbent here is always the
lowest predicted *final* value of a seen configuration (``fidelity.final_posterior``), because
a stopped trial has no observed final value to improve on. Conditional spaces use the
conditional kernels (``fidelity.py``) and let the optimizer choose branches, as ``proposal.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from raybo.fidelity import curve_rows, final_posterior, fit_curve_gp
from raybo.options import DEFAULT, EngineOptions
from raybo.proposal import (
    FitCache,
    cat_columns,
    maximize_acquisition,
    pending_samples,
    single_threaded,
)
from raybo.rungs import next_level
from raybo.space import SearchSpace
from raybo.state import DONE, FAILED, PENDING, TrialState
from raybo.surrogate import DTYPE, FitError
from raybo.targets import gp_targets, to_minimize


def stopped_early(state: TrialState, t_max: float) -> bool:
    """Whether some finished trial's last report lies below ``t_max`` (it was stopped)."""
    return any(r.status == DONE and r.reports and r.reports[-1][0] < t_max
               for r in state.records.values())


def _data(state: TrialState, d: int, mode: str, t_max: float, opts: EngineOptions):
    """Rows ``Z``, GP targets ``z``, seen configurations ``X_seen`` (observed, then pending),
    ``Z_pending: (p, d + 1)`` and ``X_obs`` (configurations with a report)."""
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
    # losses would bend that sum (on benchmarks/curves.py, 8 seeds of an in-process ASHA, the
    # warp's median best final at 300 epochs was 0.67 vs 0.14 on branin_lc, 1.20 vs 1.03 on
    # hartmann6_lc, 0.35 vs 0.30 on branin_mislead).
    z, _ = gp_targets(rows.y, len(X_failed), warp=False, winsor=opts.winsorize)
    X_failed = np.array(X_failed, dtype=float).reshape(-1, d)
    Z = np.vstack([rows.Z, np.hstack([X_failed, np.ones((len(X_failed), 1))])])
    X_pending = np.array(X_pending, dtype=float).reshape(-1, d)
    Z_pending = np.hstack([X_pending, np.array(r_pending).reshape(-1, 1)])
    return Z, z, X_obs, X_pending, Z_pending


def propose_multi_fidelity(state: TrialState, space: SearchSpace, mode: str, acquisition: str,
                           seed: int, cache: FitCache, X_avoid: np.ndarray, t_max: float,
                           opts: EngineOptions = DEFAULT) -> np.ndarray | None:
    """Next point ``x: (d,)`` for the final fidelity, or None if no GP could be fitted (the
    caller then uses a quasi-random point). Single-threaded, as ``proposal.propose``."""
    return single_threaded(_propose, state, space, mode, acquisition, seed, cache, X_avoid,
                           t_max, opts)


def _propose(state: TrialState, space: SearchSpace, mode: str, acquisition: str, seed: int,
             cache: FitCache, X_avoid: np.ndarray, t_max: float, opts: EngineOptions
             ) -> np.ndarray | None:
    Z, z, X_obs, X_pending, Z_pending = _data(state, space.dim, mode, t_max, opts)
    cat_cols = cat_columns(space)
    Zt, zt = torch.as_tensor(Z, dtype=DTYPE), torch.as_tensor(z, dtype=DTYPE)
    X_seen = torch.as_tensor(np.vstack([X_obs, X_pending]), dtype=DTYPE)
    refit = cache.needs_refit(len(Z), opts)
    tree = space.tree or None
    try:
        model = fit_curve_gp(Zt, zt, cat_cols, cache.warm_state, optimize=refit, opts=opts,
                             tree=tree)
        eps = pending_samples(len(Z_pending), seed, opts)
        post = final_posterior(model, Zt, zt, X_seen, torch.as_tensor(Z_pending, dtype=DTYPE),
                               eps, opts.max_fantasized or None)
        with torch.no_grad():  # optimizer seeds: the configurations predicted best at the end
            mean, _ = final_posterior(model, Zt, zt, X_seen).predict(
                torch.as_tensor(X_obs, dtype=DTYPE))
    except FitError as err:
        cache.forget(err)
        return None
    cache.remember(model, refit, len(Z))
    X_best = X_obs[np.argsort(mean[0].numpy(), kind="stable")[:opts.n_best_seeds]]
    return maximize_acquisition(post, acquisition, space, seed, X_best, X_avoid, X_pending, opts)
