"""Problems whose optimum lies next to a failure region, as in real training: a learning rate
just below the one that diverges, the widest model and largest batch that still fit in memory.

The same landscape fails in three ways real trainings do: the trial crashes (``fail_crash``:
the objective raises), reports NaN (``fail_nan``), or reports a huge finite loss
(``fail_huge``: 1e6 and up, as a diverged loss often is). ``fail_oom`` is a mixed space (log
float, log integer, categorical batch size and activation, float) whose configurations above a
memory budget raise ``MemoryError``. Every optimum is known (0 by construction, see each
function), so regret is exact; a failed evaluation has no regret and leaves the best so far
unchanged.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from ray import tune

from benchmarks.problems import Config, Problem, branin

BRANIN_MIN = 0.39788735772973816
CLIFF = 0.76  # unit-cube log learning rate above which training diverges
LR_BEST = 0.73  # just below the cliff
HUGE = 1e6
BATCHES = [16, 32, 64, 128, 256]
ACTS = ["relu", "tanh", "gelu"]
MEMORY = 32768  # width * batch above this raises MemoryError


def _unit_lr(lr: float) -> float:
    return (math.log10(lr) + 5.0) / 5.0  # lr in [1e-5, 1]


def _cliff_value(c: Config) -> float:
    """2 (u_lr - 0.73)^2 + (branin(x1, x2) - min) / 30: 0 at u_lr = 0.73 and a Branin minimum."""
    u = _unit_lr(c["lr"])
    return 2.0 * (u - LR_BEST) ** 2 + (branin(np.array([c["x1"], c["x2"]])) - BRANIN_MIN) / 30


def _cliff(how: str):
    def f(c: Config) -> float:
        if _unit_lr(c["lr"]) > CLIFF:
            if how == "crash":
                raise FloatingPointError("training diverged")
            if how == "nan":
                return float("nan")
            # a diverged loss: huge, finite, and still varying a little with the config
            return HUGE * (1.0 + c["x1"] ** 2 / 100)
        return _cliff_value(c)

    return f


def _cliff_unit(c: Config) -> np.ndarray:
    return np.array([_unit_lr(c["lr"]), (c["x1"] + 5) / 15, c["x2"] / 15])


def _oom_parts(width: int, batch: int) -> float:
    return (1 - math.log2(width) / 10) ** 2 + 0.3 * (1 - math.log2(batch) / 8) ** 2


@cache
def _oom_best() -> float:
    return min(_oom_parts(w, b) for w in range(8, 1025) for b in BATCHES if w * b <= MEMORY)


def _oom(c: Config) -> float:
    width, batch = int(c["width"]), int(c["batch"])
    if width * batch > MEMORY:
        raise MemoryError(f"width {width} x batch {batch} does not fit")
    act = {"relu": 0.0, "tanh": 0.05, "gelu": 0.02}[c["act"]]
    lr = (math.log10(c["lr"]) + 2.5) ** 2 / 10
    return _oom_parts(width, batch) - _oom_best() + act + lr + (c["dropout"] - 0.1) ** 2


def _oom_unit(c: Config) -> np.ndarray:
    return np.array([_unit_lr(c["lr"]), math.log2(int(c["width"]) / 8) / 7,
                     BATCHES.index(int(c["batch"])) / 4, ACTS.index(c["act"]) / 2,
                     c["dropout"] / 0.5])


def _cliff_problem(name: str, how: str) -> Problem:
    return Problem(name=name, dim=3, f_star=0.0, target=0.01, func=_cliff(how), float_only=True,
                   space={"lr": tune.loguniform(1e-5, 1.0), "x1": tune.uniform(-5, 10),
                          "x2": tune.uniform(0, 15)}, unit=_cliff_unit)


FAILURE_PROBLEMS = {
    "fail_crash": lambda: _cliff_problem("fail_crash", "crash"),
    "fail_nan": lambda: _cliff_problem("fail_nan", "nan"),
    "fail_huge": lambda: _cliff_problem("fail_huge", "huge"),
    "fail_oom": lambda: Problem(
        name="fail_oom", dim=5, f_star=0.0, target=0.01, func=_oom, float_only=False,
        space={"lr": tune.loguniform(1e-5, 1.0), "width": tune.lograndint(8, 1025),
               "batch": tune.choice(BATCHES), "act": tune.choice(ACTS),
               "dropout": tune.uniform(0.0, 0.5)}, unit=_oom_unit),
}
