"""Acquisition functions as pure functions; no GP fit needed (raybo/acquisition.py)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from raybo.acquisition import ACQUISITIONS, ei, log_ei, log_h, pi, ucb

T = torch.float64


def _reference_ei(mean, std, best):
    z = (best - mean) / std
    return std * (stats.norm.pdf(z) + z * stats.norm.cdf(z))


@pytest.mark.parametrize("mean, std, best", [(0.0, 1.0, 0.0), (1.0, 0.5, 0.2), (-1.0, 2.0, 0.5),
                                             (3.0, 1.0, 0.0)])
def test_ei_and_log_ei_match_closed_form(mean, std, best):
    m, v, b = (torch.tensor([[mean]], dtype=T), torch.tensor([std**2], dtype=T),
               torch.tensor([best], dtype=T))
    ref = _reference_ei(mean, std, best)
    assert math.isclose(ei(m, v, b).item(), ref, rel_tol=1e-9)
    assert math.isclose(log_ei(m, v, b).item(), math.log(ref), rel_tol=1e-9)


def test_log_h_is_finite_with_gradient_far_from_incumbent():
    u = torch.tensor([-1e8, -1e4, -40.0, -5.0, -1.0, 0.0, 5.0], dtype=T, requires_grad=True)
    out = log_h(u)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(u.grad).all() and (u.grad > 0).all()
    # plain EI underflows to exactly zero at u = -40, log-EI does not
    assert _reference_ei(40.0, 1.0, 0.0) == 0.0 and out[2] < -800
    assert (out.diff() > 0).all()  # monotone in the standardized improvement


def test_fantasy_averaging():
    mean = torch.tensor([[0.0], [2.0]], dtype=T)  # two fantasies, one candidate
    var, best = torch.tensor([1.0], dtype=T), torch.tensor([0.0, 0.0], dtype=T)
    per = [_reference_ei(0.0, 1, 0.0), _reference_ei(2.0, 1, 0.0)]
    assert math.isclose(ei(mean, var, best).item(), sum(per) / 2, rel_tol=1e-9)
    assert math.isclose(log_ei(mean, var, best).item(), math.log(sum(per) / 2), rel_tol=1e-9)
    assert math.isclose(pi(mean, var, best).item(),
                        (stats.norm.cdf(0) + stats.norm.cdf(-2)) / 2, rel_tol=1e-9)


def test_ucb_prefers_low_mean_and_high_variance():
    best = torch.tensor([0.0], dtype=T)
    low_mean = ucb(torch.tensor([[-1.0]], dtype=T), torch.tensor([1.0], dtype=T), best)
    high_mean = ucb(torch.tensor([[1.0]], dtype=T), torch.tensor([1.0], dtype=T), best)
    wide = ucb(torch.tensor([[1.0]], dtype=T), torch.tensor([9.0], dtype=T), best)
    assert low_mean > high_mean and wide > high_mean


@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
def test_every_acquisition_is_shaped_and_increasing_in_variance_near_incumbent(name):
    f = ACQUISITIONS[name]
    mean = torch.zeros(3, 4, dtype=T) + 0.5
    var = torch.tensor([0.01, 0.1, 1.0, 10.0], dtype=T)
    out = f(mean, var, torch.zeros(3, dtype=T))
    assert out.shape == (4,) and (out.diff() > 0).all()
