"""More mixed integer / categorical problems with known optima, shaped like training runs.

``problems.mixed`` alone was not enough to judge categorical handling on (a change that helped
it hurt a held-out mixed space), so the synthetic suite has two more:

* ``mixed_cat`` (6-d): log-float ``lr`` and ``weight_decay``, integer ``log2_batch``, float
  ``momentum`` and two categoricals (``activation``: 3 options, ``schedule``: 3 options) that
  each move the best continuous values, so the categoricals interact with everything. Above a
  divergence line in ``lr`` (which depends on the batch size) the value jumps to a diverged
  log-loss of 8–12 (finite, as a diverged training reports), a cliff next to the optimum.
* ``mixed_int`` (8-d): wide integer ranges (``layers`` 1–12, ``log2_width`` 4–10 as
  ``qrandint``, ``heads`` from {1, 2, 4, 8, 16}), a 6-way categorical where one option is good
  and two are poor plateaus, log-float ``lr``, floats ``dropout`` and ``warmup`` and a binary
  ``norm`` choice; a plateau (flat region) covers a third of the lr range.

All minimized, optimum f* = 0 by construction (every quadratic term can vanish together at the
stated optimum); regret = f. ``unit`` maps a config to [0, 1]^k (categoricals one-hot).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from ray import tune

from benchmarks.problems import Config, Problem

# ---- mixed_cat ----------------------------------------------------------------------------
# Optimum: activation = gelu, schedule = cosine, log10 lr = -2.6 (best at log2_batch = 7, moves
# by 0.3 per doubling), log10 wd = -4, log2_batch = 7, momentum = 0.9.
ACTIVATIONS = ("relu", "tanh", "gelu")
SCHEDULES = ("cosine", "step", "constant")
_ACT_OFFSET = {"relu": 0.05, "tanh": 0.25, "gelu": 0.0}
_ACT_LOG_LR = {"relu": -2.4, "tanh": -3.1, "gelu": -2.6}
_SCHED_OFFSET = {"cosine": 0.0, "step": 0.08, "constant": 0.3}
_SCHED_LOG_WD = {"cosine": -4.0, "step": -3.0, "constant": -5.0}
_CAT_LR = (1e-5, 1.0)
_CAT_WD = (1e-7, 1e-1)
_CAT_BATCH = (4, 10)  # log2 batch size, tune.randint(4, 11)


def mixed_cat_objective(config: Config) -> float:
    """Validation-loss-like value; 0 at the optimum, 8-12 beyond the divergence line."""
    act, sched = str(config["activation"]), str(config["schedule"])
    b = int(config["log2_batch"])
    log_lr = math.log10(float(config["lr"]))
    best_lr = _ACT_LOG_LR[act] + 0.3 * (b - 7)
    if log_lr > best_lr + 1.2:  # diverged: a large, finite, noisy-looking loss
        return 8.0 + 4.0 * abs(math.sin(7.0 * log_lr + b))
    u = log_lr - best_lr
    v = math.log10(float(config["weight_decay"])) - _SCHED_LOG_WD[sched]
    m = float(config["momentum"]) - 0.9
    return (
        _ACT_OFFSET[act]
        + _SCHED_OFFSET[sched]
        + 0.6 * u**2
        + 0.05 * v**2
        + 2.0 * m**2 * (1.0 + (u > 0))  # high momentum hurts more at a high lr
        + 0.03 * (b - 7) ** 2
    )


def _mixed_cat_unit(config: Config) -> np.ndarray:
    lr = (math.log10(float(config["lr"])) + 5.0) / 5.0
    wd = (math.log10(float(config["weight_decay"])) + 7.0) / 6.0
    b = (int(config["log2_batch"]) - _CAT_BATCH[0]) / (_CAT_BATCH[1] - _CAT_BATCH[0])
    return np.array([
        lr, wd, b, float(config["momentum"]) / 0.99,
        *[float(config["activation"] == a) for a in ACTIVATIONS],
        *[float(config["schedule"] == s) for s in SCHEDULES],
    ])


def _mixed_cat() -> Problem:
    space = {
        "lr": tune.loguniform(*_CAT_LR),
        "weight_decay": tune.loguniform(*_CAT_WD),
        "log2_batch": tune.randint(_CAT_BATCH[0], _CAT_BATCH[1] + 1),
        "momentum": tune.uniform(0.0, 0.99),
        "activation": tune.choice(list(ACTIVATIONS)),
        "schedule": tune.choice(list(SCHEDULES)),
    }
    return Problem(name="mixed_cat", dim=6, space=space, f_star=0.0, target=0.05,
                   func=mixed_cat_objective, unit=_mixed_cat_unit, float_only=False)


# ---- mixed_int ----------------------------------------------------------------------------
# Optimum: block = "resnet", norm = "layer", layers = 6, log2_width = 8 (width 256), heads = 4,
# log10 lr = -3.3 (moves with depth), dropout = 0.1 + 0.02 * layers = 0.22, warmup = 0.05.
BLOCKS = ("resnet", "plain", "dense", "mixer", "conv", "gated")
_BLOCK_OFFSET = {"resnet": 0.0, "plain": 0.4, "dense": 0.12, "mixer": 0.4, "conv": 0.2,
                 "gated": 0.06}
_HEADS = (1, 2, 4, 8, 16)
_INT_LR = (1e-6, 1e-1)


def mixed_int_objective(config: Config) -> float:
    """0 at the optimum; a flat plateau at 1.5 for lr below 1e-5 (nothing trains)."""
    layers = int(config["layers"])
    log_lr = math.log10(float(config["lr"]))
    if log_lr < -5.0:
        return 1.5
    best_lr = -3.3 - 0.1 * (layers - 6)
    u = log_lr - best_lr
    w = int(config["log2_width"]) - 8
    h = math.log2(int(config["heads"])) - 2.0
    drop = float(config["dropout"]) - (0.1 + 0.02 * layers)
    warm = float(config["warmup"]) - 0.05
    norm = 0.0 if config["norm"] == "layer" else 0.1 + 0.05 * max(layers - 6, 0)
    return (
        _BLOCK_OFFSET[str(config["block"])]
        + norm
        + 0.5 * u**2
        + 0.04 * w**2 + 0.02 * w * h + 0.03 * h**2  # width and heads trade off
        + 0.02 * (layers - 6) ** 2
        + 3.0 * drop**2
        + 1.5 * warm**2
    )


def _mixed_int_unit(config: Config) -> np.ndarray:
    return np.array([
        (int(config["layers"]) - 1) / 11.0,
        (int(config["log2_width"]) - 4) / 6.0,
        _HEADS.index(int(config["heads"])) / 4.0,
        (math.log10(float(config["lr"])) + 6.0) / 5.0,
        float(config["dropout"]) / 0.5,
        float(config["warmup"]) / 0.3,
        float(config["norm"] == "layer"),
        *[float(config["block"] == b) for b in BLOCKS],
    ])


def _mixed_int() -> Problem:
    space = {
        "layers": tune.randint(1, 13),
        "log2_width": tune.qrandint(4, 10, 1),
        "heads": tune.choice(list(_HEADS)),
        "lr": tune.loguniform(*_INT_LR),
        "dropout": tune.uniform(0.0, 0.5),
        "warmup": tune.uniform(0.0, 0.3),
        "norm": tune.choice(["layer", "batch"]),
        "block": tune.choice(list(BLOCKS)),
    }
    return Problem(name="mixed_int", dim=8, space=space, f_star=0.0, target=0.05,
                   func=mixed_int_objective, unit=_mixed_int_unit, float_only=False)


MIXED_PROBLEMS: dict[str, Callable[[], Problem]] = {
    "mixed_cat": _mixed_cat,
    "mixed_int": _mixed_int,
}
