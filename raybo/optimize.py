"""Maximizing an acquisition function over the mixed unit-cube encoding.

Notation: ``f(X: (b, d)) -> (b,)`` the acquisition (larger is better, differentiable in the
continuous columns); the ``Domain`` says where it is maximized: ``levels[j]`` the sorted
admissible encodings of discrete column ``j`` (``None`` for continuous ones), ``snap(X) -> X``
moves points onto admissible encodings, ``active(X)`` (conditional spaces only) which columns
are active.

Strategy (in the spirit of Optuna's ``_gp/optim_mixed.py`` and BoTorch's ``optimize_mixed``):
score scrambled-Sobol candidates plus perturbations of the best observed points, keep the top
few as starts, then alternate batched L-BFGS-B on the continuous columns (discrete ones fixed)
with exhaustive or neighbourhood search over each discrete column, until nothing improves.
In a conditional space (``Domain.active``) the discrete search is where branches are chosen:
it skips inactive columns and snaps every point it scores, and the continuous search then moves
the parameters of the chosen branch (inactive ones have zero gradient under the arc kernel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc

from raybo.options import DEFAULT, EngineOptions
from raybo.state import is_known
from raybo.surrogate import DTYPE

Acq = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Domain:
    """Where the acquisition is maximized, in the unit cube of ``dim`` columns (see the module
    docstring); ``active`` is None for a space without conditional columns."""

    dim: int
    levels: list[np.ndarray | None]
    snap: Callable[[np.ndarray], np.ndarray]
    active: Callable[[np.ndarray], np.ndarray] | None = None


def _evaluate(f: Acq, X: np.ndarray, chunk: int = 2048) -> np.ndarray:
    with torch.no_grad():
        parts = [f(torch.as_tensor(X[i:i + chunk], dtype=DTYPE)) for i in range(0, len(X), chunk)]
    out = torch.cat(parts).numpy() if parts else np.empty(0)
    return np.where(np.isfinite(out), out, -np.inf)


def _optimize_continuous(f: Acq, X: np.ndarray, cont: list[int], maxiter: int) -> np.ndarray:
    """Batched L-BFGS-B on the continuous columns of the starts ``X: (s, d)``; the sum over
    starts decouples, so one call optimizes all of them."""
    if not cont:
        return X
    base = torch.as_tensor(X, dtype=DTYPE)
    idx = torch.as_tensor(cont)

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        xc = torch.as_tensor(flat.reshape(len(X), len(cont)), dtype=DTYPE).requires_grad_(True)
        full = base.index_copy(1, idx, xc)
        vals = f(full)
        vals = torch.where(torch.isfinite(vals), vals, torch.full_like(vals, -1e10))
        loss = -vals.sum()
        (grad,) = torch.autograd.grad(loss, xc)
        return float(loss.detach()), grad.numpy().ravel().copy()

    res = minimize(loss_and_grad, X[:, cont].ravel(), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, 1.0)] * (len(X) * len(cont)),
                   options={"maxiter": maxiter})
    out = X.copy()
    out[:, cont] = np.clip(res.x.reshape(len(X), len(cont)), 0.0, 1.0)
    return out


def _discrete_sweep(f: Acq, x: np.ndarray, val: float, domain: Domain, opts: EngineOptions
                    ) -> tuple[np.ndarray, float]:
    """Coordinate search over each discrete column of one point ``x: (d,)``.

    In a conditional space: inactive columns are skipped, and every trial point is snapped,
    so changing a branch column scores the config it really decodes to (the columns
    it activates start at the centre of their range, which the next continuous round moves).
    """
    conditional = domain.active is not None
    for j, lev in enumerate(domain.levels):
        if lev is None or len(lev) < 2:
            continue
        if conditional and not domain.active(x[None])[0, j]:
            continue
        if len(lev) <= opts.exhaustive_levels:
            options = lev
        else:
            k = int(np.argmin(np.abs(lev - x[j])))
            options = lev[max(0, k - opts.neighbours): k + opts.neighbours + 1]
        trial = np.repeat(x[None], len(options), axis=0)
        trial[:, j] = options
        if conditional:
            trial = domain.snap(trial)
        vals = _evaluate(f, trial)
        best = int(np.argmax(vals))
        if vals[best] > val:
            x, val = trial[best], float(vals[best])
    return x, val


def maximize(f: Acq, domain: Domain, seed: int,
             X_best: np.ndarray | None = None, X_avoid: np.ndarray | None = None,
             X_pending: np.ndarray | None = None, opts: EngineOptions = DEFAULT) -> np.ndarray:
    """Return the admissible ``x: (d,)`` with the highest acquisition found that is not within
    ``state.SAME_POINT_TOL`` of any row of ``X_avoid: (k, d)`` (observed, failed and pending points)
    nor within ``opts.min_pending_distance`` of a row of ``X_pending: (p, d)``, unless every
    candidate is excluded (an exhausted discrete space)."""
    d, snap = domain.dim, domain.snap
    rng = np.random.default_rng(seed)
    cont = [j for j, lev in enumerate(domain.levels) if lev is None]
    cands = [qmc.Sobol(d, scramble=True, seed=rng).random(opts.n_sobol)]
    if X_best is not None and len(X_best) and opts.n_around_best:
        picks = X_best[rng.integers(len(X_best), size=opts.n_around_best)]
        noise = rng.normal(0.0, opts.around_best_std, size=picks.shape)
        noise[:, [j for j in range(d) if j not in cont]] = 0.0
        cands.append(np.clip(picks + noise, 0.0, 1.0))
    C = snap(np.concatenate(cands))
    vals = _evaluate(f, C)
    order = np.argsort(-vals, kind="stable")
    if opts.start_selection == "roulette":
        pick = _roulette(vals, order, opts.n_restarts - (1 if X_best is not None else 0), rng)
        starts, start_vals = C[pick], vals[pick]
        if X_best is not None and len(X_best):  # the incumbent itself: refine where we stand
            x0 = snap(X_best[:1])
            starts = np.concatenate([starts, x0])
            start_vals = np.concatenate([start_vals, _evaluate(f, x0)])
    else:
        starts = C[order[:opts.n_restarts]]
        start_vals = vals[order[:opts.n_restarts]]

    for _ in range(opts.max_rounds):
        moved = snap(_optimize_continuous(f, starts, cont, opts.lbfgs_maxiter))
        moved_vals = _evaluate(f, moved)
        better = moved_vals > start_vals
        starts[better], start_vals[better] = moved[better], moved_vals[better]
        improved = False
        for i in range(len(starts)):
            x, v = _discrete_sweep(f, starts[i], float(start_vals[i]), domain, opts)
            if v > start_vals[i]:
                starts[i], start_vals[i], improved = x, v, True
        if not improved:
            break

    pool = np.concatenate([starts, C[order]])
    pool_vals = np.concatenate([start_vals, vals[order]])
    for i in np.argsort(-pool_vals, kind="stable"):
        if not is_known(pool[i], X_avoid) and not _near(pool[i], X_pending,
                                                             opts.min_pending_distance):
            return pool[i]
    return pool[int(np.argmax(pool_vals))]


def _roulette(vals: np.ndarray, order: np.ndarray, k: int, rng: np.random.Generator
              ) -> np.ndarray:
    """Indices of ``k`` starts: the best candidate, then draws without replacement with
    probability proportional to exp(vals - max) (Optuna's ``optimize_acqf_mixed``; for log-EI
    that is the ratio of expected improvements), which lands starts in several basins."""
    best = int(order[0])
    finite = np.isfinite(vals)
    w = np.where(finite, np.exp(np.where(finite, vals, 0.0) - vals[best]), 0.0)
    w[best] = 0.0
    n_extra = min(k - 1, int(np.count_nonzero(w > 0)))
    if n_extra <= 0:
        return np.array([best])
    extra = rng.choice(len(vals), size=n_extra, replace=False, p=w / w.sum())
    return np.concatenate([[best], extra])


def _near(x: np.ndarray, X: np.ndarray | None, radius: float) -> bool:
    return radius > 0 and X is not None and len(X) > 0 and bool(
        (np.linalg.norm(X - x[None], axis=1) < radius).any())
