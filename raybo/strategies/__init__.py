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

* Several objectives and outcome constraints (``multi.py``): ``fit`` returns one GP per
  objective and per constraint (a ``ModuleList``); the posterior composes its own acquisition
  (``Predictive.acquisition``: log EHVI or log-EI, plus the log probability of feasibility,
  from ``acquisition.py``'s pure functions); ``step.py`` and the optimizer do not change.
* Acquisition wrappers (probability of feasibility, a user prior's weighting as in piBO) are
  pure functions of the posterior's outputs and the candidate, composed in
  ``step.acquisition_function``; they need no change to a strategy.
"""

from __future__ import annotations

from raybo.settings import Settings
from raybo.state import TrialState
from raybo.strategies.base import (
    CURVE,
    MULTI,
    PLAIN,
    FitCache,
    Predictive,
    Strategy,
    TrainingData,
)
from raybo.strategies.curve import CurveGP, stopped_early
from raybo.strategies.multi import OutcomesGP
from raybo.strategies.plain import PlainGP

__all__ = ["CURVE", "MULTI", "PLAIN", "CurveGP", "FitCache", "OutcomesGP", "PlainGP",
           "Predictive", "Strategy", "TrainingData", "choose", "create"]


def choose(settings: Settings, state: TrialState) -> str:
    """The strategy for the current state: the learning-curve GP (``curve.py``) once a trial
    ended below the maximum resource (a scheduler stopped it), else the plain GP; without a
    ``resource_attr`` always the plain GP. Several objectives or outcome constraints: the
    outcomes strategy (``multi.py``; it reads each trial's final result)."""
    if settings.outcomes is not None and settings.outcomes.metrics:
        return MULTI
    t_max = settings.max_resource or state.max_resource()
    if settings.resource_attr and t_max and stopped_early(state, t_max):
        return CURVE
    return PLAIN


def create(name: str, settings: Settings) -> Strategy:
    """A fresh strategy (empty fit cache) by ``choose``'s name."""
    if name == MULTI:
        return OutcomesGP(settings.outcomes)
    return CurveGP(settings.max_resource) if name == CURVE else PlainGP()
