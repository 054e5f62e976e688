"""Acquisition functions as pure functions of the posterior, for minimization.

Notation: ``mean: (m, b)`` posterior means of ``m`` fantasy models at ``b`` candidates,
``var: (b,)`` latent variance (shared by the fantasies), ``best: (m,)`` incumbent per fantasy.
Every function returns ``(b,)``, larger is better, averaged over the fantasies in the function's
own natural space (log space for log-EI).

log-EI follows Ament et al. 2023 ("Unexpected improvements to expected improvement", the
BoTorch ``logei`` helpers): EI's plain form underflows to exactly 0 with a zero gradient far
from the incumbent, which stalls gradient-based optimization; the log form stays finite.
"""

from __future__ import annotations

import math

import torch

UCB_BETA = 4.0  # mean - sqrt(beta) * std: a 2-sigma optimism bonus, a common default
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_INV_SQRT2 = 1 / math.sqrt(2)
_SQRT_PI_DIV_2 = math.sqrt(math.pi / 2)


def _std_and_z(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor):
    std = var.clamp_min(1e-12).sqrt()
    return std, (best.unsqueeze(-1) - mean) / std  # improvement in units of std


def _log_phi(u: torch.Tensor) -> torch.Tensor:
    return -0.5 * u * u - _LOG_SQRT_2PI


def _log1mexp(w: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(w)) for w < 0, accurate on both sides of -log 2 (Maechler 2012)."""
    return torch.where(w > -math.log(2), torch.log(-torch.expm1(w)), torch.log1p(-torch.exp(w)))


def log_h(u: torch.Tensor) -> torch.Tensor:
    """log(phi(u) + u * Phi(u)), the log of EI's standardized form, stable for all u."""
    upper = u.clamp_min(-1.0)
    h_upper = torch.exp(_log_phi(upper)) + upper * torch.special.ndtr(upper)
    lower = u.clamp(min=-1e6, max=-1.0)
    # For u < -1: h = phi(u) * (1 - |u| Phi(u) / phi(u)) and Phi/phi = sqrt(pi/2) erfcx(-u/sqrt2).
    w = torch.log(torch.special.erfcx(-lower * _INV_SQRT2) * lower.abs()) + math.log(_SQRT_PI_DIV_2)
    h_lower = _log_phi(lower) + _log1mexp(w)
    tail = -0.5 * u * u - _LOG_SQRT_2PI - 2 * torch.log(u.abs().clamp_min(1.0))  # u < -1e6
    h_lower = torch.where(u < -1e6, tail, h_lower)
    return torch.where(u > -1.0, torch.log(h_upper), h_lower)


