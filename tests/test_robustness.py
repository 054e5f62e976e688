"""Numerical robustness of GPSearch on pathological data, through its public API, and of the
GP fit's fallback chain (raybo/targets.py, raybo/surrogate.py, raybo/step.py)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from ray import tune

from raybo import GPSearch
from raybo.surrogate import DTYPE, FitError, cholesky, fit_gp

SPACE = {"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}


def bowl(a: float, b: float) -> float:
    return (a - 0.3) ** 2 + (b - 0.6) ** 2


def _searcher(points: list[tuple[float, float, float]], n_initial: int = 3) -> GPSearch:
    s = GPSearch(SPACE, metric="m", mode="min", seed=0, n_initial=n_initial)
    for a, b, y in points:
        s.add_evaluated_point({"a": a, "b": b}, y)
    return s


def _assert_useful(config: dict, points: list[tuple[float, float, float]]) -> None:
    assert set(config) == {"a", "b"}
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in config.values())
    assert (config["a"], config["b"]) not in {(a, b) for a, b, _ in points}


RNG = np.random.default_rng(0)
_U = RNG.random((50, 3))
CASES = {
    "30 identical points": [(0.5, 0.5, 1.0)] * 30 + [(0.2, 0.7, 2.0), (0.9, 0.1, 0.5)],
    "all-equal targets": [(a, b, 3.0) for a, b, _ in _U[:20]],
    "50 points within 1e-9": [(0.5 + 1e-9 * a, 0.5 + 1e-9 * b, y) for a, b, y in _U],
    "single observation": [(0.3, 0.3, 1.0)],
    "magnitude 1e200": [(a, b, 1e200 * y) for a, b, y in _U[:12]],
    "near the float64 maximum": [(a, b, 1.7e308 * (2 * y - 1)) for a, b, y in _U[:20]],
    "magnitude 1e-300": [(a, b, 1e-300 * y) for a, b, y in _U[:12]],
    "one huge outlier": [(a, b, y) for a, b, y in _U[:12]] + [(0.1, 0.1, 1e250)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_pathological_data_still_gives_a_useful_suggestion(name, caplog):
    points = CASES[name]
    s = _searcher(points, n_initial=1 if name == "single observation" else 3)
    with caplog.at_level(logging.WARNING, logger="raybo"):
        config = s.suggest("x")
    _assert_useful(config, points)
    # A fallback is never silent: any jitter or refit fallback shows up in the log.
    for record in caplog.records:
        assert "jitter" in record.getMessage() or "fallback" in record.getMessage() \
            or "defaults" in record.getMessage()
    assert s.diagnostics()["n"] == len(points)


def test_metric_scale_does_not_change_suggestions():
    """Targets are standardized relative to their own magnitude: metrics of size 1e-12 or 1e12
    carry the same information as metrics of size 1 (fuzzing found tiny ones treated as
    constant, and values near the float64 maximum crashing suggest)."""
    base = [(a, b, bowl(a, b)) for a, b, _ in _U[:10]]
    suggestions = []
    for scale in (1.0, 1e-12, 1e12, 1e300):
        s = _searcher([(a, b, scale * y) for a, b, y in base])
        suggestions.append(s.suggest("x"))
    for other in suggestions[1:]:
        assert other == pytest.approx(suggestions[0], abs=1e-3)


def test_duplicate_evaluated_points_and_pending_duplicates_are_avoided():
    points = [(0.25, 0.75, 1.0)] * 10 + [(a, b, bowl(a, b)) for a, b, _ in _U[:5]]
    s = _searcher(points)
    batch = [s.suggest(f"p{i}") for i in range(4)]  # four pending at once
    keys = {(c["a"], c["b"]) for c in batch}
    assert len(keys) == 4 and not keys & {(a, b) for a, b, _ in points}


def test_corrupted_state_is_rejected_at_restore_not_mid_fit():
    """A checkpoint whose record holds a non-finite value (hand-edited or corrupted; results from
    on_trial_complete are filtered) used to crash the first suggest inside the output transform."""
    s = _searcher([(a, b, bowl(a, b)) for a, b, _ in _U[:6]])
    state = s.get_state()
    next(iter(state["trials"]["records"].values()))["y"] = math.nan
    with pytest.raises(ValueError, match="has status 'done' with value nan"):
        GPSearch().set_state(state)


def test_fit_gp_rejects_non_finite_data():
    X = torch.rand(5, 2, dtype=DTYPE)
    with pytest.raises(FitError, match="not finite"):
        fit_gp(X, torch.tensor([0.0, 1.0, math.nan, 0.5, 0.2], dtype=DTYPE), [])


def test_fit_gp_falls_back_from_a_diverged_warm_start_and_logs_it(caplog):
    X = torch.rand(12, 2, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    z = torch.sin(4 * X[:, 0]) + X[:, 1]
    z = (z - z.mean()) / z.std()
    warm = fit_gp(X, z, []).state_dict()
    bad = {k: torch.full_like(v, math.nan) if k.endswith("raw_lengthscale") else v
           for k, v in warm.items()}
    with caplog.at_level(logging.WARNING, logger="raybo.surrogate"):
        model = fit_gp(X, z, [], warm_state=bad)
    assert "GP fit failed" in caplog.text
    assert all(torch.isfinite(p).all() for p in model.parameters())
    wrong_shape = {k: v[..., :1] if k.endswith("raw_lengthscale") else v for k, v in warm.items()}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="raybo.surrogate"):
        model = fit_gp(X, z, [], warm_state=wrong_shape)
    assert "warm start unusable" in caplog.text
    assert model.covar_module.lengthscale.shape[-1] == 2


def test_cholesky_of_a_singular_kernel_adds_jitter_and_logs_it(caplog):
    A = torch.ones(50, 50, dtype=DTYPE)  # rank one: 50 identical inputs without noise
    with caplog.at_level(logging.WARNING, logger="raybo.surrogate"):
        L = cholesky(A)
    assert "added jitter" in caplog.text
    assert torch.isfinite(L).all() and torch.allclose(L @ L.T, A, atol=1e-3)
