"""The outcomes strategy: one GP per objective and per constrained metric, for multi-objective
and outcome-constrained search (``GPSearch(metric=[...], outcome_constraints=[...])``).

Notation: ``k`` objectives and ``c`` constraints give ``K = k + c`` columns (objectives first);
``X: (N, d)`` model rows (``n`` observed, then ``f`` failed), ``Z: (N, K)`` GP targets (each
column minimized, then transformed as the plain GP's: ``targets.gp_targets``, failures at the
worst value), ``thresholds: (c,)`` the targets of zero slack (a constraint holds where its column
is <= its threshold), ``ref: (k,)`` the hypervolume's reference point in target units.

The acquisition (``OutcomePosterior.acquisition``), averaged over fantasies of the pending
trials (each column's GP fantasized as the plain GP is, with its own base samples):

* ``k >= 2``: log expected hypervolume improvement (``acquisition.log_ehvi``) over the feasible
  Pareto front of each fantasy (observed feasible trials plus the pending ones that are
  feasible in that fantasy), times the probability of feasibility;
* ``k == 1`` with constraints: log-EI over the best feasible value, times the probability of
  feasibility (constrained log-EI);
* ``k >= PAREGO_FROM``: log-EI (times the probability of feasibility) on a random augmented
  Chebyshev scalarization of the objectives, new weights at each suggestion (ParEGO, Knowles
  2006): EHVI's boxes grow too fast with ``k`` (suggest cost in benchmarks/README.md);
* no feasible trial yet: log-EI on the total violation ``sum_j max(0, slack_j) / scale_j``
  (each slack over its observed spread): the search first finds the feasible region.

BoTorch (``botorch.utils.multi_objective``) supplies the Pareto filter and the box
decompositions; it is imported on first use only, so ``from raybo import GPSearch`` stays light.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from raybo.acquisition import (
    box_levels,
    log_ehvi_levels,
    log_ei_each,
    log_feasibility,
    log_mean_over_fantasies,
)
from raybo.fantasies import base_samples, fantasize
from raybo.options import EngineOptions
from raybo.outcomes import Outcomes
from raybo.space import SearchSpace
from raybo.state import TrialState
from raybo.strategies.base import MULTI, FitCache, TrainingData
from raybo.strategies.plain import cat_columns
from raybo.surrogate import DTYPE, Posterior, build_posterior, fit_gp
from raybo.targets import gp_targets

logger = logging.getLogger(__name__)

PAREGO_FROM = 4  # objectives from which a random scalarization replaces EHVI (see above)
PAREGO_RHO = 0.05  # augmented Chebyshev: max_j w_j y_j + rho * sum_j w_j y_j (Knowles 2006)
REF_SCALE = 0.1  # inferred reference point: nadir + 0.1 * range (Ishibuchi et al. 2011, BoTorch)
CHUNK = 256  # candidates scored at once: the box tensors are (m, chunk, boxes, k)


@dataclass
class OutcomeData(TrainingData):
    """``TrainingData`` (``z`` is ``Z``'s first column) plus the columns of every outcome (see
    the module docstring). ``layout`` names the columns (a change resets the warm start);
    ``eligible: (N,)`` rows that may form the front (observed and feasible)."""

    Z: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))
    n_objectives: int = 1
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ref: np.ndarray | None = None
    eligible: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    layout: tuple[str, ...] = ()
    seed: int = 0


class OutcomesGP:
    """``Strategy`` (see ``strategies/__init__.py``) of several outcomes."""

    name = MULTI

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes = outcomes
        self.cache = FitCache()
        self.reference_point: dict[str, float] | None = None  # last one used, metric units
        self._layout: tuple[str, ...] = ()

    def training_data(self, state: TrialState, space: SearchSpace, mode: str, seed: int,
                      opts: EngineOptions) -> OutcomeData:
        o = self.outcomes
        X_obs, _, X_failed, X_pending = state.arrays(space.dim)
        V = state.outcome_values(o.names)
        Y, S = o.minimized(V[:, :len(o.metrics)]), o.slacks(V)
        feasible = (S <= 0).all(1)
        n, f = len(X_obs), len(X_failed)
        warp = opts.output_warp == "yeo_johnson"
        if S.shape[1] and not feasible.any():  # no feasible trial yet: reduce the violation
            scale = np.where(S.std(0) > 0, S.std(0), 1.0)
            columns = [(np.clip(S, 0, None) / scale).sum(1)]
            layout, eligible, k = ("violation",), np.ones(n, dtype=bool), 1
        elif Y.shape[1] >= PAREGO_FROM:
            columns, k = [_chebyshev(Y, seed)] + list(S.T), 1
            layout, eligible = ("parego",) + tuple(map(str, o.constraints)), feasible
        else:
            columns, k = list(Y.T) + list(S.T), Y.shape[1]
            layout, eligible = o.metrics + tuple(map(str, o.constraints)), feasible
        Z, ref, tfs = np.empty((n + f, len(columns))), None, []
        for j, col in enumerate(columns):
            Z[:, j], tf = gp_targets(col, f, warp)
            tfs.append(tf)
        thresholds = [float(tf(np.zeros(1))[0]) for tf in tfs[k:]]
        if k > 1:
            ref_min = self._reference(Y[feasible])
            ref = np.array([float(tfs[j](ref_min[j:j + 1])[0]) for j in range(k)])
        if layout != self._layout:
            self.cache.warm_state, self._layout = None, layout
        X = np.vstack([X_obs, X_failed])
        X_best = _seeds(X_obs, Z[:n, :k], eligible, opts.n_best_seeds)
        return OutcomeData(X, Z[:, 0], X_pending, X_pending, X_obs, len(X), X_best, Z=Z,
                           n_objectives=k, thresholds=np.array(thresholds), ref=ref,
                           eligible=np.concatenate([eligible, np.zeros(f, dtype=bool)]),
                           layout=layout, seed=seed)

    def fit(self, data: OutcomeData, space: SearchSpace,
            warm_state: dict[str, torch.Tensor] | None, optimize: bool,
            opts: EngineOptions) -> torch.nn.ModuleList:
        Xt = torch.as_tensor(data.X, dtype=DTYPE)
        models = []
        for j in range(data.Z.shape[1]):
            prefix = f"{j}."
            warm = None if warm_state is None else {
                key[len(prefix):]: v for key, v in warm_state.items() if key.startswith(prefix)}
            models.append(fit_gp(Xt, torch.as_tensor(data.Z[:, j], dtype=DTYPE),
                                 cat_columns(space), warm or None, optimize=optimize, opts=opts,
                                 structure=space.structure))
        return torch.nn.ModuleList(models)

    def posterior(self, model: torch.nn.ModuleList, data: OutcomeData, eps: torch.Tensor,
                  opts: EngineOptions) -> OutcomePosterior:
        Xt = torch.as_tensor(data.X, dtype=DTYPE)
        Xp = torch.as_tensor(data.rows_pending, dtype=DTYPE)
        posts = []
        for j, gp in enumerate(model):
            post = build_posterior(gp, Xt, torch.as_tensor(data.Z[:, j:j + 1], dtype=DTYPE))
            eps_j = eps
            if j and len(Xp) and bool(eps.any()):  # independent GPs: independent draws
                eps_j = base_samples(eps.shape[0], eps.shape[1], data.seed + j)
            posts.append(fantasize(post, Xp, eps_j))  # every pending outcome sampled
        return OutcomePosterior(posts, data.n_objectives,
                                torch.as_tensor(data.thresholds, dtype=DTYPE),
                                None if data.ref is None else torch.as_tensor(data.ref,
                                                                              dtype=DTYPE),
                                torch.as_tensor(data.eligible))

    def seeds(self, model: Any, data: TrainingData, opts: EngineOptions) -> np.ndarray:
        return data.X_best

    def _reference(self, Y_feasible: np.ndarray) -> np.ndarray:
        """The reference point ``(k,)`` in values to minimize: the user's where given, else
        the feasible Pareto front's nadir plus ``REF_SCALE`` times its range (logged)."""
        o = self.outcomes
        given = o.reference_point or {}
        front = pareto_rows(Y_feasible)
        if len(front):
            worst, best = front.max(0), front.min(0)
            span = np.maximum(worst - best, 1e-6 * np.maximum(np.abs(worst), 1.0))
            ref = worst + REF_SCALE * span
        else:
            ref = np.zeros(len(o.metrics))
        for j, (name, mode) in enumerate(zip(o.metrics, o.modes)):
            if name in given:
                ref[j] = -given[name] if mode == "max" else given[name]
        metric_units = dict(zip(o.metrics, o.minimized(ref[None])[0].tolist()))
        if metric_units != self.reference_point and set(given) != set(o.metrics):
            logger.log(logging.INFO if self.reference_point is None else logging.DEBUG,
                       "GPSearch: reference point inferred from the Pareto front: %s",
                       metric_units)
        self.reference_point = metric_units
        return ref


