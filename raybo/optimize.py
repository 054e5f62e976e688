"""Maximizing an acquisition function over the mixed unit-cube encoding.

Notation: ``f(X: (b, d)) -> (b,)`` the acquisition (larger is better, differentiable in the
continuous columns); ``levels[j]`` the sorted admissible encodings of discrete column ``j``
(``None`` for continuous ones); ``snap(X) -> X`` moves points onto admissible encodings.

Strategy (in the spirit of Optuna's ``_gp/optim_mixed.py`` and BoTorch's ``optimize_mixed``):
score scrambled-Sobol candidates plus perturbations of the best observed points, keep the top
few as starts, then alternate batched L-BFGS-B on the continuous columns (discrete ones fixed)
with exhaustive or neighbourhood search over each discrete column, until nothing improves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc

from raybo.surrogate import DTYPE

N_SOBOL = 1024  # raw candidates: enough to seed restarts in d <= 20
N_AROUND_BEST = 128  # perturbations of the best observed points (BoTorch sample_around_best)
AROUND_BEST_STD = 0.05  # in unit-cube units
N_RESTARTS = 10  # gradient starts from the best candidates (BoTorch examples use 10-20); 4 left
# Ackley and the mixed problem short of their optima more often (benchmarks/README.md)
LBFGS_MAXITER = 40  # the acquisition peak is found coarsely; more iterations buy ~nothing
MAX_ROUNDS = 3  # alternations of continuous and discrete search
EXHAUSTIVE_LEVELS = 64  # discrete columns with at most this many values are searched exhaustively
NEIGHBOURS = 8  # otherwise: this many values either side of the current one
DUPLICATE_TOL = 1e-9

Acq = Callable[[torch.Tensor], torch.Tensor]


def _evaluate(f: Acq, X: np.ndarray, chunk: int = 2048) -> np.ndarray:
    with torch.no_grad():
        parts = [f(torch.as_tensor(X[i:i + chunk], dtype=DTYPE)) for i in range(0, len(X), chunk)]
    out = torch.cat(parts).numpy() if parts else np.empty(0)
    return np.where(np.isfinite(out), out, -np.inf)


def _optimize_continuous(f: Acq, X: np.ndarray, cont: list[int]) -> np.ndarray:
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
                   options={"maxiter": LBFGS_MAXITER})
    out = X.copy()
    out[:, cont] = np.clip(res.x.reshape(len(X), len(cont)), 0.0, 1.0)
    return out


def _discrete_sweep(f: Acq, x: np.ndarray, val: float, levels: list[np.ndarray | None]
                    ) -> tuple[np.ndarray, float]:
    """Coordinate search over each discrete column of one point ``x: (d,)``."""
    for j, lev in enumerate(levels):
        if lev is None or len(lev) < 2:
            continue
        if len(lev) <= EXHAUSTIVE_LEVELS:
            options = lev
        else:
            k = int(np.argmin(np.abs(lev - x[j])))
            options = lev[max(0, k - NEIGHBOURS): k + NEIGHBOURS + 1]
        trial = np.repeat(x[None], len(options), axis=0)
        trial[:, j] = options
        vals = _evaluate(f, trial)
        best = int(np.argmax(vals))
        if vals[best] > val:
            x, val = trial[best], float(vals[best])
    return x, val


def maximize(f: Acq, d: int, levels: list[np.ndarray | None],
             snap: Callable[[np.ndarray], np.ndarray], seed: int,
             X_best: np.ndarray | None = None, X_avoid: np.ndarray | None = None) -> np.ndarray:
    """Return the admissible ``x: (d,)`` with the highest acquisition found that is not within
    ``DUPLICATE_TOL`` of any row of ``X_avoid: (k, d)`` (observed, failed and pending points),
    unless every candidate is such a duplicate (an exhausted discrete space)."""
    rng = np.random.default_rng(seed)
    cont = [j for j, lev in enumerate(levels) if lev is None]
    cands = [qmc.Sobol(d, scramble=True, seed=rng).random(N_SOBOL)]
    if X_best is not None and len(X_best):
        picks = X_best[rng.integers(len(X_best), size=N_AROUND_BEST)]
        noise = rng.normal(0.0, AROUND_BEST_STD, size=picks.shape)
        noise[:, [j for j in range(d) if j not in cont]] = 0.0
        cands.append(np.clip(picks + noise, 0.0, 1.0))
    C = snap(np.concatenate(cands))
    vals = _evaluate(f, C)
    order = np.argsort(-vals, kind="stable")
    starts = C[order[:N_RESTARTS]]
    start_vals = vals[order[:N_RESTARTS]]

    for _ in range(MAX_ROUNDS):
        moved = snap(_optimize_continuous(f, starts, cont))
        moved_vals = _evaluate(f, moved)
        better = moved_vals > start_vals
        starts[better], start_vals[better] = moved[better], moved_vals[better]
        improved = False
        for i in range(len(starts)):
            x, v = _discrete_sweep(f, starts[i], float(start_vals[i]), levels)
            if v > start_vals[i]:
                starts[i], start_vals[i], improved = x, v, True
        if not improved:
            break

    pool = np.concatenate([starts, C[order]])
    pool_vals = np.concatenate([start_vals, vals[order]])
    for i in np.argsort(-pool_vals, kind="stable"):
        if not _is_duplicate(pool[i], X_avoid):
            return pool[i]
    return pool[int(np.argmax(pool_vals))]


def _is_duplicate(x: np.ndarray, X: np.ndarray | None) -> bool:
    return X is not None and len(X) > 0 and bool(
        (np.abs(X - x[None]).max(axis=1) <= DUPLICATE_TOL).any())
