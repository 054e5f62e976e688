"""Acquisition maximization over mixed spaces (raybo/optimize.py)."""

from __future__ import annotations

import numpy as np
import torch
from ray import tune

from raybo.optimize import maximize
from raybo.space import SearchSpace
from raybo.step import domain


def test_finds_peak_of_smooth_continuous_function():
    space = SearchSpace({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)})
    target = torch.tensor([0.37, 0.81], dtype=torch.float64)

    def f(X):
        return -((X - target) ** 2).sum(-1)

    x = maximize(f, domain(space), seed=0)
    assert np.allclose(x, target.numpy(), atol=1e-4)


def test_mixed_space_discrete_columns_searched_and_admissible():
    space = SearchSpace({"u": tune.uniform(0, 1), "n": tune.randint(0, 100),
                         "c": tune.choice(["a", "b", "c", "d"])})
    lev = space.levels()

    def f(X):  # best: u = 0.2, n = 63, c = "c"
        n = X[:, 1] * 100 - 0.5
        c_bonus = (torch.abs(X[:, 2] - lev[2][2]) < 1e-9).to(X.dtype)
        return -(X[:, 0] - 0.2) ** 2 - 1e-3 * (n - 63) ** 2 + c_bonus

    x = maximize(f, domain(space), seed=1)
    config = space.decode(x)
    assert config["n"] == 63 and config["c"] == "c" and abs(config["u"] - 0.2) < 1e-3
    assert np.array_equal(space.snap(x[None])[0], x)


def test_avoids_duplicates_of_known_points():
    space = SearchSpace({"c": tune.choice(["a", "b", "c"])})
    lev = space.levels()

    def f(X):
        return -torch.abs(X[:, 0] - lev[0][0])  # "a" is best

    x = maximize(f, domain(space), seed=0, X_avoid=np.array([[lev[0][0]]]))
    assert space.decode(x)["c"] == "b"
    # every config already seen: the best one is returned rather than nothing
    x = maximize(f, domain(space), seed=0, X_avoid=np.array(lev[0])[:, None])
    assert space.decode(x)["c"] == "a"


def test_same_seed_same_answer():
    space = SearchSpace({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)})

    def f(X):
        return torch.sin(9 * X[:, 0]) * torch.cos(7 * X[:, 1])

    xs = [maximize(f, domain(space), seed=5) for _ in range(2)]
    assert np.array_equal(xs[0], xs[1])
