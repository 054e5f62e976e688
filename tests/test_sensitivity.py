"""Sobol indices of the GP mean (``raybo.importance``, ``raybo/sensitivity.py``) against
analytic decompositions.

The estimator alone (no GP) on functions with known indices; then the whole path on an additive
function of six parameters, two of them irrelevant (a float and a categorical), whose variance
shares are known in closed form; then through a ``GPSearch`` with a conditional, log-scaled
space, and the slices along its parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from ray import tune

import raybo
from raybo.sensitivity import (
    importance_of,
    param_names,
    slices,
    sobol_indices,
    what_mattered,
)
from raybo.space import SearchSpace

UNIT2 = SearchSpace({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)})


def _cube(space: SearchSpace, fn):
    return lambda X: np.array([fn(space.decode(x)) for x in X])


@pytest.mark.parametrize(("fn", "first", "total"), [
    (lambda c: c["a"] + 2 * c["b"], [0.2, 0.8], [0.2, 0.8]),  # Var: 1/12 and 4/12
    (lambda c: (c["a"] - 0.5) * (c["b"] - 0.5), [0.0, 0.0], [1.0, 1.0]),  # pure interaction
])
def test_the_estimators_recover_known_indices(fn, first, total):
    s, t, var = sobol_indices(_cube(UNIT2, fn), UNIT2, n_base=1024)
    np.testing.assert_allclose(s, first, atol=0.02)
    np.testing.assert_allclose(t, total, atol=0.02)
    assert var > 0


# f = 2 x1 + 1.5 x2^2 + g(c) + 0.3 sin(2 pi x3), with z1, z2 unused; each term's variance under
# Tune's sampling (uniform floats, equally likely categories) in closed form.
SPACE = {"x1": tune.uniform(0, 1), "x2": tune.uniform(0, 1), "c": tune.choice(["a", "b", "c"]),
         "x3": tune.uniform(0, 1), "z1": tune.uniform(0, 1), "z2": tune.choice([1, 2, 3, 4])}
G = {"a": 0.0, "b": 0.0, "c": 0.6}
TERM_VARIANCE = {"x1": 4 / 12, "x2": 1.5**2 * (1 / 5 - 1 / 9), "c": 0.6**2 * 2 / 9,
                 "x3": 0.3**2 / 2, "z1": 0.0, "z2": 0.0}


def _additive(c: dict) -> float:
    return 2 * c["x1"] + 1.5 * c["x2"] ** 2 + G[c["c"]] + 0.3 * np.sin(2 * np.pi * c["x3"])


def test_irrelevant_parameters_get_no_importance_and_the_ranking_is_analytic():
    space = SearchSpace(SPACE)
    X = space.snap(np.random.default_rng(0).random((60, space.dim)))
    y = np.array([_additive(space.decode(x)) for x in X])
    imp = importance_of(space, X, y, "min")
    total = sum(TERM_VARIANCE.values())
    share = dict(zip(imp.names, imp.importance))
    assert share["z1"] < 0.05 and share["z2"] < 0.05  # measured 0.000 and 0.000
    relevant = ["x1", "x2", "c", "x3"]
    assert [r["parameter"] for r in imp.rows()][:4] == sorted(
        relevant, key=lambda k: -TERM_VARIANCE[k])
    for k in relevant:  # measured within 0.003 of the analytic shares 0.506, 0.304, 0.122, 0.068
        assert share[k] == pytest.approx(TERM_VARIANCE[k] / total, abs=0.03)
    assert imp.variance == pytest.approx(total, rel=0.1)  # metric units
    assert sum(r["importance"] for r in imp.rows()) == pytest.approx(1.0)


def _searcher_with(space: dict, fn, n: int, seed: int = 0, mode: str = "min"):
    """A GPSearch holding ``n`` quasi-random evaluated points of ``fn``."""
    ss = SearchSpace(space)
    X = ss.snap(np.random.default_rng(seed).random((n, ss.dim)))
    points = [ss.decode(x) for x in X]
    return raybo.GPSearch(space=space, metric="loss", mode=mode, points_to_evaluate=points,
                          evaluated_rewards=[fn(p) for p in points])


CONDITIONAL = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "opt": tune.choice([{"name": "adam"}, {"name": "sgd", "momentum": tune.uniform(0.0, 0.99)}]),
    "unused": tune.randint(1, 5),
}


def _loss(c: dict) -> float:
    loss = (np.log10(c["lr"]) + 2.5) ** 2  # best lr 10^-2.5
    if c["opt"]["name"] == "sgd":
        loss += 0.5 * (c["opt"]["momentum"] - 0.9) ** 2 + 0.3
    return float(loss)


def test_importance_and_slices_of_a_searcher_with_a_conditional_log_space():
    searcher = _searcher_with(CONDITIONAL, _loss, 40)
    imp = raybo.importance(searcher)
    share = dict(zip(imp.names, imp.importance))
    assert set(share) == {"lr", "opt", "opt/momentum", "unused"}
    assert max(share, key=share.get) == "lr" and share["unused"] < 0.05
    assert imp.n_trials == 40
    by_name = {s["parameter"]: s for s in slices(searcher)}
    lr = by_name["lr"]
    assert lr["log"] and 1e-4 <= min(lr["values"]) and max(lr["values"]) <= 1e-1
    best_lr = lr["values"][int(np.argmin(lr["mean"]))]
    assert abs(np.log10(best_lr) + 2.5) < 0.4  # the GP's slice finds the optimum
    assert all(lo <= m <= hi for lo, m, hi in zip(lr["lower"], lr["mean"], lr["upper"]))
    assert len(lr["observed"]) == 40 and lr["best"] is not None
    assert by_name["unused"]["values"] == [1, 2, 3, 4]
    assert by_name["opt"]["categorical"] and by_name["opt"]["values"] == ["adam", "sgd"]
    momentum = by_name["opt/momentum"]
    assert 0 < len(momentum["observed"]) < 40  # only the trials that chose sgd


def test_too_few_trials_is_a_plain_error():
    searcher = _searcher_with(CONDITIONAL, _loss, 2)
    with pytest.raises(ValueError, match="needs 3 successful trials, got 2"):
        raybo.importance(searcher)


def test_what_mattered_slices_the_top_parameters_in_order():
    imp, top = what_mattered(_searcher_with(CONDITIONAL, _loss, 20), top=2)
    assert [s["parameter"] for s in top] == [r["parameter"] for r in imp.rows()[:2]]


def test_keys_shared_by_two_options_are_told_apart():
    space = {"method": tune.choice([{"name": "sgd", "momentum": tune.uniform(0, 0.99)},
                                    {"name": "adam"},
                                    {"name": "rmsprop", "momentum": tune.uniform(0, 0.9)}])}
    assert param_names(SearchSpace(space)) == [
        "method", "method/momentum (sgd)", "method/momentum (rmsprop)"]
