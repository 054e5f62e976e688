"""Benchmark objectives with known optima, each with a Tune search space.

All problems are minimized; regret = f(config) - f_star >= 0.  Synthetic problems use
parameters named ``x0 .. x{d-1}`` with ``tune.uniform`` domains.  ``unit(config)`` maps a
config into [0, 1]^k (k >= d; categoricals one-hot, log floats in log space) so that
distances between configs (batch diversity) are comparable across problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ray import tune

Config = dict[str, object]


@dataclass(frozen=True)
class Problem:
    """A minimization problem: objective, Tune space, optimum and a regret target.

    ``target`` is the regret that counts as "solved" for the evaluations-to-target
    table; it was fixed per problem before any searcher was run.
    """

    name: str
    dim: int
    space: dict[str, object]
    f_star: float
    target: float
    func: Callable[[Config], float]
    unit: Callable[[Config], np.ndarray]
    float_only: bool = True
    bounds: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, config: Config) -> float:
        return float(self.func(config))

    def regret(self, value: float) -> float:
        """Simple regret of one value; clipped at 0 against round-off below f_star."""
        return max(float(value) - self.f_star, 0.0)


def _vector(config: Config, dim: int) -> np.ndarray:
    return np.array([float(config[f"x{i}"]) for i in range(dim)], dtype=np.float64)


def _box(name: str, bounds: list[tuple[float, float]], f, f_star: float, target: float):
    dim = len(bounds)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    space = {f"x{i}": tune.uniform(lo_i, hi_i) for i, (lo_i, hi_i) in enumerate(bounds)}
    return Problem(
        name=name,
        dim=dim,
        space=space,
        f_star=f_star,
        target=target,
        func=lambda c: f(_vector(c, dim)),
        unit=lambda c: (_vector(c, dim) - lo) / (hi - lo),
        bounds=list(bounds),
    )


def branin(x: np.ndarray) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; three global minima of 0.397887."""
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-d on [0, 1]^6; global minimum -3.32237."""
    inner = np.sum(_H6_A * (x[None, :] - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock valley; minimum 0 at (1, ..., 1)."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    """Ackley; minimum 0 at the origin."""
    d = x.size
    s1 = np.sqrt(np.sum(x**2) / d)
    s2 = np.sum(np.cos(2 * math.pi * x)) / d
    return float(-20.0 * np.exp(-0.2 * s1) - np.exp(s2) + 20.0 + math.e)


def levy(x: np.ndarray) -> float:
    """Levy; minimum 0 at (1, ..., 1)."""
    w = 1.0 + (x - 1.0) / 4.0
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


# ---- mixed, hyperparameter-like problem -------------------------------------------------
# Each optimizer has its own offset and best log10(lr); the best lr shrinks with depth,
# the best dropout grows with depth and the best width grows with depth, so parameters
# interact.  At layers = 5 every quadratic term can be zero, so the optimum is exactly
# f* = 0 at (adam, lr = 10^-3.35, layers = 5, units = 128, dropout = 0.25).
MIXED_OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
_MIXED_OFFSET = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.15, "adagrad": 0.5}
_MIXED_LOG_LR = {"adam": -3.2, "sgd": -1.4, "rmsprop": -3.7, "adagrad": -1.9}
_LR_BOUNDS = (1e-5, 1.0)
_LAYERS_BOUNDS = (1, 8)  # tune.randint(1, 9): upper bound exclusive
_UNITS_BOUNDS = (16, 512)


def mixed_objective(config: Config) -> float:
    """Smooth mixed objective with interactions; minimum 0 (see module constants)."""
    opt = str(config["optimizer"])
    layers = int(config["layers"])
    u = math.log10(float(config["lr"])) - (_MIXED_LOG_LR[opt] - 0.15 * (layers - 4))
    v = float(config["dropout"]) - 0.05 * layers
    w = math.log2(float(config["units"])) - (7.0 + 0.25 * (layers - 5))
    return (
        _MIXED_OFFSET[opt]
        + 0.8 * u**2
        + 0.1 * (1.0 - math.cos(2 * math.pi * u))  # ripples along lr: local optima
        + 4.0 * v**2
        + 0.3 * w**2
        + 0.02 * (layers - 5) ** 2
    )


def _mixed_unit(config: Config) -> np.ndarray:
    lr_lo, lr_hi = (math.log10(b) for b in _LR_BOUNDS)
    u_lo, u_hi = (math.log2(b) for b in _UNITS_BOUNDS)
    one_hot = [1.0 if config["optimizer"] == o else 0.0 for o in MIXED_OPTIMIZERS]
    return np.array(
        [
            (math.log10(float(config["lr"])) - lr_lo) / (lr_hi - lr_lo),
            (int(config["layers"]) - _LAYERS_BOUNDS[0]) / (_LAYERS_BOUNDS[1] - _LAYERS_BOUNDS[0]),
            (math.log2(float(config["units"])) - u_lo) / (u_hi - u_lo),
            float(config["dropout"]) / 0.5,
            *one_hot,
        ]
    )


def _mixed() -> Problem:
    space = {
        "lr": tune.loguniform(*_LR_BOUNDS),
        "layers": tune.randint(_LAYERS_BOUNDS[0], _LAYERS_BOUNDS[1] + 1),
        "units": tune.qrandint(_UNITS_BOUNDS[0], _UNITS_BOUNDS[1], 16),
        "optimizer": tune.choice(list(MIXED_OPTIMIZERS)),
        "dropout": tune.uniform(0.0, 0.5),
    }
    return Problem(
        name="mixed",
        dim=5,
        space=space,
        f_star=0.0,
        target=0.05,
        func=mixed_objective,
        unit=_mixed_unit,
        float_only=False,
    )


# Ackley's domain is shifted so its optimum sits at 1/3 of each range rather than at the
# cube centre, which a space-filling initial design could hit by construction.
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": lambda: _box("branin", [(-5.0, 10.0), (0.0, 15.0)], branin, 0.397887357729738, 1e-2),
    "hartmann6": lambda: _box("hartmann6", [(0.0, 1.0)] * 6, hartmann6, -3.32236801141551, 0.1),
    "rosenbrock": lambda: _box("rosenbrock", [(-5.0, 10.0)] * 4, rosenbrock, 0.0, 10.0),
    "ackley": lambda: _box("ackley", [(-16.384, 32.768)] * 5, ackley, 0.0, 3.0),
    "levy": lambda: _box("levy", [(-10.0, 10.0)] * 8, levy, 0.0, 1.0),
    "mixed": _mixed,
}


def get_problem(name: str) -> Problem:
    """Build a problem by name (``PROBLEMS``, the conditional ones of ``conditional.py`` or the
    scikit-learn tasks of ``realtasks.py``); raises ValueError naming the known problems."""
    if name in PROBLEMS:
        return PROBLEMS[name]()
    from benchmarks.conditional import CONDITIONAL_PROBLEMS  # imports this module
    from benchmarks.realsuite import REAL_SUITE  # the scikit-learn suite of realsuite.py
    from benchmarks.realtasks import REAL_TASKS  # scikit-learn tasks (a module of their own)

    known = {**CONDITIONAL_PROBLEMS, **REAL_TASKS, **REAL_SUITE}
    if name in known:
        return known[name]()
    raise ValueError(f"problem must be one of {sorted(PROBLEMS) + sorted(known)}, got {name!r}")
