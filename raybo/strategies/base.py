"""The strategy interface (see ``strategies/__init__.py``): the training data a strategy hands
to the step, what the acquisition reads of its posterior, and the fit cache with the refit
rule that every strategy owns."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from raybo.options import DEFAULT, EngineOptions
from raybo.surrogate import DTYPE

if TYPE_CHECKING:
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

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``X`` and ``z`` as the float64 tensors the GP is fitted and conditioned on."""
        return torch.as_tensor(self.X, dtype=DTYPE), torch.as_tensor(self.z, dtype=DTYPE)


class Predictive(Protocol):
    """What the acquisition reads of a posterior."""

    best: torch.Tensor  # (m,) incumbent per fantasy

    def predict(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class Strategy(Protocol):
    """A surrogate strategy (``strategies/__init__.py``); ``name`` identifies it, ``cache`` is
    its own."""

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


PLAIN, CURVE, MULTI = "plain", "curve", "outcomes"  # strategy names (GPSearch.strategy)