def log_ei(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    return log_mean_over_fantasies(log_ei_each(mean, var, best))


def log_ei_each(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """log-EI per fantasy, ``(m, b)``."""
    std, z = _std_and_z(mean, var, best)
    return log_h(z) + torch.log(std)


def log_mean_over_fantasies(per_fantasy: torch.Tensor) -> torch.Tensor:
    """``(m, b) -> (b,)``: log of the mean over fantasies of exp(per_fantasy)."""
    return torch.logsumexp(per_fantasy, dim=0) - math.log(per_fantasy.shape[0])


# -- several outcomes: objectives j < k, constraint columns c, candidates b, fantasies m ----------
BIG = 1e4  # stands in for an infinite cell bound on standardized targets (|z| < 100 in practice)


def log_feasibility(mean: torch.Tensor, var: torch.Tensor, thresholds: torch.Tensor
                    ) -> torch.Tensor:
    """log P(every constraint holds) ``(m, b)`` for independent GPs per constraint: ``mean: (c,
    m, b)``, ``var: (c, b)``, ``thresholds: (c,)`` (a constraint holds where its value is <=
    its threshold). Multiplied into an acquisition (added in log space), as in constrained EI
    (Gardner et al. 2014) and BoTorch's constrained log acquisitions."""
    if mean.shape[0] == 0:
        return torch.zeros(mean.shape[1:], dtype=mean.dtype)
    std = var.clamp_min(1e-12).sqrt().unsqueeze(1)  # (c, 1, b)
    return torch.special.log_ndtr((thresholds[:, None, None] - mean) / std).sum(0)


def log_ehvi(mean: torch.Tensor, var: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor
             ) -> torch.Tensor:
    """log expected hypervolume improvement of one candidate, per fantasy ``(m, b)``.

    ``mean: (k, m, b)``, ``var: (k, b)`` of independent GPs per objective (all minimized);
    ``lower``/``upper: (m, C, k)`` the ``C`` boxes that partition the region dominating the
    reference point but not dominated by fantasy ``i``'s Pareto front (BoTorch's box
    decomposition; ``lower`` may be -inf; a box with ``lower == upper`` is padding).

    With one candidate and independent objectives the improvement is a sum over boxes of a
    product over objectives, and the expectation of each factor has a closed form: the exact
    EHVI (Yang et al. 2019; BoTorch's analytic ``ExpectedHypervolumeImprovement``), here in
    log space so that it stays finite and has a gradient far from the front (as log-EI):
    ``E[(u - max(y, l))_+] = std * (h((u - mean) / std) - h((l - mean) / std))``, ``h`` EI's
    standardized form. ``box_levels`` precomputes the boxes once per posterior."""
    return log_ehvi_levels(mean, var, *box_levels(lower, upper))


def box_levels(lower: torch.Tensor, upper: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The boxes ``(m, C, k)`` as ``(levels (m, V, k), lower index (m, C, k), upper index (m, C,
    k), padding (m, C))``: each fantasy's boxes share few distinct corner coordinates per
    objective (``V`` about the front's size, ``C`` several times more in 3-D), so ``h`` is
    evaluated once per level instead of twice per box."""
    pad = (lower == upper).all(-1)
    lo = torch.where(torch.isfinite(lower), lower, torch.full_like(lower, -BIG))
    up = torch.where(pad[..., None], lo + 1.0, upper)
    m, C, k = lo.shape
    uniques = [[torch.unique(torch.cat([lo[i, :, j], up[i, :, j]]), return_inverse=True)
                for j in range(k)] for i in range(m)]
    V = max(len(u) for row in uniques for u, _ in row)
    levels = torch.zeros(m, V, k, dtype=lo.dtype)
    lo_idx = torch.zeros(m, C, k, dtype=torch.long)
    up_idx = torch.zeros(m, C, k, dtype=torch.long)
    for i, row in enumerate(uniques):
        for j, (u, inverse) in enumerate(row):
            levels[i, :, j] = torch.cat([u, u[-1:].expand(V - len(u))])
            lo_idx[i, :, j], up_idx[i, :, j] = inverse[:C], inverse[C:]
    return levels, lo_idx, up_idx, pad


def log_ehvi_levels(mean: torch.Tensor, var: torch.Tensor, levels: torch.Tensor,
                    lo_idx: torch.Tensor, up_idx: torch.Tensor, pad: torch.Tensor
                    ) -> torch.Tensor:
    """``log_ehvi`` on boxes given as ``box_levels``; ``(m, b)``."""
    std = var.clamp_min(1e-12).sqrt()  # (k, b)
    mu = mean.permute(1, 2, 0)[:, :, None, :]  # (m, b, 1, k)
    sd = std.T[None, :, None, :]  # (1, b, 1, k)
    log_h_levels = log_h((levels[:, None] - mu) / sd)  # (m, b, V, k)
    b = mu.shape[1]
    log_hu = log_h_levels.gather(2, up_idx[:, None].expand(-1, b, -1, -1))  # (m, b, C, k)
    log_hl = log_h_levels.gather(2, lo_idx[:, None].expand(-1, b, -1, -1))
    per_box = (torch.log(sd) + log_hu + _log1mexp((log_hl - log_hu).clamp_max(-1e-12))).sum(-1)
    per_box = per_box + torch.where(pad, -math.inf, 0.0)[:, None, :]
    return torch.logsumexp(per_box, dim=-1)


def ei(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    std, z = _std_and_z(mean, var, best)
    per_fantasy = std * (torch.exp(_log_phi(z)) + z * torch.special.ndtr(z))
    return per_fantasy.mean(0)


def pi(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    _, z = _std_and_z(mean, var, best)
    return torch.special.ndtr(z).mean(0)


def ucb(mean: torch.Tensor, var: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """Lower confidence bound, negated so that larger is better; ``best`` is unused."""
    return (-mean + math.sqrt(UCB_BETA) * var.clamp_min(1e-12).sqrt()).mean(0)


ACQUISITIONS = {"logei": log_ei, "ei": ei, "pi": pi, "ucb": ucb}
LOG_SPACE = {"logei"}  # acquisitions returned as logarithms
# A weight multiplies a positive acquisition; UCB's lower bound may be negative.
WEIGHTABLE = ("logei", "ei", "pi")


def weighted(value: torch.Tensor, log_weight: torch.Tensor, log_space: bool) -> torch.Tensor:
    """An acquisition ``value: (b,)`` times a weight ``w: (b,) > 0`` given as ``log w`` (piBO's
    prior weight ``pi(x) ** (beta / n)``): in log space (log-EI) a sum, else a product."""
    return value + log_weight if log_space else value * torch.exp(log_weight)
