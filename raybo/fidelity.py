"""Multi-fidelity surrogate: one GP over (configuration, resource) that predicts final values.

Notation: a trial reports values ``y`` (to minimize) at increasing resource levels ``t > 0``
(epochs, Tune's ``training_iteration``); ``t_max`` is the final fidelity. Rows of the GP are
``Z = [x, r]: (N, d + 1)`` with ``x`` in [0, 1]^d (categorical columns ``cat_cols`` as in
``surrogate.py``) and ``r = t / t_max`` in (0, 1]; ``z: (N,)`` standardized targets. Candidates
``Xc: (b, d)`` are always predicted at ``r = 1``: new configurations are chosen for the final
fidelity. Pending trials ``Z_pending: (p, d + 1)`` sit at the level they are running towards.

Model (a sum of four GPs, normalized to unit prior variance at ``r = 1``)::

    f(x, r) = c + a(x) + g(x, r) + h(r) + e_x(r)
    k((x, r), (x', r')) = [k_a(x, x') + (v k_g(x, x') + s + w [x = x']) kappa(r + r')]
                          / (1 + (v + s + w) kappa(2))
    kappa(u) = (beta / (beta + u)) ** alpha

``a`` is the configuration's asymptote; ``g`` a transient that decays with ``r`` and is smooth
in ``x`` (so *how* a configuration's curve bends is learned from its neighbours, e.g. that small
learning rates start slowly and finish best); ``h`` the transient every configuration shares
(the average learning curve); ``e_x`` each configuration's own transient, independent of every
other configuration's. ``k_a`` and ``k_g`` are two copies of today's kernel from
``surrogate.py`` (Matern-5/2 ARD x Hamming, same priors) with their own lengthscales: a curve's
shape need not vary over the space at the scale its final value does. ``kappa(r + r')`` is the
exponential-decay kernel of Swersky, Snoek & Adams 2014 ("Freeze-Thaw Bayesian Optimization",
eq. 6): the covariance of curves ``e^{-lam r}`` with decay rates ``lam ~ Gamma(alpha, beta)``.
Each term comes from one prior model: ``a + e_x`` is Freeze-Thaw's (a GP over asymptotes plus an
independent decaying curve per configuration); ``h`` plays the role of the parametric mean
``gamma kappa(r)`` of MOBSTER (Tiao, Klein, Lienart, Archambeau & Seeger 2020, "Model-based
asynchronous hyperparameter and neural architecture search"; Syne Tune's
``ExponentialDecayResourcesKernelFunction``), as a GP so the shared curve need not be exactly
that shape; ``a + g`` is BoTorch's ``SingleTaskMultiFidelityGP`` with its
``ExponentialDecayKernel`` (x kernel times ``w + kappa``), with the transient's lengthscales
freed. On ASHA-like data the full sum ranked stopped trials by their final value and covered
it with its 95% band better than the product alone or without the separate lengthscales, at
about twice the fit time (benchmarks/README.md, "Engine decisions").

Why this and not the alternatives:
* Freeze-Thaw's model alone (``a + e_x``) cannot learn that, say, small learning rates start
  slowly but finish best: each curve's shape is its own. That is what a problem whose early
  epochs mislead needs, and ``g`` provides it (tests/test_fidelity.py measures it).
* A per-rung model in the style of Hyper-Tune (Li et al. 2022: one GP per rung, ensembled by
  ranking loss) needs reports aligned on a scheduler's rungs and cannot place a pending trial
  between them; one GP takes any report level, and ``fantasies.fantasize`` conditions it on
  pending trials unchanged, because the joint inputs are just ``d + 1`` columns.
* The normalization makes the prior variance exactly 1 at ``r = 1`` (``k_a(x, x) = 1``), so
  ``surrogate.Posterior.predict``'s closed form (prior variance 1) is exact for candidates.

Conditional spaces (``structure``, ``SearchSpace.structure``): ``k_a`` and ``k_g`` are then the
conditional kernels of ``kernels.py`` (arc kernel, "absent" category), which read their own
columns of the full row and ignore the resource column; "the same configuration" (``e_x``)
compares active columns only, so a stale value in an inactive column does not make a
configuration another one.

Bounded cost (``rungs.py``): a trial that reports every epoch keeps only its reports at
geometric rungs (the first report at or beyond 1, 2, 4, 8, ... resource units) plus its last
one, so a curve of ``t`` reports costs at most ``ceil(log2 t) + 2`` rows; beyond
``EngineOptions.max_exact`` rows the intermediate rows of the worst trials go first, then the
worst trials' last rows. ASHA's and HyperBand's rungs (grace * eta^k) and the point where a
scheduler stopped a trial (its last report) are what tells configurations apart; the dense
middle of a curve adds little.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel
from gpytorch.priors import LogNormalPrior

from raybo.fantasies import fantasize
from raybo.kernels import active_mask, bowl_log_prior, config_kernel, gaussian_likelihood
from raybo.options import DEFAULT, EngineOptions
from raybo.rungs import rung_indices
from raybo.state import SAME_POINT_TOL
from raybo.surrogate import GPParts, Posterior, RayboGP, build_posterior, fit

if TYPE_CHECKING:
    from raybo.space import ConditionalStructure

# Priors on the resource kernel, for r = t / t_max in (0, 1]. Decay rates lam ~ Gamma(alpha,
# beta) with mean alpha / beta = 3 (a transient e-folds within a third of training) and a wide
# spread (coefficient of variation 1 / sqrt(alpha) ~ 1.8): a mixture of fast and slow decays,
# i.e. curves closer to power laws than to one exponential (Domhan et al. 2015). Centred at the
# values MAP fits reached on benchmarks/curves.py; centred at (1, 0.5), fits more often ended
# at a near-zero beta, transients gone after one epoch (benchmarks/README.md, "Engine decisions").
# v, s, w (transient variances relative to the asymptote's) centred at 1: no term assumed away.
ALPHA_PRIOR, ALPHA_INIT = (math.log(0.3), 1.0), 0.3
BETA_PRIOR, BETA_INIT = (math.log(0.1), 1.0), 0.1
SCALE_PRIOR, SCALE_INIT = (0.0, 1.0), 1.0
POSITIVE_FLOOR = 1e-3  # lower bound of those five hyperparameters: keeps kappa finite


@dataclass
class CurveRows:
    """The GP's rows: ``Z: (N, d + 1)``, values to minimize ``y: (N,)``, and ``trial: (N,)`` the
    index of the curve each row came from (into the list given to ``curve_rows``)."""

    Z: np.ndarray
    y: np.ndarray
    trial: np.ndarray


def curve_rows(X: np.ndarray, curves: Sequence[tuple[Sequence[float], Sequence[float]]],
               t_max: float, max_rows: int = DEFAULT.max_exact) -> CurveRows:
    """Rows for trials with configurations ``X: (n, d)`` and reports ``curves[i] = (t_i, y_i)``
    (values to minimize, in report order, finite). Reports beyond ``t_max`` are clipped to it.
    Thinned to geometric rungs, then capped at ``max_rows`` (see the module docstring)."""
    X = np.asarray(X, dtype=float)
    if not t_max > 0:
        raise ValueError(f"t_max must be > 0, got {t_max!r}")
    rows: list[np.ndarray] = []
    ys, owner, is_last = [], [], []
    for i, (t, y) in enumerate(curves):
        t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
        if t.shape != y.shape:
            raise ValueError(f"curve {i}: {t.size} resource levels but {y.size} values")
        keep = rung_indices(t)
        for j in keep:
            rows.append(np.append(X[i], min(t[j], t_max) / t_max))
            ys.append(y[j])
            owner.append(i)
            is_last.append(j == keep[-1])
    d = X.shape[1]
    Z = np.array(rows, dtype=float).reshape(len(rows), d + 1)
    y, owner, is_last = np.array(ys, dtype=float), np.array(owner, dtype=int), np.array(is_last)
    if len(y) > max_rows:
        # Rank trials by their last value (best first); keep all last rows before any
        # intermediate one, and within each kind the better trials' rows first.
        last_value = np.full(len(curves), np.inf)
        last_value[owner[is_last]] = y[is_last]
        order = np.lexsort((last_value[owner], ~is_last))
        keep = np.sort(order[:max_rows])
        Z, y, owner = Z[keep], y[keep], owner[keep]
    return CurveRows(Z, y, owner)


def kappa(u: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """(beta / (beta + u)) ** alpha, computed in log space (u >= 0)."""
    return torch.exp(alpha * (torch.log(beta) - torch.log(beta + u)))


class LearningCurveKernel(Kernel):
    """The (x, r) kernel of the module docstring. ``k_a`` and ``k_g`` act on the first ``d``
    columns (through their own ``active_dims``, or their ``cols`` in a conditional space with
    ``structure``); the resource ``r`` is column ``d``."""

    def __init__(self, k_a: Kernel, k_g: Kernel, d: int,
                 structure: ConditionalStructure | None = None):
        super().__init__()
        self.kernels = torch.nn.ModuleList([k_a, k_g])
        self.d = d
        self.structure = structure
        for name, (loc, scale), init in (("alpha", ALPHA_PRIOR, ALPHA_INIT),
                                         ("beta", BETA_PRIOR, BETA_INIT),
                                         ("smooth", SCALE_PRIOR, SCALE_INIT),
                                         ("shared", SCALE_PRIOR, SCALE_INIT),
                                         ("own", SCALE_PRIOR, SCALE_INIT)):
            self.register_parameter(f"raw_{name}", torch.nn.Parameter(torch.zeros(1)))
            self.register_constraint(f"raw_{name}", GreaterThan(POSITIVE_FLOOR,
                                                                initial_value=init))
            self.register_prior(f"{name}_prior", LogNormalPrior(loc, scale),
                                lambda m, n=name: m.value(n), lambda m, v, n=name: m.set(n, v))
            self.set(name, init)

    def value(self, name: str) -> torch.Tensor:
        """A hyperparameter: ``alpha``, ``beta``, ``smooth`` (v), ``shared`` (s), ``own`` (w)."""
        return getattr(self, f"raw_{name}_constraint").transform(getattr(self, f"raw_{name}"))

    def set(self, name: str, value: float | torch.Tensor) -> None:
        raw = getattr(self, f"raw_{name}")
        value = torch.as_tensor(value, dtype=raw.dtype).reshape(raw.shape)
        value = value.clamp_min(2 * POSITIVE_FLOOR)  # at the floor itself the raw value is -inf
        raw.data.copy_(getattr(self, f"raw_{name}_constraint").inverse_transform(value))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any):
        alpha, beta = self.value("alpha"), self.value("beta")
        v, s, w = self.value("smooth"), self.value("shared"), self.value("own")
        r1, r2 = x1[..., self.d], x2[..., self.d]
        k_a = self.kernels[0](x1, x2, diag=diag)
        k_g = self.kernels[1](x1, x2, diag=diag)
        if diag:
            u, same = r1 + r2, torch.ones_like(r1)
        else:
            k_a, k_g = k_a.to_dense(), k_g.to_dense()
            u = r1.unsqueeze(-1) + r2.unsqueeze(-2)
            u1, u2 = self._configuration(x1), self._configuration(x2)
            gap = (u1.unsqueeze(-2) - u2.unsqueeze(-3)).abs()
            same = (gap.amax(-1) <= SAME_POINT_TOL).to(x1.dtype)
        kr = kappa(u, alpha, beta)
        norm = 1 + (v + s + w) * kappa(torch.full_like(alpha, 2.0), alpha, beta)
        return (k_a + (v * k_g + s + w * same) * kr) / norm

    def _configuration(self, x: torch.Tensor) -> torch.Tensor:
        """The ``d`` configuration columns, inactive ones (conditional spaces) set to -1: two
        rows are the same configuration when their active values agree."""
        u = x[..., :self.d]
        if not self.structure:
            return u
        return torch.where(active_mask(u, self.structure), u, torch.full_like(u, -1.0))


def curve_kernel(d: int, cat_cols: list[int], opts: EngineOptions = DEFAULT,
                 structure: ConditionalStructure | None = None) -> LearningCurveKernel:
    """The (x, r) kernel on rows ``(N, d + 1)``: ``kernels.config_kernel`` over the ``d``
    configuration columns (and a copy of it for the transient) in a ``LearningCurveKernel``."""
    k_a = config_kernel(d, cat_cols, opts, structure)
    return LearningCurveKernel(k_a, copy.deepcopy(k_a), d, structure)


def curve_parts(d: int, cat_cols: list[int], opts: EngineOptions = DEFAULT,
                structure: ConditionalStructure | None = None) -> GPParts:
    """The learning-curve GP: ``curve_kernel``, with the plain GP's likelihood and priors."""
    return GPParts(kernel=lambda: curve_kernel(d, cat_cols, opts, structure),
                   likelihood=lambda: gaussian_likelihood(opts),
                   log_prior=bowl_log_prior if opts.lengthscale_prior == "bowl" else None)


