"""Encoding of every Tune domain to the unit cube and back (raybo/space.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ray import tune

from raybo.space import CAT, FLOAT, INT, SearchSpace


def _admissible(domain_name: str, value) -> bool:
    """The value set each Tune domain admits, written from Tune's documented semantics."""
    checks = {
        "uniform": lambda v: isinstance(v, float) and -2.0 <= v <= 3.0,
        "quniform": lambda v: 0.0 <= v <= 1.0 and abs(v / 0.25 - round(v / 0.25)) < 1e-9,
        "loguniform": lambda v: 1e-5 <= v <= 1e-1,
        "qloguniform": lambda v: 1e-4 <= v <= 1.0 and abs(v / 1e-4 - round(v / 1e-4)) < 1e-6,
        "randint": lambda v: isinstance(v, int) and 0 <= v < 10,
        "lograndint": lambda v: isinstance(v, int) and 1 <= v < 1000,
        "qrandint": lambda v: isinstance(v, int) and v in (0, 5, 10, 15, 20),
        "qrandint_q1": lambda v: isinstance(v, int) and 3 <= v < 7,
        "qlograndint": lambda v: isinstance(v, int) and 16 <= v <= 512 and v % 16 == 0,
        "choice": lambda v: v in ("a", "b", "c"),
        "choice_mixed": lambda v: v in (1, "x", None, 2.5, True),
    }
    return checks[domain_name](value)


DOMAINS = {
    "uniform": tune.uniform(-2.0, 3.0),
    "quniform": tune.quniform(0.0, 1.0, 0.25),
    "loguniform": tune.loguniform(1e-5, 1e-1),
    "qloguniform": tune.qloguniform(1e-4, 1.0, 1e-4),
    "randint": tune.randint(0, 10),
    "lograndint": tune.lograndint(1, 1000),
    "qrandint": tune.qrandint(0, 20, 5),
    "qrandint_q1": tune.qrandint(3, 7, 1),
    "qlograndint": tune.qlograndint(16, 512, 16),
    "choice": tune.choice(["a", "b", "c"]),
    "choice_mixed": tune.choice([1, "x", None, 2.5, True]),
}


@pytest.mark.parametrize(
    "name, kind, n_levels",
    [("uniform", FLOAT, 0), ("quniform", FLOAT, 0), ("loguniform", FLOAT, 0),
     ("randint", INT, 10), ("lograndint", INT, 999), ("qrandint", INT, 5),
     ("qrandint_q1", INT, 4), ("qlograndint", INT, 32), ("choice", CAT, 3)],
)
def test_parsed_kind_and_levels(name, kind, n_levels):
    p = SearchSpace({"p": DOMAINS[name]}).params[0]
    assert (p.kind, p.n_levels) == (kind, n_levels)


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_decode_stays_in_domain_for_1000_points(name):
    space = SearchSpace({"p": DOMAINS[name]})
    xs = np.concatenate([[0.0, 1.0, 0.5, 1e-12, 1 - 1e-12], np.random.default_rng(0).random(995)])
    for x in xs:
        assert _admissible(name, space.decode(np.array([x]))["p"]), x


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_encode_decode_round_trip(name):
    space = SearchSpace({"p": DOMAINS[name]})
    for x in np.random.default_rng(1).random(200):
        value = space.decode(np.array([x]))["p"]
        again = space.decode(space.encode({"p": value}))["p"]
        assert again == value or math.isclose(again, value, rel_tol=1e-12)


@pytest.mark.parametrize("name", ["randint", "qrandint", "qrandint_q1", "choice"])
def test_discrete_values_get_equal_volume(name):
    space = SearchSpace({"p": DOMAINS[name]})
    values = [space.decode(np.array([x]))["p"] for x in (np.arange(10_000) + 0.5) / 10_000]
    counts = np.unique([repr(v) for v in values], return_counts=True)[1]
    assert counts.max() - counts.min() <= 1


