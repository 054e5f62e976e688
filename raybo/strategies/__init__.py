"""Surrogate strategies: what a Bayesian-optimization step fits, and how it predicts.

A strategy turns the trial records into training data, fits a model to them, and builds the
posterior the acquisition reads; ``step.propose`` runs the shared skeleton around it (refit
rule, fantasies of pending trials, acquisition, optimizer). ``GPSearch`` chooses a strategy once
per state change (``choose``), not per suggest, and each strategy owns its ``FitCache`` (the
warm start of its hyperparameters), so switching strategies never mixes two models' states.

The interface (``Strategy``), with ``d`` the space's columns and ``p`` pending trials:

* ``training_data(state, space, mode, seed, opts) -> TrainingData``: model rows, GP targets,
  the pending trials (as configurations for the optimizer, as model rows to fantasize), the
  observed configurations, and the row count the refit rule counts.
* ``fit(data, space, warm_state, optimize, opts) -> model``: a MAP fit through
  ``surrogate.fit_gp``'s fallback chain (raises ``surrogate.FitError`` when nothing fits).
* ``posterior(model, data, eps, opts) -> Predictive``: the posterior conditioned on the
  fantasies ``eps: (m, p)`` of the pending rows. The acquisition needs only ``predict(Xc: (b,
  d)) -> (mean (m, b), var (b,))`` and ``best: (m,)``, the incumbent per fantasy.
* ``seeds(model, data, opts) -> X_best: (k, d)``: the configurations the optimizer starts
  around, best first.

Plugging in more:

* Multi-objective search: a strategy whose ``fit`` returns one GP per objective (a small
  container model) and whose posterior's ``predict`` returns what a hypervolume acquisition
  reads (means and variances per objective, the Pareto front as ``best``); ``step.py`` and the
  optimizer do not change, only the acquisition function it is given.
* Outcome constraints: one GP per constraint next to the objective's, fitted in ``fit``; the
  posterior carries their predictions, and a feasibility wrapper (``acquisition.py``: the
  acquisition times the probability that every constraint holds, in log space) composes with
  the objective's acquisition.
* Acquisition wrappers (probability of feasibility, a user prior's weighting as in piBO) are
  pure functions of the posterior's outputs and the candidate, composed in
  ``step.acquisition_function``; they need no change to a strategy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from raybo.options import DEFAULT, EngineOptions

if TYPE_CHECKING:
    import torch

    from raybo.settings import Settings
    from raybo.space import SearchSpace
    from raybo.state import TrialState


@dataclass
class TrainingData:
    """What a strategy fits and conditions on (float64 arrays).

    ``X: (N, q)`` model rows (``q = d`` for the plain GP, ``d + 1`` with a resource column),
    ``z: (N,)`` GP targets (to minimize, standardized), ``X_pending: (p, d)`` pending
    configurations (the optimizer keeps away from them), ``rows_pending: (p, q)`` the rows their
    fantasies are drawn at, ``X_obs: (n, d)`` observed configurations, ``n_rows``: the training
    rows the refit rule counts (before any subsetting); ``X_best: (k, d)`` optimizer seeds when
    the data alone define them (else the strategy's ``seeds`` predicts them)."""

    X: np.ndarray
    z: np.ndarray
    X_pending: np.ndarray
    rows_pending: np.ndarray
    X_obs: np.ndarray
    n_rows: int
    X_best: np.ndarray | None = None


class Predictive(Protocol):
    """What the acquisition reads of a posterior."""

    best: torch.Tensor  # (m,) incumbent per fantasy

    def predict(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class Strategy(Protocol):
    """A surrogate strategy (module docstring); ``name`` identifies it, ``cache`` is its own."""

    name: str
    cache: FitCache

    def training_data(self, state: TrialState, space: SearchSpace, mode: str, seed: int,
                      opts: EngineOptions) -> TrainingData: ...

    def fit(self, data: TrainingData, space: SearchSpace,
            warm_state: dict[str, torch.Tensor] | None, optimize: bool,
            opts: EngineOptions) -> Any: ...

    def posterior(self, model: Any, data: TrainingData, eps: torch.Tensor,
                  opts: EngineOptions) -> Predictive: ...

    def seeds(self, model: Any, data: TrainingData, opts: EngineOptions) -> np.ndarray: ...


@dataclass
class FitCache:
    """Hyperparameters of the last fit, used to warm-start the next one (never persisted), and
    the refit rule."""

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


PLAIN, CURVE = "plain", "curve"


def choose(settings: Settings, state: TrialState) -> str:
    """The strategy for the current state: the learning-curve GP (``curve.py``) once a trial
    ended below the maximum resource (a scheduler stopped it), else the plain GP; without a
    ``resource_attr`` always the plain GP."""
    from raybo.strategies.curve import stopped_early

    t_max = settings.max_resource or state.max_resource()
    if settings.resource_attr and t_max and stopped_early(state, t_max):
        return CURVE
    return PLAIN


def create(name: str, settings: Settings) -> Strategy:
    """A fresh strategy (empty fit cache) by ``choose``'s name."""
    if name == CURVE:
        from raybo.strategies.curve import CurveGP

        return CurveGP(settings.max_resource)
    from raybo.strategies.plain import PlainGP

    return PlainGP()
