"""User priors over the optimum (raybo/prior.py) and GPSearch's piBO weighting with them.

Densities are checked against scipy.stats distributions written in the parameter's own value
space (a truncated normal of the value, of its logarithm, or of the integer's cell), converted to
the unit-cube coordinates by the Jacobian of the encoding."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest
import torch
from drive import drive
from ray import tune
from scipy import stats

from raybo import GPSearch
from raybo.acquisition import weighted
from raybo.prior import PriorDensity, log_weight, parse_prior
from raybo.space import SearchSpace
from raybo.step import acquisition_function

SIGMA = {"low": 0.5, "medium": 0.25, "high": 0.1}  # the widths the docs promise, unit range 1


def log_pi(space: SearchSpace, prior: dict, X: np.ndarray, confidence="medium") -> np.ndarray:
    density = PriorDensity(parse_prior(space, prior, confidence), space)
    return density.log_density(torch.as_tensor(X, dtype=torch.float64)).numpy()


def column(space: SearchSpace, values: np.ndarray, j: int = 0) -> np.ndarray:
    X = np.full((len(values), space.dim), 0.5)
    X[:, j] = values
    return X


@pytest.mark.parametrize("confidence", ["low", "medium", "high"])
def test_uniform_float_belief_is_a_truncated_normal_of_the_value(confidence):
    space = SearchSpace({"x": tune.uniform(2.0, 12.0)})
    v = np.linspace(2.0, 12.0, 41)
    s = SIGMA[confidence] * 10.0  # in value units
    expected = stats.truncnorm((2 - 5) / s, (12 - 5) / s, loc=5.0, scale=s).logpdf(v)
    expected += math.log(10.0)  # dv/dx: the unit density is the value density times 10
    got = log_pi(space, {"x": 5.0}, column(space, (v - 2) / 10), confidence)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_loguniform_belief_is_a_truncated_log_normal():
    lo, hi, lr = 1e-5, 1e-1, 1e-3
    space = SearchSpace({"lr": tune.loguniform(lo, hi)})
    v = np.geomspace(lo, hi, 33)
    s = 0.25 * math.log(hi / lo)
    a, b = (math.log(lo) - math.log(lr)) / s, (math.log(hi) - math.log(lr)) / s
    # density of the value: lognormal truncated to [lo, hi]; the unit density is that times
    # dv/dx = v * log(hi / lo)
    p_value = stats.truncnorm(a, b, loc=math.log(lr), scale=s).pdf(np.log(v)) / v
    expected = np.log(p_value * v * math.log(hi / lo))
    x = (np.log(v) - math.log(lo)) / math.log(hi / lo)
    np.testing.assert_allclose(log_pi(space, {"lr": lr}, column(space, x)), expected, rtol=1e-9)


@pytest.mark.parametrize("domain, believed, edges", [
    (tune.randint(1, 9), 3, np.arange(1, 10)),                  # values 1..8, cells [i, i + 1)
    (tune.qrandint(16, 512, 16), 128, np.arange(1, 34) * 16),   # values 16..512, step 16
    (tune.lograndint(1, 100), 10, np.log(np.arange(1, 101))),   # cells on the log scale
])
def test_integer_belief_gives_each_value_the_normal_mass_of_its_cell(domain, believed, edges):
    space = SearchSpace({"k": domain})
    levels = space.levels()[0]
    width = edges[-1] - edges[0]
    s = 0.25 * width
    centre = np.searchsorted(edges, math.log(believed) if edges[0] == 0 else believed,
                             side="right") - 1
    c = (edges[centre] + edges[centre + 1]) / 2
    dist = stats.truncnorm((edges[0] - c) / s, (edges[-1] - c) / s, loc=c, scale=s)
    mass = np.diff(dist.cdf(edges))
    # piecewise constant on the cells: mass over the cell's width in unit coordinates
    expected = np.log(mass / (np.diff(edges) / width))
    np.testing.assert_allclose(log_pi(space, {"k": believed}, column(space, levels)), expected,
                               rtol=1e-7)
    assert math.isclose(mass.sum(), 1.0)


@pytest.mark.parametrize("confidence, weight", [("low", 2), ("medium", 4), ("high", 8)])
def test_choice_belief_puts_its_weight_on_the_believed_option(confidence, weight):
    options = ["relu", "tanh", "gelu", "silu"]
    space = SearchSpace({"act": tune.choice(options)})
    levels = space.levels()[0]
    p = np.array([1.0, weight, 1.0, 1.0]) / (weight + 3)
    got = log_pi(space, {"act": "tanh"}, column(space, levels), confidence)
    np.testing.assert_allclose(got, np.log(p * 4))  # cells of width 1/4


def test_nested_beliefs_add_up_and_unnamed_parameters_stay_uniform():
    space = SearchSpace({"optim": {"lr": tune.loguniform(1e-5, 1e-1),
                                   "wd": tune.uniform(0, 1)},
                         "model": {"layers": tune.randint(1, 9)}, "act": tune.choice(["a", "b"])})
    X = np.random.default_rng(0).random((20, space.dim))
    nested = log_pi(space, {"optim": {"lr": 1e-3}, "model": {"layers": 3}}, X)
    flat = log_pi(space, {"optim/lr": 1e-3, "model/layers": 3}, X)
    alone = (log_pi(space, {"optim": {"lr": 1e-3}}, X)
             + log_pi(space, {"model": {"layers": 3}}, X))
    np.testing.assert_allclose(nested, flat)
    np.testing.assert_allclose(nested, alone)
    moved = X.copy()
    moved[:, [1, 3]] = np.random.default_rng(1).random((20, 2))  # wd and act: not named
    np.testing.assert_allclose(log_pi(space, {"optim/lr": 1e-3, "model/layers": 3}, moved), flat)


def test_per_key_confidence_and_a_branch_believed_through_its_values():
    space = SearchSpace({"optim": tune.choice([{"name": "adam"},
                                               {"name": "sgd", "m": tune.uniform(0.5, 1.0)}]),
                         "lr": tune.loguniform(1e-4, 1e-1)})
    prior = parse_prior(space, {"optim": {"name": "sgd", "m": 0.9}, "lr": 1e-2},
                        {"optim": "high", "lr": "low"})
    by_column = {b.column: (b.centre, b.confidence) for b in prior.beliefs}
    assert by_column == {0: (0.75, "high"), 1: (pytest.approx(0.8), "high"),
                         2: (pytest.approx(2 / 3), "low")}
    # in the adam branch the momentum column is inactive: no term for it
    density = PriorDensity(prior, space)
    adam = torch.tensor([[0.25, 0.8, 0.5], [0.25, 0.1, 0.5]], dtype=torch.float64)
    out = density.log_density(adam)
    assert out[0] == out[1]
    assert math.isclose(float(out[0]), math.log(2 * 1 / 9) + float(
        log_pi(SearchSpace({"lr": tune.loguniform(1e-4, 1e-1)}), {"lr": 1e-2},
               np.array([[0.5]]), "low")[0]))


def test_the_weight_decays_as_beta_over_n():
    space = SearchSpace({"x": tune.uniform(0, 1)})
    prior = parse_prior(space, {"x": 0.2})
    Xc = torch.tensor([[0.2], [0.9]], dtype=torch.float64)
    log_p = PriorDensity(prior, space).log_density(Xc)
    for n in (1, 5, 50):
        torch.testing.assert_close(log_weight(prior, space, n, 10.0)(Xc), 10.0 / n * log_p)
    assert torch.equal(log_weight(prior, space, 0, 10.0)(Xc), log_weight(prior, space, 1, 10.0)(Xc))
    gap = [float(w[0] - w[1]) for w in (log_weight(prior, space, n, 10.0)(Xc)
                                        for n in (10, 100))]
    assert math.isclose(gap[0], 10 * gap[1])


class _Posterior:
    """A fixed posterior (one fantasy): the mean falls linearly in x0, the variance is 1."""

    best = torch.zeros(1, dtype=torch.float64)

    def predict(self, Xc):
        return (Xc[:, 0] - 0.5)[None], torch.ones(len(Xc), dtype=torch.float64)


@pytest.mark.parametrize("acquisition", ["logei", "ei", "pi"])
def test_the_weight_multiplies_the_acquisition(acquisition):
    Xc = torch.rand(7, 2, dtype=torch.float64)
    lw = torch.linspace(-3, 1, 7, dtype=torch.float64)
    plain = acquisition_function(_Posterior(), acquisition)(Xc)
    got = acquisition_function(_Posterior(), acquisition, lambda X: lw)(Xc)
    expected = plain + lw if acquisition == "logei" else plain * torch.exp(lw)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(weighted(plain, lw, acquisition == "logei"), expected)


# -- through GPSearch ----------------------------------------------------------------------
SPACE = {"optim": {"lr": tune.loguniform(1e-5, 1e-1)}, "model": {"layers": tune.randint(1, 9)},
         "act": tune.choice(["relu", "tanh", "gelu"]), "dropout": tune.uniform(0, 0.5)}


def toy(c: dict) -> float:
    """Optimum at lr 1e-2, 6 layers, gelu, dropout 0.4."""
    return ((math.log10(c["optim"]["lr"]) + 2) ** 2 + 0.1 * (c["model"]["layers"] - 6) ** 2
            + (c["act"] != "gelu") + 10 * (c["dropout"] - 0.4) ** 2)


def test_the_first_design_point_is_the_belief_and_half_the_design_draws_from_it():
    prior = {"optim": {"lr": 1e-3}, "model": {"layers": 3}, "act": "relu"}
    s = GPSearch(SPACE, metric="loss", mode="min", seed=3, prior=prior, n_initial=10)
    configs = drive(s, 10, toy)
    first = configs[0]
    assert (first["optim"]["lr"], first["model"]["layers"], first["act"]) == (1e-3, 3, "relu")
    assert set(s.trial_origins().values()) == {"design"}
    # draws from the prior (even positions) sit near lr 1e-3 (log10 sd 1 at "medium")
    near = [abs(math.log10(c["optim"]["lr"]) + 3) < 2 for c in configs[0::2]]
    assert sum(near) >= 4


def test_a_good_prior_finds_the_optimum_sooner():
    good = {"optim": {"lr": 1e-2}, "model": {"layers": 6}, "act": "gelu", "dropout": 0.38}
    best = {}
    for name, prior in (("none", None), ("good", good)):
        s = GPSearch(SPACE, metric="loss", mode="min", seed=0, prior=prior, n_initial=6)
        best[name] = min(map(toy, drive(s, 12, toy, workers=2)))
    assert best["good"] < 0.05 and best["good"] < best["none"]


def test_a_wrong_prior_is_overruled_by_the_data():
    """A confident belief at the far corner of a 2-d bowl (optimum at 0.8, 0.7): the decaying
    weight lets the GP find the optimum all the same."""
    space = {"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}

    def bowl(c):
        return (c["a"] - 0.8) ** 2 + (c["b"] - 0.7) ** 2

    s = GPSearch(space, metric="loss", mode="min", seed=1, n_initial=5,
                 prior={"a": 0.05, "b": 0.05}, prior_confidence="high")
    configs = drive(s, 30, bowl, workers=2)
    assert min(map(bowl, configs)) < 1e-3
    assert min(map(bowl, configs[:5])) > 0.3  # the design did start at the wrong belief


@pytest.mark.parametrize("kwargs, message", [
    ({"prior": {"optim": {"lr": 5.0}}}, "prior: parameter 'optim/lr': 5.0 is outside"),
    ({"prior": {"model": {"layers": 12}}}, "prior: parameter 'model/layers'"),
    ({"prior": {"act": "elu"}}, "prior: parameter 'act': 'elu' is not one of the categories"),
    ({"prior": {"optim": {"momentum": 0.9}}}, "prior has keys that are not in the search "
     "space: ['optim/momentum']"),
    ({"prior": {"lr": 1e-3}}, "not in the search space: ['lr']"),
    ({"prior": {"act": "relu"}, "prior_confidence": "sure"}, "prior_confidence must be one of "
     "'low', 'medium', 'high'"),
    ({"prior": {"act": "relu"}, "prior_confidence": {"act": "very"}},
     "prior_confidence for 'act' must be one of"),
    ({"prior": {"act": "relu"}, "prior_confidence": {"dropout": "high"}},
     "prior_confidence has keys that the prior does not name: ['dropout']"),
    ({"prior": [("act", "relu")]}, "prior must be a dict"),
    ({"prior": {"act": "relu"}, "acquisition": "ucb"}, "use acquisition 'logei', 'ei' or 'pi'"),
])
def test_bad_priors_fail_before_any_trial(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GPSearch(SPACE, metric="loss", mode="min", **kwargs)
    try:  # without a space: at once if the space is not needed, else when Tune passes it
        s = GPSearch(metric="loss", mode="min", **kwargs)
    except ValueError as err:
        assert message in str(err)
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        s.set_search_properties("loss", "min", SPACE)


def test_save_and_restore_keep_the_prior():
    prior = {"optim": {"lr": 1e-3}, "act": "relu"}
    a = GPSearch(SPACE, metric="loss", mode="min", seed=5, prior=prior,
                 prior_confidence={"optim": "high"}, n_initial=4)
    drive(a, 6, toy, workers=2, drain=False)
    state = a.get_state()
    assert state["prior"] == {"values": prior, "confidence": {"optim": "high"}}
    b, c = GPSearch(), pickle.loads(pickle.dumps(a))
    b.set_state(pickle.loads(pickle.dumps(state)))
    for s in (a, b, c):
        s.on_trial_complete("t5", {"loss": 1.0})
    # the restored ones refit from scratch (a warm-starts its hyperparameters): same point
    # up to the fit's tolerance
    x, y, z = (s.suggest("n") for s in (a, b, c))
    assert y == z and (x["act"], x["model"]) == (y["act"], y["model"])
    assert x["optim"]["lr"] == pytest.approx(y["optim"]["lr"], rel=1e-3)


def test_a_prior_given_before_the_space_is_saved_with_the_state():
    s = GPSearch(prior={"act": "gelu"}, prior_confidence="high", seed=0)
    fresh = GPSearch()
    fresh.set_state(s.get_state())
    fresh.set_search_properties("loss", "min", SPACE)
    assert fresh.suggest("t0")["act"] == "gelu"


def test_a_state_saved_before_priors_existed_loads_without_one():
    s = GPSearch(SPACE, metric="loss", mode="min", seed=0)
    drive(s, 3, toy)
    state = s.get_state()
    old = {k: v for k, v in state.items() if k not in ("prior", "warm_data")}
    old["version"] = 3
    fresh = GPSearch()
    fresh.set_state(old)
    assert fresh.get_state() == state
