"""One Bayesian-optimization step, shared by every surrogate strategy: trial records -> training
data -> fit (or reuse the hyperparameters) -> posterior conditioned on fantasies of the pending
trials -> acquisition -> optimizer -> the next point ``x: (d,)``.

Notation: ``X_pending: (p, d)`` pending configurations in [0, 1]^d, ``eps: (m, p)`` the fantasy
base samples, ``Xc: (b, d)`` candidates.

What varies lives elsewhere: the strategy (``strategies/``: which model, on which rows, how it
predicts, where the optimizer starts, its fit cache and refit rule) and the acquisition
(``acquisition.py``: pure functions of the posterior's mean, variance and incumbent). A new
surrogate (several GPs for multiple objectives, GPs per outcome constraint) is a new strategy;
an acquisition wrapper (probability of feasibility, a user prior's weighting) is a pure function
composed in ``acquisition_function``. Neither changes ``propose``.

A step runs inside ``with single_threaded():`` (one torch and one BLAS/OpenMP thread; the
process-wide settings are restored on leaving, also on an exception).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from raybo.acquisition import ACQUISITIONS, LOG_SPACE, weighted
from raybo.fantasies import base_samples
from raybo.optimize import Domain, maximize
from raybo.options import EngineOptions
from raybo.space import SearchSpace
from raybo.state import TrialState, is_known
from raybo.strategies.base import Predictive, Strategy
from raybo.surrogate import DTYPE, FitError

LogWeight = Callable[[torch.Tensor], torch.Tensor]  # Xc: (b, d) -> log of a weight, (b,)


def propose(strategy: Strategy, state: TrialState, space: SearchSpace, mode: str,
            acquisition: str, seed: int, X_avoid: np.ndarray, opts: EngineOptions,
            log_weight: LogWeight | None = None) -> np.ndarray | None:
    """Next point ``x: (d,)`` maximizing the acquisition averaged over fantasies of the pending
    trials, or None if no model could be fitted (warned) or the point would repeat a config
    (the caller then uses a quasi-random point). ``X_avoid: (k, d)``: configurations already
    tried or pending. ``log_weight``: a weight on the acquisition (``acquisition_function``)."""
    with single_threaded():
        return _propose(strategy, state, space, mode, acquisition, seed, X_avoid, opts,
                        log_weight)


def _propose(strategy: Strategy, state: TrialState, space: SearchSpace, mode: str,
             acquisition: str, seed: int, X_avoid: np.ndarray, opts: EngineOptions,
             log_weight: LogWeight | None) -> np.ndarray | None:
    data = strategy.training_data(state, space, mode, seed, opts)
    cache = strategy.cache
    refit = cache.needs_refit(data.n_rows, opts)
    try:
        model = strategy.fit(data, space, cache.warm_state, refit, opts)
        eps = pending_samples(len(data.rows_pending), seed, opts)
        post = strategy.posterior(model, data, eps, opts)
        X_best = strategy.seeds(model, data, opts)
    except FitError as err:
        cache.forget(err)
        return None
    cache.remember(model, refit, data.n_rows)
    x = maximize_acquisition(post, acquisition, space, seed, X_best, X_avoid, data.X_pending,
                             opts, log_weight)
    if space.conditional:
        # The optimizer leaves stale values in inactive columns, so its check against
        # X_avoid can miss a config already tried: compare the canonical (snapped) encoding.
        x = space.snap(x[None])[0]
        if is_known(x, X_avoid):
            return None
    return x


def pending_samples(p: int, seed: int, opts: EngineOptions) -> torch.Tensor:
    """Base samples ``(m, p)`` for fantasizing ``p`` pending trials (``fantasies.fantasize``):
    ``opts.n_fantasies`` QMC normals, or one row of zeros with ``pending_mode="believer"``
    (Kriging believer: the pending outcomes at their posterior mean)."""
    if opts.pending_mode == "believer":
        return torch.zeros(1, p, dtype=DTYPE)
    return base_samples(opts.n_fantasies, p, seed)


@contextmanager
def single_threaded() -> Iterator[None]:
    """One torch thread and one BLAS/OpenMP thread inside the block. The matrices of a suggest
    are small (n <= max_exact): one thread is faster than several, and on a busy machine (trials
    on every core) spinning thread pools slow suggest severalfold. Both are process-wide
    settings, restored on leaving the block, also when it raises."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def acquisition_function(post: Predictive, acquisition: str,
                         log_weight: LogWeight | None = None
                         ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f(Xc: (b, d)) -> (b,)``: the named acquisition (``acquisition.ACQUISITIONS``) of
    ``post``'s mean and variance, averaged over the fantasies. Wrappers compose here:
    ``log_weight(Xc) -> (b,)`` weights it (a user prior's piBO weight, ``prior.log_weight``); a
    posterior of several outcome models brings its own log acquisition (``post.acquisition``)."""
    own = getattr(post, "acquisition", None)
    if own is not None:
        g = own(acquisition)
        if log_weight is None:
            return g
        return lambda Xc: weighted(g(Xc), log_weight(Xc), True)
    acq = ACQUISITIONS[acquisition]

    def f(Xc: torch.Tensor) -> torch.Tensor:
        mean, var = post.predict(Xc)
        return acq(mean, var, post.best)

    if log_weight is None:
        return f

    def f_weighted(Xc: torch.Tensor) -> torch.Tensor:
        return weighted(f(Xc), log_weight(Xc), acquisition in LOG_SPACE)

    return f_weighted


def maximize_acquisition(post: Predictive, acquisition: str, space: SearchSpace, seed: int,
                         X_best: np.ndarray, X_avoid: np.ndarray, X_pending: np.ndarray,
                         opts: EngineOptions, log_weight: LogWeight | None = None
                         ) -> np.ndarray:
    """The point ``(d,)`` maximizing ``acquisition`` of ``post`` (``optimize.maximize``),
    weighted by ``log_weight`` if given; conditional spaces let the optimizer choose branches."""
    return maximize(acquisition_function(post, acquisition, log_weight), domain(space), seed,
                    X_best=X_best, X_avoid=X_avoid, X_pending=X_pending, opts=opts)


def domain(space: SearchSpace) -> Domain:
    """The optimizer's view of ``space``: columns, discrete levels, snapping, and (conditional
    spaces only) which columns are active."""
    return Domain(space.dim, space.levels(), space.snap,
                  space.active if space.conditional else None)
