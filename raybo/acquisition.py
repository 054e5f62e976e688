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
    std, z = _std_and_z(mean, var, best)
    per_fantasy = log_h(z) + torch.log(std)
    return torch.logsumexp(per_fantasy, dim=0) - math.log(per_fantasy.shape[0])


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
