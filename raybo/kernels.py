"""Kernels of the GP surrogate that GPyTorch does not ship: categorical overlap, and the
conditional (tree-structured) versions used when a search space has branches.

Notation: ``x1: (..., n, d)``, ``x2: (..., m, d)`` in [0, 1]^d; ``tree`` lists ``(column, branch
column, option, options of that branch)`` for every conditional column, parents first
(``SearchSpace.tree``); ``A: (..., n, d)`` bool, which columns are active.

Conditional spaces (issue: an inactive parameter must not pretend to have a value). We use the
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
from typing import Any

import gpytorch
import torch

ARC_RHO = 0.5  # fraction of a half turn the [0, 1] range spans on the arc (see module doc)
SAME_TOL = 1e-6  # two categorical encodings closer than this are the same category


def active_mask(X: torch.Tensor, tree: list[tuple[int, int, int, int]]) -> torch.Tensor:
    """``(..., n, d)`` bool: which columns of ``X`` are active (every branch above a column
    selects its option). Piecewise constant in ``X``: no gradient flows through it."""
    A = torch.ones(X.shape, dtype=torch.bool, device=X.device)
    for j, pj, option, k in tree:
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

    With ``tree`` (conditional spaces) it works on the full ``x`` and reads only ``cols``; an
    inactive column counts as one more category ("absent"), so it never matches an active value
    and two inactive ones match.
    """

    has_lengthscale = True

    def __init__(self, cols: list[int] | None = None,
                 tree: list[tuple[int, int, int, int]] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.cols, self.tree = cols, tree
        if tree:
            _see_all_columns(self)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any):
        if self.tree:
            a1, a2 = (active_mask(x, self.tree)[..., self.cols] for x in (x1, x2))
            x1, x2 = x1[..., self.cols], x2[..., self.cols]
        delta = ((x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs() > SAME_TOL).to(x1.dtype)
        if self.tree:
            both = a1.unsqueeze(-2) & a2.unsqueeze(-3)
            either = a1.unsqueeze(-2) | a2.unsqueeze(-3)
            delta = torch.where(both, delta, either.to(x1.dtype))
        k = torch.exp(-(delta / self.lengthscale.unsqueeze(-2)).mean(-1))
        return k.diagonal(dim1=-2, dim2=-1) if diag else k


class ConditionalMatern(gpytorch.kernels.Kernel):
    """Matern-5/2 ARD over the numeric columns ``cols`` of the full ``x``, with the arc
    embedding on the conditional ones (module doc). ``lengthscale: (1, len(cols))``."""

    has_lengthscale = True

    def __init__(self, cols: list[int], tree: list[tuple[int, int, int, int]], **kwargs: Any):
        super().__init__(**kwargs)
        self.cols, self.tree = cols, tree
        _see_all_columns(self)
        conditional = {j for j, _, _, _ in tree}
        self.register_buffer(
            "is_cond", torch.tensor([j in conditional for j in cols], dtype=torch.bool))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any):
        a1, a2 = (active_mask(x, self.tree)[..., self.cols] for x in (x1, x2))
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