class OutcomePosterior:
    """The per-column posteriors (each with ``m`` fantasy columns) and each fantasy's feasible
    Pareto front, as boxes (hypervolume) or as the best feasible value (one objective)."""

    def __init__(self, posts: list[Posterior], k: int, thresholds: torch.Tensor,
                 ref: torch.Tensor | None, eligible: torch.Tensor) -> None:
        self.posts, self.k, self.thresholds, self.ref = posts, k, thresholds, ref
        Ys = torch.stack([p.Y for p in posts])  # (K, N + p, m)
        p = Ys.shape[1] - len(eligible)
        feasible = torch.cat([eligible, torch.ones(p, dtype=torch.bool)])[:, None] & (
            Ys[k:] <= thresholds[:, None, None]).all(0)  # (N + p, m)
        if k == 1:
            worst = Ys[0].max(0).values
            self.best = torch.where(feasible, Ys[0], worst).min(0).values  # (m,)
        else:
            self.best = posts[0].best
            self.boxes = box_levels(*_boxes(Ys[:k], feasible, ref))

    def predict(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.posts[0].predict(Xc)

    def acquisition(self, name: str):
        """``f(Xc: (b, d)) -> (b,)``: the log acquisition of the module docstring (``name``,
        the searcher's one-metric acquisition, does not apply here)."""
        def f(Xc: torch.Tensor) -> torch.Tensor:
            return torch.cat([self._score(Xc[i:i + CHUNK]) for i in range(0, len(Xc), CHUNK)])

        return f

    def _score(self, Xc: torch.Tensor) -> torch.Tensor:
        preds = [p.predict(Xc) for p in self.posts]
        mean = torch.stack([m for m, _ in preds])  # (K, m, b)
        var = torch.stack([v for _, v in preds])  # (K, b)
        k = self.k
        if k == 1:
            per = log_ei_each(mean[0], var[0], self.best)
        else:
            per = log_ehvi_levels(mean[:k], var[:k], *self.boxes)
        per = per + log_feasibility(mean[k:], var[k:], self.thresholds)
        return log_mean_over_fantasies(per)


def _chebyshev(Y: np.ndarray, seed: int) -> np.ndarray:
    """``(n,)``: the augmented Chebyshev scalarization of ``Y: (n, k)`` (to minimize, each
    column scaled to [0, 1] over the observations) with weights drawn uniformly on the simplex
    from ``seed``."""
    w = np.random.default_rng(seed).dirichlet(np.ones(Y.shape[1]))
    span = Y.max(0) - Y.min(0)
    U = w * (Y - Y.min(0)) / np.where(span > 0, span, 1.0)
    return U.max(1) + PAREGO_RHO * U.sum(1)


def _boxes(Y: torch.Tensor, feasible: torch.Tensor, ref: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper corners ``(m, C, k)`` (minimization) of the boxes not dominated by each
    fantasy's feasible front: ``Y: (k, N + p, m)``, ``feasible: (N + p, m)``."""
    from botorch.utils.multi_objective.box_decompositions import (
        BoxDecompositionList,
        FastNondominatedPartitioning,
    )

    parts = [FastNondominatedPartitioning(ref_point=-ref, Y=-Y[:, feasible[:, i], i].T)
             for i in range(Y.shape[2])]
    bounds = BoxDecompositionList(*parts).get_hypercell_bounds()  # (2, m, C, k), maximizing
    return -bounds[1], -bounds[0]


def pareto_rows(Y: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``Y: (n, k)`` (values to minimize), in their order."""
    return Y[pareto_mask(Y)]


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """``(n,)``: True where row ``i`` of ``Y: (n, k)`` (to minimize) is not dominated
    (BoTorch's ``is_non_dominated``; duplicates are all kept)."""
    from botorch.utils.multi_objective.pareto import is_non_dominated

    Y = np.asarray(Y, dtype=float)
    if len(Y) == 0:
        return np.zeros(0, dtype=bool)
    return is_non_dominated(-torch.as_tensor(Y, dtype=DTYPE), deduplicate=False).numpy()


def _seeds(X_obs: np.ndarray, Z: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
    """Optimizer starts ``(<= n, d)``: the feasible Pareto-optimal observations (the best one
    for a single column), else the lowest first-column values."""
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        idx = np.arange(len(X_obs))
    if Z.shape[1] == 1:
        return X_obs[idx[np.argsort(Z[idx, 0], kind="stable")[:n]]]
    front = idx[pareto_mask(Z[idx])]
    return X_obs[front[np.argsort(Z[front].sum(1), kind="stable")[:n]]]
