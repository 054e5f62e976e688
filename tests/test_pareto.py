"""Pareto fronts and the hypervolume acquisition against brute-force and library oracles
(raybo/pareto.py, acquisition.log_ehvi, strategies/multi.py's box decomposition)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from pymoo.indicators.hv import HV

from raybo import pareto_front
from raybo.acquisition import log_ehvi, log_feasibility
from raybo.strategies.multi import _boxes

T = torch.float64


def dominated_oracle(Y: np.ndarray) -> np.ndarray:
    """O(n^2): row i is dominated when some row is <= in every column and < in one."""
    n = len(Y)
    return np.array([any((Y[j] <= Y[i]).all() and (Y[j] < Y[i]).any() for j in range(n))
                     for i in range(n)], dtype=bool)


@pytest.mark.parametrize("seed, k", [(0, 2), (1, 3), (2, 2), (3, 4)])
def test_pareto_front_is_exactly_the_feasible_non_dominated_results(seed, k):
    rng = np.random.default_rng(seed)
    n = 60
    Y = rng.integers(0, 6, size=(n, k)).astype(float)  # ties and duplicates on purpose
    mem = rng.random(n)
    modes = ["min", "max"] + ["min"] * (k - 2)
    names = [f"f{j}" for j in range(k)]
    results = [{**{names[j]: Y[i, j] for j in range(k)}, "mem": mem[i], "id": i}
               for i in range(n)]
    results[5] = {"f0": 1.0}  # missing metrics: left out
    results[7]["f1"] = float("nan")
    got = pareto_front(results, metric=names, mode=modes, outcome_constraints=["mem <= 0.7"])
    ok = np.array([i not in (5, 7) and mem[i] <= 0.7 for i in range(n)])
    Ym = Y * np.array([1.0, -1.0] + [1.0] * (k - 2))
    idx = np.flatnonzero(ok)
    expected = idx[~dominated_oracle(Ym[idx])]
    assert [r["id"] for r in got] == list(expected)
    # a DataFrame gives the same rows, index kept
    df = pd.DataFrame(results).set_index("id", drop=False)
    rows = pareto_front(df, metric=names, mode=modes, outcome_constraints=["mem <= 0.7"])
    assert list(rows["id"]) == list(expected)


def test_one_metric_front_is_the_best_result():
    results = [{"loss": v} for v in (3.0, 1.0, 2.0, 1.0)]
    assert pareto_front(results, metric="loss", mode="min") == [results[1], results[3]]


def _pymoo_hv(Y: np.ndarray, ref: np.ndarray) -> float:
    Y = Y[(Y < ref).all(1)]
    return float(HV(ref_point=ref)(Y)) if len(Y) else 0.0


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1)])
def test_box_decomposition_covers_the_improvement_region_exactly(k, seed):
    """Sum of box volumes clipped at a point y = hypervolume improvement of y (pymoo's HV)."""
    rng = np.random.default_rng(seed)
    front = rng.random((8, k))
    ref = np.full(k, 1.2)
    lower, upper = _boxes(torch.as_tensor(front.T[:, :, None]), torch.ones(8, 1, dtype=bool),
                          torch.as_tensor(ref))
    lo, up = lower[0].numpy(), upper[0].numpy()
    base = _pymoo_hv(front, ref)
    for y in rng.random((20, k)) * 1.1:
        hvi = np.prod(np.clip(up - np.maximum(y, lo), 0, None), axis=1).sum()
        assert math.isclose(hvi, _pymoo_hv(np.vstack([front, y]), ref) - base, abs_tol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_log_ehvi_matches_a_monte_carlo_hypervolume_improvement(k):
    rng = np.random.default_rng(k)
    front = rng.random((6, k))
    ref = np.full(k, 1.1)
    lower, upper = _boxes(torch.as_tensor(front.T[:, :, None]), torch.ones(6, 1, dtype=bool),
                          torch.as_tensor(ref))
    mean = rng.random(k) * 0.8
    std = np.full(k, 0.25)
    got = log_ehvi(torch.as_tensor(mean)[:, None, None], torch.as_tensor(std**2)[:, None],
                   lower, upper)
    samples = mean + std * rng.standard_normal((4000, k))
    base = _pymoo_hv(front, ref)
    mc = np.mean([_pymoo_hv(np.vstack([front, y]), ref) - base for y in samples])
    se = np.std([_pymoo_hv(np.vstack([front, y]), ref) - base for y in samples[:500]]) / 63
    assert abs(math.exp(got.item()) - mc) < 4 * se + 1e-9


def test_log_ehvi_stays_finite_with_a_gradient_far_behind_the_front():
    front = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=T)
    lower, upper = _boxes(front.T[:, :, None], torch.ones(2, 1, dtype=bool),
                          torch.tensor([2.0, 2.0], dtype=T))
    mean = torch.tensor([[[50.0, 3.0]], [[50.0, 3.0]]], dtype=T, requires_grad=True)
    out = log_ehvi(mean, torch.full((2, 2), 0.01, dtype=T), lower, upper)
    out.sum().backward()
    assert torch.isfinite(out).all() and out[0, 0] < -1e3 and torch.isfinite(mean.grad).all()
    assert (mean.grad < 0).all()  # lower (better) means raise it


def test_log_feasibility_is_the_product_of_normal_probabilities():
    mean = torch.tensor([[[0.0, 1.0]], [[-1.0, 2.0]]], dtype=T)  # (c=2, m=1, b=2)
    var = torch.tensor([[1.0, 4.0], [1.0, 1.0]], dtype=T)
    got = log_feasibility(mean, var, torch.tensor([0.5, 0.0], dtype=T)).exp()
    from scipy.stats import norm
    expected = [norm.cdf(0.5) * norm.cdf(1.0), norm.cdf(-0.25) * norm.cdf(-2.0)]
    assert np.allclose(got[0].numpy(), expected, rtol=1e-10)
