"""Encoding of every Tune domain to the unit cube and back (raybo/space.py)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from ray import tune

from raybo.space import CAT, FLOAT, INT, SearchSpace


def _admissible(domain_name: str, value) -> bool:
    """The value set each Tune domain admits, written from Tune's documented semantics."""
    checks = {
        "uniform": lambda v: isinstance(v, float) and -2.0 <= v < 3.0,  # Tune: [lower, upper)
        "quniform": lambda v: 0.0 <= v <= 1.0 and abs(v / 0.25 - round(v / 0.25)) < 1e-9,
        "loguniform": lambda v: 1e-5 <= v < 1e-1,
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


@pytest.mark.parametrize(("domain", "top"), [
    (tune.uniform(0.0, 1.0), math.nextafter(1.0, 0.0)),
    (tune.loguniform(1e-4, 1e-2), math.nextafter(1e-2, 0.0)),  # exp(log) round-off included
    (tune.uniform(-2.0, 3.0), math.nextafter(3.0, 0.0)),
    (tune.quniform(0.0, 1.0, 0.25), 1.0),  # quantized: Tune's own rounding may reach upper
    (tune.qloguniform(1e-4, 1.0, 1e-4), 1.0),
])
def test_the_top_of_the_cube_decodes_below_an_exclusive_upper_bound(domain, top):
    space = SearchSpace({"p": domain})
    assert space.decode(np.array([1.0]))["p"] == top
    assert space.decode(np.array([1 - 1e-17]))["p"] == top


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


# -- nested and conditional spaces -------------------------------------------------------
import io  # noqa: E402
import pickle  # noqa: E402
from decimal import Decimal  # noqa: E402
from fractions import Fraction  # noqa: E402

from ray.tune.impl.placeholder import (  # noqa: E402
    create_resolvers_map,
    inject_placeholders,
    resolve_placeholders,
)
from ray.tune.search.sample import Categorical  # noqa: E402
from ray.tune.search.variant_generator import generate_variants  # noqa: E402
from tune_semantics import why_not  # noqa: E402

from raybo.space import INACTIVE  # noqa: E402

NESTED = {
    # Ray's own test cases (test_searchers.py testAxManualSetup, test_sample.py
    # testConvertHyperOptNested) and Ray's searcher-contract examples
    "ray_mixed_list": {"mixed_list": [1, tune.uniform(2, 3), 4], "num": 4, "list": [1, 2, 3]},
    "ray_nested_choices": {
        "a": 1,
        "dict_nested": Categorical([{"a": Categorical(["M", "N"]),
                                     "b": Categorical(["O", "P"])}]).uniform(),
        "list_nested": Categorical([[Categorical(["M", "N"]), Categorical(["O", "P"])],
                                    [Categorical(["Q", "R"]), Categorical(["S", "T"])]]).uniform(),
        "domain_nested": Categorical([Categorical(["M", "N"]),
                                      Categorical(["O", "P"])]).uniform(),
    },
    "issue_examples": {
        "dict_nested": tune.choice([{"a": tune.choice(["M", "N"])}, {"b": tune.uniform(0, 1)}]),
        "mixed_list": [tune.uniform(0, 1), tune.randint(2, 5)],
    },
    "optimizer_tree": {
        "lr": tune.loguniform(1e-4, 1e-1),
        "optim": tune.choice([
            {"name": "sgd", "momentum": tune.uniform(0.0, 0.99),
             "nesterov": tune.choice([True, False])},
            {"name": "adam", "betas": (tune.uniform(0.8, 0.99), tune.loguniform(0.9, 0.9999))},
            "rmsprop",
        ]),
    },
    "three_levels": {
        "model": tune.choice([
            {"kind": "mlp",
             "layers": [tune.qlograndint(8, 256, 8),
                        tune.choice([None, {"dropout": tune.quniform(0, 0.5, 0.1)}])]},
            {"kind": "cnn", "blocks": tune.choice([[tune.randint(1, 4)],
                                                   [tune.randint(1, 4), tune.randint(1, 4)]])},
        ]),
        "seed": 0,
    },
}


def _tune_samples(config: dict, n: int, seed: int = 0) -> list[dict]:
    """Configs drawn by Tune's own variant generator."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        for _, variant in generate_variants({"config": config}, random_state=rng):
            out.append(variant["config"])
    return out


@pytest.mark.parametrize("name", sorted(NESTED))
def test_nested_decode_is_resolved_in_domain_with_only_the_chosen_options_keys(name):
    space = SearchSpace(NESTED[name])
    X = space.snap(np.random.default_rng(2).random((500, space.dim)))
    for x in X:
        config = space.decode(x)
        assert why_not(NESTED[name], config) is None, why_not(NESTED[name], config)


@pytest.mark.parametrize("name", sorted(NESTED))
def test_configs_sampled_by_tune_round_trip_exactly(name):
    space = SearchSpace(NESTED[name])
    for config in _tune_samples(NESTED[name], 200):
        assert why_not(NESTED[name], config) is None  # the checker agrees with Tune's sampler
        x = space.encode(config)
        assert space.decode(x, exact=config) == config
        assert np.all(x[~space.active(x[None])[0]] == INACTIVE)
        assert np.allclose(space.snap(x[None])[0], x, rtol=0, atol=1e-12)  # Tune's 0.3 + 4e-17


@pytest.mark.parametrize("name", sorted(NESTED))
def test_active_columns_are_exactly_those_that_change_the_config(name):
    space = SearchSpace(NESTED[name])
    rng = np.random.default_rng(3)
    X = space.snap(rng.random((60, space.dim)))
    A = space.active(X)
    for x, active in zip(X, A):
        config = space.decode(x)
        for j in range(space.dim):
            if space.n_levels[j] == 1:  # a one-option choice: active, but nothing to change
                continue
            moved = [space.decode(np.where(np.arange(space.dim) == j, v, x))
                     for v in (0.0, 0.13, 0.37, 0.62, 0.88, 1.0)]
            assert any(m != config for m in moved) == bool(active[j]), (name, j)


def test_tree_columns_parents_and_branches():
    space = SearchSpace(NESTED["issue_examples"])
    assert [(p.name, p.kind, p.parent, p.branch) for p in space.params] == [
        ("dict_nested", CAT, None, True), ("dict_nested/a", CAT, (0, 0), False),
        ("dict_nested/b", FLOAT, (0, 1), False), ("mixed_list/0", FLOAT, None, False),
        ("mixed_list/1", INT, None, False)]
    assert space.conditional and space.n_levels == [2, 2, 0, 0, 3]
    X = np.array([[0.25, 0.75, 0.3, 0.1, 0.1], [0.75, 0.75, 0.3, 0.1, 0.1]])
    assert space.active(X).tolist() == [[True, True, False, True, True],
                                        [True, False, True, True, True]]
    assert space.snap(X)[0, 2] == INACTIVE and space.snap(X)[1, 1] == INACTIVE
    assert space.decode(X[1]) == {"dict_nested": {"b": 0.3}, "mixed_list": [0.1, 2]}


def test_choices_of_constants_stay_one_categorical_column():
    space = SearchSpace({"c": tune.choice([{"a": 1}, {"b": 2}]), "l": tune.choice([[1, 2], [3]]),
                         "u": tune.uniform(0, 1)})
    assert space.kinds == [CAT, CAT, FLOAT] and not space.conditional
    assert [p.categories for p in space.params[:2]] == [({"a": 1}, {"b": 2}), ([1, 2], [3])]
    assert space.decode(np.array([0.75, 0.25, 0.5]))["c"] == {"b": 2}


def test_partial_points_pick_the_option_their_keys_fit_and_fill_the_rest():
    space = SearchSpace(NESTED["optimizer_tree"])
    rng = np.random.default_rng(0)
    for _ in range(20):
        fill = rng.random(space.dim)
        adam = space.decode(space.encode_partial({"optim": {"name": "adam"}}, fill))
        assert adam["optim"]["name"] == "adam" and set(adam["optim"]) == {"name", "betas"}
        sgd = space.decode(space.encode_partial({"optim/momentum": 0.9}, fill))  # flattened
        assert sgd["optim"]["momentum"] == 0.9 and sgd["optim"]["name"] == "sgd"
        assert space.decode(space.encode_partial({"optim": "rmsprop"}, fill))["optim"] == "rmsprop"
    options = {repr(space.decode(space.encode_partial({"lr": 0.01}, rng.random(space.dim)))[
        "optim"])[:12] for _ in range(60)}
    assert len(options) == 3  # a missing choice takes its option from the fill, at random
    point = {"lr": 0.003, "optim": {"name": "sgd", "momentum": 0.3, "nesterov": False}}
    x = space.encode_partial(point, rng.random(space.dim))
    assert space.decode(x, exact=point) == point and np.array_equal(x, space.encode(point))


@pytest.mark.parametrize("config, message", [
    ({"lr": 0.01, "optim": {"name": "adamw"}},
     r"choice 'optim': \{'name': 'adamw'\} matches none of its 3 options \(option 0: 'optim/name'"
     r" is 'adamw', not 'sgd'"),
    ({"lr": 0.01, "optim": {"name": "adam", "betas": (0.9,)}},
     r"option 1: 'optim/betas' should be a tuple of 2 items"),
    ({"lr": 0.01, "optim": {"name": "sgd", "momentum": 0.5, "nesterov": True, "wd": 1}},
     r"option 0: 'optim' has no keys \['wd'\]"),
    ({"lr": 0.01}, "parameter 'optim' is missing"),
])
def test_values_fitting_no_option_name_the_choice(config, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(NESTED["optimizer_tree"]).encode(config)


@pytest.mark.parametrize("config, message", [
    ({"m": tune.choice([{"g": tune.grid_search([1, 2])}, 3])},
     "'m/g': grid_search inside a choice"),
    ({"m": tune.choice([tune.grid_search([1, 2]), 3])}, "'m': grid_search inside a choice"),
    ({"l": [1, tune.sample_from(lambda spec: spec.config.u)], "u": tune.uniform(0, 1)},
     "'l/1': sample_from"),
    ({"m": tune.choice([{"f": tune.sample_from(lambda spec: 1)}, 3])}, "'m/f': sample_from"),
    ({"l": [tune.randn(0, 1)]}, "'l/0': Normal"),
    ({"l": [1, 2], "t": (3, 4)}, "no searchable parameter"),
])
def test_unsupported_nested_forms_name_the_key_path(config, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(config)


class _NoRayUnpickler(pickle.Unpickler):
    """Fails on any class from Ray: a checkpoint must survive Ray moving its classes."""

    def find_class(self, module, name):
        if module.split(".")[0] == "ray":
            raise pickle.UnpicklingError(f"{module}.{name} in a saved space")
        return super().find_class(module, name)


@pytest.mark.parametrize("name", sorted(NESTED))
def test_saved_space_is_plain_data_and_rebuilds_the_same_space(name):
    space = SearchSpace(NESTED[name])
    data = _NoRayUnpickler(io.BytesIO(pickle.dumps(space.to_dict()))).load()
    again = SearchSpace.from_dict(data)
    assert again.params == space.params and again.to_dict() == space.to_dict()
    X = space.snap(np.random.default_rng(4).random((50, space.dim)))
    assert [again.decode(x) for x in X] == [space.decode(x) for x in X]


def test_placeholders_inside_nested_choices_are_resolved_by_tune():
    """Tune replaces non-primitive values (also inside choices' options) by placeholders before
    the searcher sees the space, and swaps them back by key path in each trial's config. (Ray
    2.60's own resolver crashes when a choice mixes an object with an int or dict option, with
    any searcher, so such options are not tried here.)"""
    original = {"m": tune.choice([{"kind": Fraction, "w": tune.uniform(0, 1)},
                                  {"kind": Decimal}]),
                "f": tune.choice([[Fraction, tune.randint(0, 3)], "none"])}
    resolvers = create_resolvers_map()
    injected = inject_placeholders(copy.deepcopy(original), resolvers)
    space = SearchSpace(injected)
    seen = set()
    for x in space.snap(np.random.default_rng(5).random((40, space.dim))):
        config = space.decode(x)
        resolve_placeholders(config, resolvers)
        assert why_not(original, config) is None, why_not(original, config)
        seen.add((config["m"]["kind"], repr(config["f"])[:10]))
    assert {kind for kind, _ in seen} == {Fraction, Decimal}


def test_options_get_the_probability_tunes_sampler_gives_them():
    """Uniform points decode to options as often as Tune's uniform choice draws them, inner
    choices included (the same 1/k per level)."""
    space = SearchSpace(NESTED["ray_nested_choices"])
    X = space.snap(np.random.default_rng(6).random((4000, space.dim)))
    configs = [space.decode(x) for x in X]
    inner = np.mean([c["list_nested"][0] in ("M", "N") for c in configs])
    domain = np.mean([c["domain_nested"] in ("O", "P") for c in configs])
    letter = np.mean([c["domain_nested"] == "O" for c in configs if c["domain_nested"] in "OP"])
    tune_draws = _tune_samples(NESTED["ray_nested_choices"], 2000, seed=7)
    tune_inner = np.mean([c["list_nested"][0] in ("M", "N") for c in tune_draws])
    for ours, theirs in [(inner, tune_inner), (domain, 0.5), (letter, 0.5)]:
        assert abs(ours - theirs) < 0.05  # about 4 binomial sd at these sample sizes
