"""Cheap learning-curve problems with a known optimum, for scheduler (multi-fidelity) benchmarks.

A configuration ``u`` in [0, 1]^d (the unit box of the problem's Tune space) trains for
``t = 1 .. T`` epochs; its validation loss after ``t`` epochs is

    f(u, t) = g(u) + gap * phi(t; tau(u)) + noise,
    phi(t; tau) = (rho(t) - rho(T)) / (1 - rho(T)),  rho(t) = 1 / (1 + t / tau),

so every curve starts at ``g(u) + gap`` (t = 0), falls monotonically and ends exactly at the
final value ``g(u)`` at ``t = T``: the optimum of the final fidelity is the optimum of ``g``,
known in closed form (or by local polishing of the known basins). ``tau(u)`` is the epoch scale
of convergence: a fast configuration (tau ~ 0.5) has nearly its final value after one epoch, a
slow one (tau ~ 30) falls almost linearly to the end. Early epochs rank configurations by
``g + gap * phi``, which is informative but imperfect; on ``branin_mislead`` the best basin is
the slowest, so early epochs point to the wrong basin.

Noise: Gaussian, ``noise`` standard deviation, independent per (configuration, epoch, seed),
drawn from a hash so every searcher sees the same value for the same report. Benchmarks score
the noise-free final value ``g(u)`` of trials that reached ``T``.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from benchmarks.problems import branin, hartmann6

T_MAX = 27  # epochs: rungs 1, 3, 9, 27 with reduction factor 3 (HyperBand's classic setting)
TAU_FAST, TAU_SLOW = 0.5, 30.0  # epochs: converged after ~1 epoch vs still falling at T
METRIC, MODE = "loss", "min"


@dataclass(frozen=True)
class CurveProblem:
    """A learning-curve problem: ``g`` and ``log_tau`` map unit-box points ``(d,)`` to the
    final value and log epoch scale; parameters ``x0 .. x{d-1}`` range over ``bounds``."""

    name: str
    bounds: tuple[tuple[float, float], ...]
    g: Callable[[np.ndarray], float]
    tau_weight: Callable[[np.ndarray], float]  # in [0, 1]: 0 fast (TAU_FAST), 1 slow
    f_star: float
    gap: float = 1.5
    noise: float = 0.01
    t_max: int = T_MAX

    @property
    def dim(self) -> int:
        return len(self.bounds)

    @property
    def space(self) -> dict:
        from ray import tune

        return {f"x{i}": tune.uniform(lo, hi) for i, (lo, hi) in enumerate(self.bounds)}

    def unit(self, config: dict) -> np.ndarray:
        return np.array([(float(config[f"x{i}"]) - lo) / (hi - lo)
                         for i, (lo, hi) in enumerate(self.bounds)])

    def tau(self, u: np.ndarray) -> float:
        w = float(np.clip(self.tau_weight(u), 0.0, 1.0))
        return math.exp(math.log(TAU_FAST) + w * (math.log(TAU_SLOW) - math.log(TAU_FAST)))

    def mean(self, u: np.ndarray, t: float) -> float:
        """Noise-free loss after ``t`` epochs (``t = t_max``: exactly ``g(u)``)."""
        tau = self.tau(u)
        rho_t, rho_end = 1 / (1 + t / tau), 1 / (1 + self.t_max / tau)
        return self.g(u) + self.gap * (rho_t - rho_end) / (1 - rho_end)

    def value(self, u: np.ndarray, t: int, seed: int = 0) -> float:
        """The reported (noisy) loss after ``t`` epochs."""
        key = hashlib.blake2b(struct.pack(f"<{len(u)}dqq", *u, t, seed), digest_size=8)
        eps = np.random.default_rng(int.from_bytes(key.digest(), "little")).standard_normal()
        return self.mean(u, t) + self.noise * float(eps)

    def regret(self, final_value: float) -> float:
        return max(float(final_value) - self.f_star, 0.0)


def _branin_unit(u: np.ndarray) -> float:
    return branin(np.array([-5.0 + 15.0 * u[0], 15.0 * u[1]]))


_BRANIN_MIN = 0.397887357729738


def _branin_lc_g(u: np.ndarray) -> float:
    # log1p keeps Branin's basins (linear near 0) and squeezes its range to what validation
    # losses span, comparable to the gap of the curves (figures: README "Schedulers").
    return math.log1p(_branin_unit(u) - _BRANIN_MIN)


def _branin_lc_tau(u: np.ndarray) -> float:
    # A smooth ridge pattern unrelated to where the minima are: the three basins converge at
    # different speeds, none at the extremes.
    return 0.5 + 0.5 * math.sin(2 * math.pi * (u[0] + 0.7 * u[1]) + 1.0)


MISLEAD_TILT = 0.3  # per unit of x0: the low-x0 basin is the best one


def _mislead_g(u: np.ndarray) -> float:
    return _branin_lc_g(u) + MISLEAD_TILT * u[0]


def _mislead_tau(u: np.ndarray) -> float:
    return 1.0 - u[0]  # like a learning rate along x0: small x0 learns slowly, ends best


def _hartmann6_g(u: np.ndarray) -> float:
    return hartmann6(u) + 3.32236801141551  # 0 at the optimum


def _hartmann6_tau(u: np.ndarray) -> float:
    return 0.5 * (u[0] + u[4])  # the optimum (0.20, ..., 0.31, ...) converges fairly fast


def _polished_min(g: Callable[[np.ndarray], float], starts: list[list[float]]) -> float:
    """Minimum of ``g`` over the unit box by L-BFGS-B from starts in each known basin."""
    best = math.inf
    for s in starts:
        res = minimize(lambda u: g(np.asarray(u)), s, method="L-BFGS-B", bounds=[(0, 1)] * len(s),
                       options={"ftol": 1e-15, "gtol": 1e-12})
        best = min(best, float(res.fun))
    return best


# Branin's minima in unit coordinates: (-pi, 12.275), (pi, 2.275), (9.42478, 2.475).
_BRANIN_BASINS = [[0.1239, 0.8183], [0.5428, 0.1517], [0.9617, 0.1650]]


def _make(name: str) -> CurveProblem:
    if name == "branin_lc":
        return CurveProblem(name, ((-5.0, 10.0), (0.0, 15.0)), _branin_lc_g, _branin_lc_tau, 0.0)
    if name == "branin_mislead":
        return CurveProblem(name, ((-5.0, 10.0), (0.0, 15.0)), _mislead_g, _mislead_tau,
                            _polished_min(_mislead_g, _BRANIN_BASINS))
    if name == "hartmann6_lc":
        return CurveProblem(name, ((0.0, 1.0),) * 6, _hartmann6_g, _hartmann6_tau, 0.0)
    raise ValueError(f"curve problem must be one of {CURVE_PROBLEMS}, got {name!r}")


CURVE_PROBLEMS = ("branin_lc", "branin_mislead", "hartmann6_lc")
_CACHE: dict[str, CurveProblem] = {}


def get_curve_problem(name: str) -> CurveProblem:
    if name not in _CACHE:
        _CACHE[name] = _make(name)
    return _CACHE[name]