def fit_curve_gp(Z: torch.Tensor, z: torch.Tensor, cat_cols: list[int],
                 warm_state: dict[str, torch.Tensor] | None = None, optimize: bool = True,
                 opts: EngineOptions = DEFAULT,
                 structure: ConditionalStructure | None = None) -> RayboGP:
    """MAP fit on rows ``Z: (N, d + 1)``, targets ``z: (N,)``, through ``surrogate.fit``'s
    warm-start and fallback chain (raises ``surrogate.FitError`` when nothing usable fits)."""
    return fit(Z, z, curve_parts(Z.shape[-1] - 1, cat_cols, opts, structure), warm_state,
               optimize, opts)


@dataclass
class FinalPosterior:
    """Predictions at the final fidelity, with the interface the acquisition uses
    (``strategies.Predictive``):
    ``predict(Xc: (b, d)) -> (mean (m, b), var (b,))`` and ``best: (m,)``, the lowest posterior
    mean at ``r = 1`` over the configurations seen (the incumbent of a noisy EI: stopped trials
    have no final value, so the lowest *observed* target would mix fidelities)."""

    post: Posterior
    best: torch.Tensor

    def predict(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.post.predict(at_final(Xc))


def at_final(X: torch.Tensor) -> torch.Tensor:
    """``X: (b, d)`` -> ``(b, d + 1)`` rows at the final fidelity ``r = 1``."""
    return torch.cat([X, torch.ones(*X.shape[:-1], 1, dtype=X.dtype)], dim=-1)


def final_posterior(model: RayboGP, Z: torch.Tensor, z: torch.Tensor,
                    X_seen: torch.Tensor, Z_pending: torch.Tensor | None = None,
                    eps: torch.Tensor | None = None, n_sampled: int | None = None
                    ) -> FinalPosterior:
    """Posterior at the final fidelity from rows ``Z``, ``z``; with ``Z_pending: (p, d + 1)``
    and base samples ``eps: (m, p)`` (``fantasies.base_samples``), conditioned on ``m``
    fantasized outcomes of the pending trials at their levels (``n_sampled``: only that many
    sampled, the rest at their conditional mean, see ``fantasies.fantasize``). ``X_seen: (k,
    d)`` are the configurations (observed and pending) whose predicted final values define
    ``best``."""
    post = build_posterior(model, Z, z[:, None])
    if Z_pending is not None and len(Z_pending):
        post = fantasize(post, Z_pending, eps, n_sampled)
    with torch.no_grad():
        mean, _ = post.predict(at_final(X_seen))  # (m, k)
    return FinalPosterior(post, mean.min(-1).values)
