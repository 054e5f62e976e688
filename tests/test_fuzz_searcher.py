"""Property-based fuzzing of GPSearch through Tune's Searcher API (raybo/searcher.py).

Random spaces over every supported Tune domain (nested dicts, constants and non-primitive
categories; half of them conditional: domains inside lists and tuples and inside dict-, list- and
domain-valued ``tune.choice`` options, up to three levels deep) and random operation sequences:
suggest, completions with values of any magnitude, errors, NaN/inf, missing metrics,
``result=None``, unknown ids, duplicate evaluated points, state/file/pickle round trips into fresh
searchers, diagnostics. Properties: nothing raises, every suggestion is fully resolved, lies in its
domain and has exactly the keys of the options it chose (checked against Tune's definitions in
``tune_semantics``, not raybo.space), constants pass through, and no suggestion repeats an earlier
config when the space has an always-active continuous dimension.

Profiles: ``ci`` (default, 25 fixed examples) and ``big`` (1000 random examples, or
``RAYBO_FUZZ_EXAMPLES``), chosen with
``RAYBO_FUZZ_PROFILE=big python -m pytest tests/test_fuzz_searcher.py``.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ray import tune
from ray.tune.search.variant_generator import generate_variants
from tune_semantics import why_not

from raybo import GPSearch

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(  # RAYBO_FUZZ_EXAMPLES splits a big run into resumable chunks
    "big", max_examples=int(os.environ.get("RAYBO_FUZZ_EXAMPLES", "1000")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("RAYBO_FUZZ_PROFILE", "ci")

MAX_OPS = 14
# A Tune placeholder (what Tuner leaves for non-primitive values) and other awkward categories.
ODD_CATEGORIES = [("__ref_ph", "ab12cd34"), None, True, False, 0, 1, 1.5, -2, "", "a", "b/c",
                  (1, 2), [32, 64], {"k": 1}, ("nested", ("t", 1))]


# -- random spaces (membership is checked by tune_semantics.why_not) ---------------------------
@st.composite
def domains(draw) -> tuple[Any, tuple]:
    """A Tune domain and a spec ``(kind, ...)``; ``spec[4]`` of a float: continuous (no grid)."""
    kind = draw(st.sampled_from(["uniform", "quniform", "loguniform", "qloguniform", "randint",
                                 "lograndint", "qrandint", "qlograndint", "choice"]))
    if kind == "uniform":
        lo = draw(st.floats(-1e6, 1e6))
        hi = lo + 10 ** draw(st.floats(-6, 6))
        return tune.uniform(lo, hi), ("float", lo, hi, None, True)
    if kind == "loguniform":
        lo = 10 ** draw(st.floats(-10, 3))
        hi = lo * 10 ** draw(st.floats(0.01, 8))
        return tune.loguniform(lo, hi), ("float", lo, hi, None, True)
    if kind in ("quniform", "qloguniform"):  # Tune wants both bounds to be multiples of q
        q = draw(st.sampled_from([1, 2, 2.5, 5])) * 10 ** draw(st.integers(-10, 3))
        i_lo = draw(st.integers(-1000 if kind == "quniform" else 1, 1000))
        i_hi = i_lo + draw(st.integers(1, 10**5))
        lo, hi = i_lo * q, i_hi * q
        make = tune.quniform if kind == "quniform" else tune.qloguniform
        return make(lo, hi, q), ("float", lo, hi, q, False)
    if kind == "randint":
        lo = draw(st.integers(-1000, 1000))
        hi = lo + draw(st.integers(1, 2000))
        return tune.randint(lo, hi), ("int", lo, hi - 1, 1)
    if kind == "lograndint":
        lo = draw(st.integers(1, 1000))
        hi = lo + draw(st.integers(1, 10**6))
        return tune.lograndint(lo, hi), ("int", lo, hi - 1, 1)
    if kind == "qrandint":
        q = draw(st.integers(1, 50))
        lo = draw(st.integers(-500, 500))
        hi = lo + q * draw(st.integers(1, 40))
        return tune.qrandint(lo, hi, q), ("int", lo, hi - 1 if q == 1 else hi, q)
    if kind == "qlograndint":
        q = draw(st.integers(1, 16))
        lo = q * draw(st.integers(1, 10))
        hi = lo + q * draw(st.integers(1, 200))
        return tune.qlograndint(lo, hi, q), ("int", lo, hi - 1 if q == 1 else hi, q)
    pool = ["x", "y", "z", 3, 4.25, -7] + ODD_CATEGORIES
    cats = draw(st.lists(st.sampled_from(range(len(pool))), min_size=2, max_size=20,
                         unique=True))
    categories = [pool[i] for i in cats]
    return tune.choice(categories), ("cat", tuple(categories))


MAX_DEPTH = 2  # choices and lists inside choices and lists, three levels in all
NESTED_KINDS = ["list", "tuple", "dict_choice", "list_choice", "domain_choice", "mixed_choice"]


@st.composite
def nodes(draw, depth: int, nested: bool, in_tuple: bool = False) -> tuple[Any, bool]:
    """A Tune space node and whether it holds an always-active continuous parameter. (No tuple
    directly inside a tuple: Tune's own sampler, which draws the known points, cannot fill it.)"""
    kinds = ["domain"] * 3 + (NESTED_KINDS if nested and depth < MAX_DEPTH else [])
    if in_tuple:
        kinds = [k for k in kinds if k != "tuple"]
    kind = draw(st.sampled_from(kinds))
    if kind == "domain":
        domain, spec = draw(domains())
        return domain, spec[0] == "float" and spec[4]
    if kind in ("list", "tuple"):
        items = [draw(nodes(depth + 1, nested, kind == "tuple"))
                 for _ in range(draw(st.integers(1, 3)))]
        values = [node for node, _ in items] + draw(st.sampled_from([[], [7], ["x", None]]))
        return (tuple(values) if kind == "tuple" else values), any(c for _, c in items)
    if kind == "dict_choice":  # options with distinct keys, some with a constant tag
        options = []
        for i in range(draw(st.integers(1, 3))):
            option = {f"o{i}k{j}": draw(nodes(depth + 1, nested))[0]
                      for j in range(draw(st.integers(1, 2)))}
            if draw(st.booleans()):
                option["tag"] = f"option{i}"
            options.append(option)
        return tune.choice(options), False
    if kind == "list_choice":
        return tune.choice([[draw(nodes(depth + 1, nested))[0] for _ in range(n)]
                            for n in draw(st.lists(st.integers(1, 2), min_size=1, max_size=3))
                            ]), False
    if kind == "domain_choice":
        return tune.choice([draw(domains())[0] for _ in range(draw(st.integers(2, 3)))]), False
    return tune.choice(["off", {"level": draw(nodes(depth + 1, nested))[0]}]), False


@st.composite
def spaces(draw) -> tuple[dict[str, Any], bool]:
    """A nested Tune space with 1-12 entries (searched, possibly conditional) and 0-3 constants,
    and whether it has an always-active continuous parameter."""
    nested = draw(st.booleans())
    n_params = draw(st.integers(1, 8 if nested else 12))
    n_const = draw(st.integers(0, 3))
    groups = [(), ("net",), ("net", "opt"), ("data",)]
    space: dict[str, Any] = {}
    has_continuous = False
    for i in range(n_params + n_const):
        path = draw(st.sampled_from(groups)) + (f"k{i}",)
        node = space
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if i < n_params:
            node[path[-1]], continuous = draw(nodes(0, nested))
            has_continuous |= continuous
        else:
            node[path[-1]] = draw(st.sampled_from([7, "adam", None, [1, 2], {}, {"inner": 1.5}]))
    return space, has_continuous


def _check_config(config: dict[str, Any], space: dict[str, Any]) -> None:
    reason = why_not(space, config)
    assert reason is None, reason


def _sample_config(space: dict[str, Any], seed: int) -> dict[str, Any]:
    """A config drawn by Tune's own variant generator (a user's known point, always admissible)."""
    rng = np.random.default_rng(seed)
    for _, variant in generate_variants({"config": space}, random_state=rng):
        return variant["config"]


# -- the property ---------------------------------------------------------------------------
VALUE_STYLES = ["normal", "constant", "tiny", "huge", "huge_offset"]
COMPLETIONS = ["value", "value", "value", "error", "nan", "inf", "-inf", "missing", "none",
               "string"]
OPS = ["suggest"] * 6 + ["complete"] * 5 + ["unknown", "add_dup", "add_new", "roundtrip",
                                            "diagnostics"]


def _value(style: str, u: float) -> float:
    return {"normal": u, "constant": 3.0, "tiny": 1e-12 * u, "huge": 1e12 * u,
            "huge_offset": 1e12 + u}[style]


def _roundtrip(s: GPSearch, how: str) -> GPSearch:
    before = s.get_state()
    if how == "state":
        fresh = GPSearch()
        fresh.set_state(before)
    elif how == "file":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "searcher.pkl")
            s.save(path)
            fresh = GPSearch()
            fresh.restore(path)
    else:
        fresh = pickle.loads(pickle.dumps(s))
    after = fresh.get_state()
    assert before.pop("space") is not None and after.pop("space") is not None
    assert after == before
    return fresh


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_random_operation_sequences_keep_the_searcher_sound(data):
    space, has_continuous = data.draw(spaces(), label="space")
    mode = data.draw(st.sampled_from(["min", "max"]), label="mode")
    style = data.draw(st.sampled_from(VALUE_STYLES), label="values")
    max_concurrent = data.draw(st.sampled_from([None, None, 1, 3]), label="max_concurrent")
    n_points = data.draw(st.integers(0, 2), label="points_to_evaluate")
    points = [_sample_config(space, 1000 + i) for i in range(n_points)]
    with_rewards = n_points > 0 and data.draw(st.booleans(), label="evaluated_rewards")
    s = GPSearch(space, metric="loss", mode=mode, seed=data.draw(st.integers(0, 2**31 - 1)),
                 n_initial=data.draw(st.integers(2, 3), label="n_initial"),
                 acquisition=data.draw(st.sampled_from(["logei", "ei", "pi", "ucb"])),
                 max_concurrent=max_concurrent, points_to_evaluate=points or None,
                 evaluated_rewards=[_value(style, 0.1 * i) for i in range(n_points)]
                 if with_rewards else None)
    queued = 0 if with_rewards else n_points  # these suggestions may repeat a known point
    seen: list[dict[str, Any]] = list(points) if with_rewards else []
    pending: list[str] = []
    n_suggested = 0
    metric_seen, n_missing = False, 0  # GPSearch raises after 3 results without the metric
    n_ops = data.draw(st.integers(1, MAX_OPS), label="n_ops")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-metric and fallback warnings are expected
        for _ in range(n_ops):
            op = data.draw(st.sampled_from(OPS), label="op")
            if op == "suggest":
                tid = f"t{n_suggested}"
                config = s.suggest(tid)
                if config is None:
                    assert max_concurrent is not None and len(pending) >= max_concurrent
                    continue
                n_suggested += 1
                _check_config(config, space)
                if has_continuous and n_suggested > queued:
                    assert config not in seen, f"duplicate suggestion {config}"
                seen.append(config)
                pending.append(tid)
            elif op == "complete" and pending:
                tid = pending.pop(data.draw(st.integers(0, len(pending) - 1)))
                how = data.draw(st.sampled_from(COMPLETIONS), label="completion")
                u = data.draw(st.floats(-1, 1), label="u")
                result = {"value": {"loss": _value(style, u)}, "error": {"loss": 1.0},
                          "nan": {"loss": math.nan}, "inf": {"loss": math.inf},
                          "-inf": {"loss": -math.inf}, "missing": {"other": 1.0},
                          "none": None, "string": {"loss": "n/a"}}[how]
                metric_seen |= how in ("value", "nan", "inf", "-inf", "string")
                n_missing += how == "missing" and not metric_seen
                if how == "missing" and not metric_seen and n_missing >= 3:
                    with pytest.raises(ValueError, match="metric 'loss' is missing from all"):
                        s.on_trial_complete(tid, result)
                else:
                    s.on_trial_complete(tid, result, error=how == "error")
            elif op == "unknown":
                s.on_trial_complete("never-issued", {"loss": 0.0})
                metric_seen = True
            elif op in ("add_dup", "add_new"):
                config = (seen[data.draw(st.integers(0, len(seen) - 1))]
                          if op == "add_dup" and seen
                          else _sample_config(space, data.draw(st.integers(0, 10**6))))
                u = data.draw(st.floats(-1, 1), label="u")
                s.add_evaluated_point(config, _value(style, u))
                seen.append(config)
            elif op == "roundtrip":
                how = data.draw(st.sampled_from(["state", "file", "pickle"]))
                s = _roundtrip(s, how)
                if how != "pickle":  # the missing-metric count is not part of the saved state
                    metric_seen, n_missing = False, 0
                pending_after = s.n_pending
                assert pending_after == len(pending)
            elif op == "diagnostics":
                d = s.diagnostics()
                assert isinstance(d["n"], int) and d["n"] >= 0
                if "loo_rmse" in d:
                    assert len(d["predicted"]) == d["n"] == len(d["observed"])


def test_empty_nested_dict_constant_survives_found_by_fuzzing():
    """Fuzzing found that ``{"opt": {}}`` vanished from suggested configs."""
    s = GPSearch({"u": tune.uniform(0, 1), "opt": {}, "net": {"extra": {}}}, metric="loss",
                 mode="min", seed=0)
    config = s.suggest("a")
    assert config["opt"] == {} and config["net"] == {"extra": {}}