def test_log_integers_get_log_volume():
    space = SearchSpace({"p": tune.lograndint(1, 100)})
    xs = (np.arange(20_000) + 0.5) / 20_000
    values = np.array([space.decode(np.array([x]))["p"] for x in xs])
    # Tune samples floor(exp(U(log 1, log 100))): P(v = 1) = log 2 / log 100
    assert abs(np.mean(values == 1) - math.log(2) / math.log(100)) < 1e-3
    assert abs(np.mean(values == 50) - math.log(51 / 50) / math.log(100)) < 1e-3


def test_nested_dicts_constants_and_placeholders_pass_through():
    placeholder = ("__ref_ph", "1a2b3c4d")
    space = SearchSpace({
        "model": {"act": tune.choice([placeholder, "relu"]), "depth": 3},
        "optim": {"lr": tune.loguniform(1e-4, 1e-1), "name": "adam"},
        "seed": 0,
    })
    assert [p.name for p in space.params] == ["model/act", "optim/lr"]
    config = space.decode(np.array([0.1, 0.5]))
    assert config["model"] == {"act": placeholder, "depth": 3}
    assert config["optim"]["name"] == "adam" and config["seed"] == 0
    assert math.isclose(config["optim"]["lr"], math.sqrt(1e-4 * 1e-1))
    # a placeholder that came back as a list (after a JSON round trip) is still recognized
    assert space.encode({"model": {"act": list(placeholder)}, "optim": {"lr": 1e-3}})[0] == 0.25
    # flattened keys work too
    assert space.encode({"model/act": "relu", "optim/lr": 1e-3})[0] == 0.75


@pytest.mark.parametrize(
    "config, message",
    [({"g": tune.grid_search([1, 2])}, "'g': grid_search"),
     ({"a": {"f": tune.sample_from(lambda spec: 1)}}, "'a/f': sample_from"),
     ({"n": tune.randn(0, 1)}, "'n': Normal"),
     ({"c": 1}, "no searchable parameter"),
     ([tune.uniform(0, 1)], "space must be a dict"),
     ({"e": tune.choice([])}, "'e': choice needs >= 1 category")],
)
def test_unsupported_spaces_name_the_key(config, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(config)


@pytest.mark.parametrize(
    "value, message",
    [(5.0, "outside"), ("x", "expected a number")],
)
def test_encoding_bad_values_names_the_parameter(value, message):
    space = SearchSpace({"lr": tune.uniform(0, 1)})
    with pytest.raises(ValueError, match=f"'lr'.*{message}|{message}"):
        space.encode({"lr": value})


def test_encoding_missing_and_inadmissible_values():
    space = SearchSpace({"w": tune.qrandint(0, 20, 5), "c": tune.choice(["a"])})
    with pytest.raises(ValueError, match="'w' is missing"):
        space.encode({"c": "a"})
    with pytest.raises(ValueError, match="'w': 7 is not an admissible value"):
        space.encode({"w": 7, "c": "a"})
    with pytest.raises(ValueError, match="'c': 'b' is not one of the categories"):
        space.encode({"w": 5, "c": "b"})


def test_snap_makes_equal_configs_equal_encodings():
    space = SearchSpace({"i": tune.randint(0, 4), "q": tune.quniform(0, 1, 0.5),
                         "u": tune.uniform(0, 1)})
    X = np.array([[0.26, 0.30, 0.123], [0.49, 0.45, 0.123]])
    S = space.snap(X)
    assert np.array_equal(S[0], S[1])
    assert S[0, 2] == 0.123  # continuous columns untouched
    lev = space.levels()
    assert lev[1] is None and lev[2] is None and np.allclose(lev[0], [0.125, 0.375, 0.625, 0.875])


def test_encode_partial_fills_missing_parameters():
    space = SearchSpace({"a": tune.uniform(0, 10), "b": tune.randint(0, 4)})
    x = space.encode_partial({"a": 5.0}, fill=np.array([0.9, 0.9]))
    assert x[0] == 0.5 and space.decode(x)["b"] == 3
