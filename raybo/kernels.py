"""The GP surrogate's kernels and priors: a small factory (``config_kernel``,
``gaussian_likelihood``, ``bowl_log_prior``) whose parts ``surrogate.RayboGP`` is built from, and
the kernels GPyTorch does not ship: categorical overlap, and the conditional versions used when
a search space has branches.

Notation: ``x1: (..., n, d)``, ``x2: (..., m, d)`` in [0, 1]^d; ``structure`` the space's
``ConditionalStructure`` (``SearchSpace.structure``: a ``(column, branch, option, n_options)``
condition per conditional column, parents first); ``A: (..., n, d)`` bool, which columns are
active.

Kernel of a configuration (``config_kernel``): Matern-5/2 ARD on the continuous/integer columns
x exponentiated Hamming on the categorical ones, unit signal variance because targets are
standardized (as BoTorch does since 0.12). Priors follow Hvarfner et al. 2024 ("Vanilla BO
performs great at high dimensions"): lengthscales LogNormal(sqrt(2) + log(d) / 2, sqrt(3)), so
the prior lengthscale grows like sqrt(d) and high-d spaces are not modelled as noise; noise
LogNormal(-4, 1) with a floor (``noise_floor``).

Conditional spaces (an inactive parameter must not pretend to have a value). We use the
*arc kernel* of Swersky et al. 2014 ("Raiders of the lost architecture: kernels for Bayesian
optimization in conditional parameter spaces"): an active conditional column j is embedded on
an arc, e(x) = R_j (cos(pi rho x), sin(pi rho x)), an inactive one at the origin, and the
Matern-5/2 kernel is taken over the embedded distances. Then
  both active:   d_j^2 = 2 R_j^2 (1 - cos(pi rho (x - x')))  ~ (x - x')^2 / l_j^2 for small gaps,
  one inactive:  d_j^2 = R_j^2, whatever the active value is,
  both inactive: d_j^2 = 0,
which is a Euclidean distance of an embedding, so the kernel stays positive definite. We fix
rho = 1/2 (a quarter circle, so the two ends of a range stay apart) and R_j = 1 / (pi rho l_j)
with l_j the column's ARD lengthscale, so an active-active pair behaves exactly like the flat
Matern kernel up to second order, and the "absent" penalty is learned through l_j. Why not
the alternatives: fixing inactive columns at a constant (Ax's flattening) makes a value of 0.5
stand for "absent"; a per-branch independent GP (Jenatton et al. 2017) shares nothing across
branches, which wastes the common parameters (lr, batch size) that every branch has; Optuna's
GPSampler falls back to random sampling for such parameters. Categorical conditional columns
use the overlap kernel with "absent" as one more category, the same construction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import gpytorch
import torch
from gpytorch.constraints import GreaterThan
from gpytorch.priors import LogNormalPrior

from raybo.options import EngineOptions
from raybo.state import SAME_POINT_TOL

if TYPE_CHECKING:
    from raybo.space import ConditionalStructure

ARC_RHO = 0.5  # fraction of a half turn the [0, 1] range spans on the arc (see module doc)


def active_mask(X: torch.Tensor, structure: ConditionalStructure) -> torch.Tensor:
    """``(..., n, d)`` bool: which columns of ``X`` are active (every branch above a column
    selects its option). Piecewise constant in ``X``: no gradient flows through it."""
    A = torch.ones(X.shape, dtype=torch.bool, device=X.device)
    for j, pj, option, k in structure:
        chosen = torch.clamp((X[..., pj].detach().clamp(0.0, 1.0) * k).long(), max=k - 1)
        A[..., j] = A[..., pj] & (chosen == option)
    return A


def _see_all_columns(kernel: gpytorch.kernels.Kernel) -> None:
    """These kernels read the whole ``x`` (branch columns decide which of their own columns are
    active) while their lengthscale has one entry per own column: GPyTorch checks the input
    width against ``ard_num_dims`` once the lengthscale is registered, so drop that check."""
    kernel.ard_num_dims = None


class CategoricalKernel(gpytorch.kernels.Kernel):
    """k(x, x') = exp(-mean_j [x_j != x'_j] / l_j): an ARD overlap (Hamming) kernel.

    With ``structure`` (conditional spaces) it works on the full ``x`` and reads only ``cols``; an
    inactive column counts as one more category ("absent"), so it never matches an active value
    and two inactive ones match.
    """

    has_lengthscale = True

    def __init__(self, cols: list[int] | None = None,
                 structure: ConditionalStructure | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.cols, self.structure = cols, structure
        if structure:
            _see_all_columns(self)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any):
        if self.structure:
            a1, a2 = (active_mask(x, self.structure)[..., self.cols] for x in (x1, x2))
            x1, x2 = x1[..., self.cols], x2[..., self.cols]
        delta = ((x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs() > SAME_POINT_TOL).to(x1.dtype)
        if self.structure:
            both = a1.unsqueeze(-2) & a2.unsqueeze(-3)
            either = a1.unsqueeze(-2) | a2.unsqueeze(-3)
            delta = torch.where(both, delta, either.to(x1.dtype))
        k = torch.exp(-(delta / self.lengthscale.unsqueeze(-2)).mean(-1))
        return k.diagonal(dim1=-2, dim2=-1) if diag else k


class ConditionalMatern(gpytorch.kernels.Kernel):
    """Matern-5/2 ARD over the numeric columns ``cols`` of the full ``x``, with the arc
    embedding on the conditional ones (module doc). ``lengthscale: (1, len(cols))``."""

    has_lengthscale = True

    def __init__(self, cols: list[int], structure: ConditionalStructure, **kwargs: Any):
        super().__init__(**kwargs)
        self.cols, self.structure = cols, structure
        _see_all_columns(self)
        conditional = structure.columns
        self.register_buffer(
            "is_cond", torch.tensor([j in conditional for j in cols], dtype=torch.bool))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any):
        a1, a2 = (active_mask(x, self.structure)[..., self.cols] for x in (x1, x2))
        ls = self.lengthscale  # (1, c)
        u1, u2 = x1[..., self.cols], x2[..., self.cols]
        if diag:
            gap = u1 - u2
            both, either = a1 & a2, a1 | a2
        else:
            gap = u1.unsqueeze(-2) - u2.unsqueeze(-3)  # (..., n, m, c)
            both = a1.unsqueeze(-2) & a2.unsqueeze(-3)
            either = a1.unsqueeze(-2) | a2.unsqueeze(-3)
        flat = gap.pow(2)
        arc_r2 = 1.0 / (math.pi * ARC_RHO) ** 2  # R^2 * l^2
        arc = 2.0 * arc_r2 * (1.0 - torch.cos(math.pi * ARC_RHO * gap))
        cond = torch.where(both, arc, torch.where(either, torch.full_like(gap, arc_r2),
                                                  torch.zeros_like(gap)))
        sq = torch.where(self.is_cond, cond, flat) / ls.pow(2)
        r = (5.0 * sq.sum(-1)).clamp_min(1e-30).sqrt()
        return (1.0 + r + r.pow(2) / 3.0) * torch.exp(-r)


# -- the factory ----------------------------------------------------------------------------
def config_kernel(d: int, cat_cols: list[int], opts: EngineOptions,
                  structure: ConditionalStructure | None = None) -> gpytorch.kernels.Kernel:
    """The kernel of configurations ``x: (d,)`` (module docstring), reading its columns of a
    possibly wider row (``active_dims`` or ``cols``): Matern-5/2 ARD on the columns not in
    ``cat_cols`` x overlap on ``cat_cols``, their conditional versions with ``structure``."""
    cont_cols = [j for j in range(d) if j not in cat_cols]
    if opts.lengthscale_prior == "dim_scaled":
        ls_prior = LogNormalPrior(math.sqrt(2) + 0.5 * math.log(d), math.sqrt(3))
        ls_init = math.exp(ls_prior.loc.item() - ls_prior.scale.item() ** 2)  # its mode
    else:  # "bowl": a log prior added to the fit's objective, see bowl_log_prior
        ls_prior, ls_init = None, 1.0
    kernels = []
    if cont_cols:
        ls_kwargs = dict(ard_num_dims=len(cont_cols), lengthscale_prior=ls_prior,
                         lengthscale_constraint=GreaterThan(opts.lengthscale_floor,
                                                            initial_value=ls_init))
        kernels.append(
            ConditionalMatern(cont_cols, structure, **ls_kwargs) if structure else
            gpytorch.kernels.MaternKernel(nu=2.5, active_dims=cont_cols, **ls_kwargs))
    if cat_cols:
        # Without a prior the categorical lengthscale's MAP swings between "categories
        # unrelated" and "parameter ignored" from one fit to the next on small data, and a run
        # commits to a category early (benchmarks/README.md, "Engine decisions").
        cat_prior = LogNormalPrior(0.0, 1.0) if opts.cat_lengthscale_prior else None
        cat_kwargs = dict(ard_num_dims=len(cat_cols), lengthscale_prior=cat_prior,
                          lengthscale_constraint=GreaterThan(1e-2, initial_value=1.0))
        kernels.append(CategoricalKernel(cols=cat_cols, structure=structure, **cat_kwargs)
                       if structure else CategoricalKernel(active_dims=cat_cols, **cat_kwargs))
    return kernels[0] if len(kernels) == 1 else gpytorch.kernels.ProductKernel(*kernels)


def gaussian_likelihood(opts: EngineOptions) -> gpytorch.likelihoods.GaussianLikelihood:
    """Homoscedastic Gaussian noise, LogNormal(-4, 1) prior, floored at ``opts.noise_floor``."""
    return gpytorch.likelihoods.GaussianLikelihood(
        noise_prior=LogNormalPrior(-4.0, 1.0),
        noise_constraint=GreaterThan(opts.noise_floor,
                                     initial_value=max(math.exp(-5.0), 2 * opts.noise_floor)),
    )


def bowl_log_prior(kernel: gpytorch.kernels.Kernel) -> torch.Tensor:
    """log p(l) = -0.1 (l^2 + l^-2) summed over the Matern lengthscales inside ``kernel``:
    Optuna's GPSampler prior written in lengthscales (its -0.1 (rho + 1/rho) on rho = l^-2),
    flat-ish for l in [0.3, 3] of the unit cube and steep outside, so a dimension the data near
    one basin ignores is not declared irrelevant everywhere (``lengthscale_prior="bowl"``)."""
    total = torch.zeros((), dtype=torch.float64)
    for k in kernel.modules():
        if isinstance(k, (gpytorch.kernels.MaternKernel, ConditionalMatern)):
            ls = k.lengthscale
            total = total - 0.1 * (ls.pow(2) + ls.pow(-2)).sum()
    return total
