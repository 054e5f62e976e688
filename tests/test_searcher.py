"""GPSearch through Tune's Searcher API, driven directly (raybo/searcher.py).

Ray integration through tune.run / Tuner lives in tests/test_tune_integration.py."""

from __future__ import annotations

import math
import os
import pickle
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from drive import drive
from ray import tune

from raybo import GPSearch
from raybo.checkpoint import STATE_VERSION

ALL_DOMAINS = {
    "u": tune.uniform(-1, 1), "qu": tune.quniform(0, 1, 0.1), "lu": tune.loguniform(1e-5, 1),
    "qlu": tune.qloguniform(1e-3, 1, 1e-3), "ri": tune.randint(0, 5),
    "lri": tune.lograndint(1, 100), "qri": tune.qrandint(0, 20, 5),
    "qlri": tune.qlograndint(8, 256, 8), "c": tune.choice(["a", "b", ("__ref_ph", "ab12")]),
    "nested": {"x": tune.uniform(0, 1), "k": 7},
}


def in_domain(c: dict) -> bool:
    return (-1 <= c["u"] <= 1 and 0 <= c["qu"] <= 1
            and abs(c["qu"] * 10 - round(c["qu"] * 10)) < 1e-9
            and 1e-5 <= c["lu"] <= 1 and 1e-3 <= c["qlu"] <= 1
            and abs(c["qlu"] * 1e3 - round(c["qlu"] * 1e3)) < 1e-6
            and c["ri"] in range(0, 5) and c["lri"] in range(1, 100)
            and c["qri"] in (0, 5, 10, 15, 20)
            and c["qlri"] in range(8, 257, 8) and c["c"] in ("a", "b", ("__ref_ph", "ab12"))
            and 0 <= c["nested"]["x"] <= 1 and c["nested"]["k"] == 7)


def objective(c: dict) -> float:
    return (c["u"] - 0.3) ** 2 + math.log10(c["lu"]) ** 2 / 25 + (c["ri"] - 2) ** 2 / 4 + (
        c["c"] != "b") + (c["nested"]["x"] - 0.5) ** 2


def run(searcher: GPSearch, n: int, workers: int = 1, f=objective, key: str = "loss"):
    """Drive a searcher with ``workers`` trials in flight, the last ``workers - 1`` left
    pending; returns the configs in order."""
    return drive(searcher, n, f, workers=workers, metric=key, drain=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "minimize"}, "mode must be one of 'min', 'max'"),
    ({"acquisition": "qei"}, "acquisition must be one of 'logei', 'ei', 'pi', 'ucb'"),
    ({"n_initial": -1}, "n_initial must be a positive int"),
    ({"n_initial": 2.5}, "n_initial must be a positive int"),
    ({"max_concurrent": 0}, "max_concurrent must be a positive int"),
    ({"seed": -3}, "seed must be a non-negative int"),
    ({"metric": 3}, "metric must be a result key"),
    ({"points_to_evaluate": [{"u": 0}], "evaluated_rewards": [1, 2]},
     "evaluated_rewards must have one value per entry of points_to_evaluate"),
    ({"points_to_evaluate": [3]}, "points_to_evaluate must be a list of config dicts"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPSearch(**kwargs)


def test_unsupported_domain_fails_before_any_trial():
    with pytest.raises(ValueError, match="'n': Normal"):
        GPSearch({"n": tune.randn()}, metric="m", mode="min")


def test_missing_space_metric_or_mode_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no search space"):
        GPSearch(metric="m", mode="min").suggest("a")
    with pytest.raises(RuntimeError, match="needs metric and mode"):
        GPSearch({"u": tune.uniform(0, 1)}).suggest("a")


def test_set_search_properties_contract():
    s = GPSearch()
    assert s.set_search_properties("m", "max", {"u": tune.uniform(0, 1)}) is True
    assert (s.metric, s.mode) == ("m", "max")
    assert s.set_search_properties("m", "max", {"u": tune.uniform(0, 1)}) is False  # space twice
    assert 0 <= s.suggest("a")["u"] <= 1


def test_thousand_suggestions_stay_in_domain_for_every_type():
    s = GPSearch(ALL_DOMAINS, metric="loss", mode="min", n_initial=2000, seed=0)
    configs = [s.suggest(f"t{i}") for i in range(1000)]
    assert all(in_domain(c) for c in configs)


def test_gp_suggestions_in_domain_distinct_and_improving_with_failures():
    s = GPSearch(ALL_DOMAINS, metric="loss", mode="min", seed=1, n_initial=8)
    configs = []
    for i in range(30):
        c = s.suggest(f"t{i}")
        configs.append(c)
        if i % 6 == 5:
            s.on_trial_complete(f"t{i}", {"loss": [math.nan, math.inf, None][i % 3]})
        elif i % 7 == 6:
            s.on_trial_complete(f"t{i}", None, error=True)
        elif i % 10 == 9:
            s.on_trial_complete(f"t{i}", {"other": 1.0})  # metric missing
        else:
            s.on_trial_complete(f"t{i}", {"loss": objective(c)})
    assert all(in_domain(c) for c in configs)
    assert len({repr(c) for c in configs}) == len(configs)  # failed points not re-proposed
    first, later = configs[:8], configs[8:]
    assert min(map(objective, later)) < min(map(objective, first))


def test_results_for_unknown_ids_are_ignored():
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    s.suggest("a")
    s.on_trial_complete("retried-trial-id", {"loss": 1.0})
    s.on_trial_complete("another", None, error=True)
    assert s.n_pending == 1 and len(s.get_state()["trials"]["records"]) == 1


def test_points_to_evaluate_first_then_sobol_then_gp_and_rewards_as_observations():
    space = {"u": tune.uniform(0, 1), "c": tune.choice(["a", "b"])}
    s = GPSearch(space, metric="loss", mode="min", seed=0, n_initial=4,
                 points_to_evaluate=[{"u": 0.25, "c": "b"}, {"u": 0.75}])
    assert s.suggest("0") == {"u": 0.25, "c": "b"}
    assert s.suggest("1")["u"] == 0.75  # missing keys are filled in
    known = GPSearch(space, metric="loss", mode="min", seed=0,
                     points_to_evaluate=[{"u": 0.1, "c": "a"}, {"u": 0.9, "c": "b"}],
                     evaluated_rewards=[1.0, 2.0])
    assert known.n_pending == 0 and len(known.get_state()["trials"]["records"]) == 2
    assert known.suggest("x") not in ({"u": 0.1, "c": "a"}, {"u": 0.9, "c": "b"})


def test_max_concurrency_is_enforced_by_the_searcher():
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    assert s.set_max_concurrency(2) is True
    assert s.suggest("a") and s.suggest("b") and s.suggest("c") is None
    s.on_trial_complete("a", {"loss": 0.5})
    assert s.suggest("c") is not None


def test_same_seed_same_suggestions_other_seed_others():
    runs = [run(GPSearch(ALL_DOMAINS, metric="loss", mode="min", seed=seed, n_initial=5), 12,
                workers=3) for seed in (7, 7, 8)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_pending_points_are_diverse():
    """Eight workers asking at once after the design: fantasies must spread the batch out."""
    s = GPSearch({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}, metric="f", mode="min",
                 seed=0, n_initial=6)
    run(s, 6, f=lambda c: (c["a"] - 0.5) ** 2 + (c["b"] - 0.5) ** 2, key="f")
    batch = np.array([[c["a"], c["b"]] for c in (s.suggest(f"p{i}") for i in range(8))])
    dists = np.linalg.norm(batch[:, None] - batch[None], axis=-1)[np.triu_indices(8, 1)]
    assert dists.min() > 0.01


def test_mode_max_maximizes():
    f = lambda c: -((c["u"] - 0.8) ** 2)  # noqa: E731
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="acc", mode="max", seed=0, n_initial=5)
    configs = run(s, 15, f=f, key="acc")
    assert abs(max(configs, key=f)["u"] - 0.8) < 0.02


def test_save_restore_into_fresh_searcher_without_set_search_properties(tmp_path):
    s = GPSearch(metric="loss", mode="min", seed=3, n_initial=4)
    s.set_search_properties(None, None, ALL_DOMAINS)
    run(s, 8, workers=3)  # leaves two trials pending
    path = str(tmp_path / "searcher.pkl")
    s.save(path)
    fresh = GPSearch()
    fresh.restore(path)
    assert (fresh.metric, fresh.mode, fresh.n_pending) == ("loss", "min", 2)
    assert fresh.get_state() == s.get_state()
    assert fresh.observations() == s.observations()
    twin = pickle.loads(pickle.dumps(s))  # Tune pickles searchers; no torch state travels
    assert twin.last_fit() is None
    assert fresh.suggest("next") == twin.suggest("next")
    fresh.on_trial_complete("t6", {"loss": 0.1})  # a pending trial finishing after restore
    assert fresh.n_pending == 2  # t7 and "next"


def test_restore_rejects_foreign_state(tmp_path):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"format": "something", "version": 1}))
    with pytest.raises(ValueError, match="not a GPSearch state"):
        GPSearch().restore(str(path))


def test_add_evaluated_point_warm_starts():
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0, n_initial=3)
    for u in (0.1, 0.5, 0.9):
        s.add_evaluated_point({"u": u}, (u - 0.6) ** 2)
    s.add_evaluated_point({"u": 0.7}, None, error=True)
    c = s.suggest("a")  # straight to the GP: three results exist
    assert abs(c["u"] - 0.6) < 0.25


def test_diagnostics_report_loo_fit():
    s = GPSearch({"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}, metric="f", mode="max",
                 seed=0)
    assert s.diagnostics() == {"n": 0}
    f = lambda c: 10 + math.sin(5 * c["a"]) + c["b"]  # noqa: E731
    run(s, 20, f=f, key="f")
    d = s.diagnostics()
    assert d["n"] == 20 and len(d["predicted"]) == 20
    assert d["loo_rmse"] < 0.5 * np.std(d["observed"])
    assert 0.7 <= d["loo_calibration"] <= 1.0
    # mode max: the metric-unit bands are ordered and are what loo_calibration counts
    lo, hi, obs = map(np.asarray, (d["lower"], d["upper"], d["observed"]))
    assert np.all(lo <= np.asarray(d["predicted"]) + 1e-9) and np.all(lo < hi)
    assert d["loo_calibration"] == np.mean((lo <= obs) & (obs <= hi))


def test_trials_pending_at_restore_count_until_tune_shows_it_dropped_them():
    """Tune resumes restored trials under their ids, so they hold their slots (counting
    only trials suggested since the restore let twice the limit run). A restored trial that stays
    quiet while a trial suggested after the restore reports was not resumed by Tune: it is
    released so that it cannot block suggest forever, and counts again if it reports after all."""
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0, max_concurrent=2)
    s.suggest("a"), s.suggest("b")
    fresh = GPSearch()
    fresh.set_state(s.get_state())
    assert fresh.n_pending == 2 and fresh.suggest("c") is None  # both restored trials count
    fresh.on_trial_result("a", {"loss": 1.0})  # Tune resumed "a"
    assert fresh.suggest("c") is None
    fresh.on_trial_complete("a", {"loss": 1.0})
    assert fresh.suggest("c") is not None and fresh.suggest("d") is None  # "b" still counts
    fresh.on_trial_result("c", {"loss": 0.5})  # a new trial reports, "b" stayed quiet
    assert fresh.suggest("d") is not None and fresh.suggest("e") is None
    assert fresh.n_pending == 3  # "b" stays pending for the GP (fantasized)
    fresh.on_trial_result("b", {"loss": 2.0})  # resumed after all: counts again
    fresh.on_trial_complete("c", {"loss": 0.5})
    assert fresh.suggest("e") is None  # "b" and "d" hold both slots


def test_hyperparameters_reoptimized_only_after_enough_new_data():
    from raybo.options import DEFAULT
    from raybo.strategies import FitCache

    cache = FitCache()
    assert cache.needs_refit(5)  # nothing fitted yet
    cache.warm_state, cache.n_fitted = {}, 100
    assert cache.needs_refit(DEFAULT.refit_always - 1)  # small data: always
    grown = 100 + round(100 * DEFAULT.refit_growth)
    assert not cache.needs_refit(grown - 1) and cache.needs_refit(grown)


# -- clear errors for bad input, raised before any trial runs (helper D's audit) -------------
@pytest.mark.parametrize("kwargs, message", [
    ({"seed": True}, "seed must be a non-negative int"),
    ({"seed": 1.5}, "seed must be a non-negative int"),
    ({"points_to_evaluate": [{"u": 0.5}], "evaluated_rewards": ["bad"]},
     "evaluated_rewards must be numbers"),
    ({"max_concurrent": -2}, "max_concurrent must be a positive int"),
    ({"n_initial": 0}, "n_initial must be a positive int"),
])
def test_more_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPSearch(**kwargs)


@pytest.mark.parametrize("point, message", [
    ({"u": 5.0}, r"points_to_evaluate\[1\]: parameter 'u': 5.0 is outside \[0.0, 1.0\]"),
    ({"c": "z"}, r"points_to_evaluate\[1\]: parameter 'c': 'z' is not one of the categories"),
    ({"nested": {"i": 3}}, r"points_to_evaluate\[1\]: parameter 'nested/i': 3 is not an "),
    ({"uu": 0.5}, r"points_to_evaluate\[1\] has keys that are not in the search space: \['uu'\]"),
])
def test_out_of_domain_points_to_evaluate_fail_at_construction_and_set_search_properties(
        point, message):
    space = {"u": tune.uniform(0, 1), "c": tune.choice(["a", "b"]),
             "nested": {"i": tune.qrandint(0, 10, 2), "k": 1}}
    points = [{"u": 0.5}, point]
    with pytest.raises(ValueError, match=message):
        GPSearch(space, metric="m", mode="min", points_to_evaluate=points)
    s = GPSearch(metric="m", mode="min", points_to_evaluate=points)  # the Tune path
    with pytest.raises(ValueError, match=message):
        s.set_search_properties(None, None, space)
    ok = GPSearch(space, metric="m", mode="min", points_to_evaluate=[
        {"u": 1.0, "nested/i": 4}, {"nested": {"i": 10, "k": 1}}, {"c": "b"}])
    assert ok.suggest("a")["nested"]["i"] == 4 and ok.suggest("b")["nested"]["i"] == 10


def test_known_points_with_rewards_must_be_complete():
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] \(with evaluated_rewards\) "
                                         r"must give every parameter: parameter 'v' is missing"):
        GPSearch({"u": tune.uniform(0, 1), "v": tune.uniform(0, 1)}, metric="m", mode="min",
                 points_to_evaluate=[{"u": 0.5}], evaluated_rewards=[1.0])


def test_metric_missing_from_every_result_is_an_error_naming_the_keys():
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    for i in range(3):
        s.suggest(f"t{i}")
    with pytest.warns(UserWarning, match="metric 'loss' missing"):
        s.on_trial_complete("t0", {"val_loss": 0.3, "epoch": 1})
        s.on_trial_complete("t1", None, error=True)  # errored trials do not count
        s.on_trial_complete("t2", {"val_loss": 0.2, "epoch": 2})
        s.suggest("t3")
        with pytest.raises(ValueError, match=r"metric 'loss' is missing from all 3 trial results "
                                             r"so far; the results have the keys \['epoch', "
                                             r"'val_loss'\]"):
            s.on_trial_complete("t3", {"val_loss": 0.1, "epoch": 3})
    # once the metric has been seen, later results without it are failures, not errors
    ok = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    for i in range(5):
        ok.suggest(f"t{i}")
    ok.on_trial_complete("t0", {"loss": 1.0})
    with pytest.warns(UserWarning, match="missing"):
        for i in range(1, 5):
            ok.on_trial_complete(f"t{i}", {"other": 1.0})


def test_initial_design_shrinks_to_a_third_of_a_small_tune_budget():
    space = {f"x{i}": tune.uniform(0, 1) for i in range(8)}  # default design: 16 points
    small = GPSearch(metric="f", mode="min", seed=0)
    assert small.set_search_properties(None, None, space, num_samples=12)
    assert small.design_size == 4
    assert GPSearch(space, metric="f", mode="min").design_size == 16
    big = GPSearch(metric="f", mode="min")
    big.set_search_properties(None, None, space, num_samples=300)
    assert big.design_size == 16
    fresh = GPSearch()
    fresh.set_state(small.get_state())  # Tuner.restore: the budget survives
    assert fresh.design_size == 4


def test_points_to_evaluate_values_come_back_exactly():
    # The log-scale round trip through the unit cube must not turn 0.003 into 0.0029999...
    space = {"lr": tune.loguniform(1e-4, 1e-1), "wd": tune.uniform(0.0, 0.3),
             "opt": tune.choice(["adam", "sgd"]), "n": tune.randint(1, 5)}
    point = {"lr": 0.003, "wd": 0.1, "opt": "sgd", "n": 3}
    s = GPSearch(space=space, metric="loss", mode="min", points_to_evaluate=[point, {"lr": 0.007}])
    assert s.suggest("a") == point
    partial = s.suggest("b")
    assert partial["lr"] == 0.007 and set(partial) == set(point)


# -- Ray's searcher contract --------------------------------------------
def test_mode_without_metric_optimizes_tunes_default_metric():
    """tune.run(..., mode="max") without a metric: Ray's built-ins fall back to "_metric"."""
    from ray.tune.result import DEFAULT_METRIC
    from ray.tune.search.optuna import OptunaSearch

    space = {"u": tune.uniform(0, 1)}
    optuna = OptunaSearch()
    optuna.set_search_properties(None, "max", space)
    s = GPSearch(seed=0, n_initial=2)
    assert s.set_search_properties(None, "max", space) is True
    assert s.metric == optuna.metric == DEFAULT_METRIC == "_metric"
    for i in range(4):
        c = s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"_metric": -((c["u"] - 0.7) ** 2)})
    assert s.get_state()["trials"]["records"]["t3"]["status"] == "done"
    # a metric given later (Tune's, or GPSearch's own) replaces the default
    late = GPSearch({"u": tune.uniform(0, 1)}, mode="max", seed=0)
    assert late.metric == "_metric"
    late.set_search_properties("acc", None, {"const": 1})
    assert late.metric == "acc"


def test_metric_mode_and_num_samples_come_from_tune_when_gpsearch_holds_the_space():
    """GPSearch(space=...) + tune.run(metric, mode, num_samples, config of constants): take
    them; refuse only a second space, returning False as Ray's built-ins do (Tune then raises if
    its config holds domains)."""
    from ray.tune.search.optuna import OptunaSearch

    space = {f"x{i}": tune.uniform(0, 1) for i in range(8)}
    s = GPSearch(space=space, seed=0)
    ref = OptunaSearch(space=space)
    args = ("acc", "max", {"const": 1})
    assert s.set_search_properties(*args, num_samples=12) is ref.set_search_properties(*args)
    assert (s.metric, s.mode, s.design_size) == ("acc", "max", 4)  # a third of num_samples
    assert 0 <= s.suggest("a")["x0"] <= 1
    other = {"y": tune.uniform(5, 6)}
    assert s.set_search_properties(None, None, other) is False  # the first space stays
    assert set(s.suggest("b")) == set(space)
    own = GPSearch(space=space, metric="loss", mode="min")  # GPSearch's own values win
    own.set_search_properties("acc", "max", {"const": 1})
    assert (own.metric, own.mode) == ("loss", "min")
    with pytest.raises(RuntimeError, match="when GPSearch\\(space=...\\) holds the whole space"):
        GPSearch(space=space).suggest("a")  # Tune had no config, so it passed no metric


class _NoRayUnpickler(pickle.Unpickler):
    """Refuses every Ray class: the saved state must not depend on Ray's class layout."""

    def find_class(self, module, name):
        if module.split(".")[0] == "ray":
            raise pickle.UnpicklingError(f"{module}.{name} in the saved state")
        return super().find_class(module, name)


NESTED_SPACE = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "act": tune.choice([Fraction, Decimal]),  # arbitrary user objects as category values
    "optim": tune.choice([{"name": "sgd", "momentum": tune.uniform(0, 0.99)},
                          {"name": "adam", "betas": [tune.uniform(0.8, 0.99), 0.999]},
                          "rmsprop"]),
    "widths": [tune.qrandint(8, 64, 8), tune.qrandint(8, 64, 8)],
    "fixed": [1, 2, 3],
}


def _nested_loss(c: dict) -> float:
    o = c["optim"]
    branch = {"sgd": 0.5, "adam": 0.0}.get(o["name"], 1.0) if isinstance(o, dict) else 1.0
    extra = (o.get("momentum", 0.9) - 0.9) ** 2 if isinstance(o, dict) else 0.0
    return branch + extra + (math.log10(c["lr"]) + 2) ** 2 / 4 + sum(c["widths"]) / 256


def test_saved_state_is_plain_versioned_data_sharing_nothing(tmp_path):
    s = GPSearch(NESTED_SPACE, metric="loss", mode="min", seed=4, n_initial=3,
                 points_to_evaluate=[{"optim": {"name": "adam"}}, {"lr": 0.01}])
    run(s, 6, workers=2, f=_nested_loss)
    s.suggest("pending")
    path = tmp_path / "state.pkl"
    s.save(str(path))
    with open(path, "rb") as f:
        state = _NoRayUnpickler(f).load()  # no Tune Domain class (nor any other Ray class)
    assert (state["format"], state["version"]) == ("raybo.GPSearch", STATE_VERSION)
    twin = pickle.loads(pickle.dumps(s))
    got = s.get_state()
    got["trials"]["records"]["t0"]["config"]["lr"] = -1.0  # mutating a state changes nothing
    got["design"]["points"].append({"lr": 5.0})
    got["space"]["params"][0]["low"] = 7.0
    fresh = GPSearch()
    fresh.set_state(state)
    state["trials"]["records"].clear()  # ... neither does mutating a state after set_state
    assert s.get_state() == fresh.get_state() == twin.get_state()
    assert fresh.trial_origins() == s.trial_origins()
    assert fresh.suggest("n") == twin.suggest("n")  # (the live one has a warm-started GP)


@pytest.mark.parametrize("change, message", [
    (lambda st: st.pop("settings"), r"missing keys \['settings'\]"),
    (lambda st: st["settings"].pop("budget"), r"settings have keys"),
    (lambda st: st.update(extra=1), r"unexpected keys \['extra'\]"),
    (lambda st: st["trials"]["records"]["t0"].pop("origin"), r"trial 't0' has keys"),
    (lambda st: st.update(version=5), r"version=5 \(saved by a newer raybo\?\)"),
])
def test_incomplete_or_unknown_states_are_refused(change, message):
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    s.suggest("t0")
    state = s.get_state()
    change(state)
    with pytest.raises(ValueError, match=message):
        GPSearch().set_state(state)


def _as_version_1(state: dict, tune_space: dict) -> dict:
    """The layout raybo saved before state version 2 (searcher.py at 090777d)."""
    st, design = state["settings"], state["design"]
    return {"format": "raybo.GPSearch", "version": 1, "space": tune_space,
            "metric": st["metric"], "mode": st["mode"], "acquisition": st["acquisition"],
            "n_initial": st["n_initial"], "seed": st["seed"],
            "max_concurrent": st["max_concurrent"],
            "queue": design["points"], "rewards": design["rewards"],
            "sobol_index": design["sobol_index"], "n_evaluated": state["n_evaluated"],
            "trials": {"version": 1, "records": {
                k: {key: v for key, v in r.items() if key not in ("origin", "reports", "outcomes")}
                for k, r in state["trials"]["records"].items()}}}


def test_version_1_states_still_load_or_say_why_not():
    from raybo import EngineOptions
    from raybo.checkpoint import V1_ENGINE

    # a version-1 state continues with the engine version 1 had
    s = GPSearch(ALL_DOMAINS, metric="loss", mode="min", seed=3, n_initial=4,
                 engine=EngineOptions(**V1_ENGINE))
    run(s, 7, workers=2)
    old = _as_version_1(s.get_state(), ALL_DOMAINS)
    fresh = GPSearch()
    fresh.set_state(old)  # budget absent: saved before it existed
    twin = pickle.loads(pickle.dumps(s))
    assert fresh.n_pending == 1 and fresh.suggest("next") == twin.suggest("next")
    nested = {"w": [tune.uniform(0, 1), 2]}  # version 1 froze this domain as a constant
    frozen = _as_version_1(GPSearch({"v": tune.uniform(0, 1)}, seed=0).get_state(), nested)
    frozen["trials"]["records"] = {"t0": {"config": {"w": [nested["w"][0], 2]}, "x": [],
                                          "status": "pending", "y": None}}
    with pytest.raises(ValueError, match="froze domains inside lists or choices"):
        GPSearch().set_state(frozen)


def test_trial_origins_say_where_each_suggestion_came_from():
    s = GPSearch({"u": tune.uniform(0, 1), "v": tune.uniform(0, 1)}, metric="loss",
                 mode="min", seed=0, n_initial=3,
                 points_to_evaluate=[{"u": 0.5, "v": 0.5}, {"u": 0.1, "v": 0.2}],
                 evaluated_rewards=[1.0, 2.0])
    s.add_evaluated_point({"u": 0.2, "v": 0.3}, 0.5)
    assert s.trial_origins() == {}  # known points are observations, not trials
    s2 = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0, n_initial=2,
                  points_to_evaluate=[{"u": 0.5}])
    run(s2, 4, f=lambda c: (c["u"] - 0.3) ** 2)
    assert s2.trial_origins() == {"t0": "given", "t1": "design", "t2": "gp", "t3": "gp"}
    s2.trial_origins()["t0"] = "gp"  # a copy
    fresh = GPSearch()
    fresh.set_state(s2.get_state())
    assert fresh.trial_origins()["t0"] == "given"


# -- nested spaces through the searcher -------------------------------
def test_nested_points_rewards_evaluated_points_and_restore():
    from tune_semantics import why_not

    full = {"lr": 0.003, "act": Decimal, "optim": {"name": "sgd", "momentum": 0.3},
            "widths": [16, 64], "fixed": [1, 2, 3]}
    s = GPSearch(NESTED_SPACE, metric="loss", mode="min", seed=1, n_initial=4,
                 points_to_evaluate=[full, {"optim": {"name": "adam"}}, {"optim": "rmsprop"},
                                     {"optim/momentum": 0.5}])
    first = [s.suggest(f"p{i}") for i in range(4)]
    assert first[0] == full  # a complete nested point round-trips exactly
    assert first[1]["optim"]["name"] == "adam" and len(first[1]["optim"]["betas"]) == 2
    assert first[2]["optim"] == "rmsprop"
    assert first[3]["optim"] == {"name": "sgd", "momentum": 0.5}
    for i, c in enumerate(first):
        s.on_trial_complete(f"p{i}", {"loss": _nested_loss(c)})
    s.add_evaluated_point({**full, "optim": {"name": "adam", "betas": [0.9, 0.999]}}, 0.1)
    known = GPSearch(NESTED_SPACE, metric="loss", mode="min", seed=1,
                     points_to_evaluate=[full], evaluated_rewards=[0.4])
    assert known.get_state()["trials"]["records"]["__evaluated_1"]["config"] == full
    fresh = GPSearch()
    fresh.set_state(s.get_state())
    configs = run(fresh, 12, workers=3, f=_nested_loss)
    assert all(why_not(NESTED_SPACE, c) is None for c in configs), [
        why_not(NESTED_SPACE, c) for c in configs]
    assert set(fresh.trial_origins().values()) == {"given", "gp"}


@pytest.mark.parametrize("point, message", [
    ({"optim": {"name": "adamw"}}, r"points_to_evaluate\[0\]: choice 'optim': .* matches none"),
    ({"optim": {"name": "sgd", "beta": 1}}, r"option 0: 'optim' has no keys \['beta'\]"),
    ({"widths": [8]}, r"'widths' should be a list of 2 items"),
    ({"optimizer": "sgd"}, r"points_to_evaluate\[0\] has keys that are not in the search space"),
])
def test_nested_points_outside_the_space_fail_before_any_trial(point, message):
    with pytest.raises(ValueError, match=message):
        GPSearch(NESTED_SPACE, metric="m", mode="min", points_to_evaluate=[point])


def test_gp_does_not_repeat_configs_of_a_conditional_space():
    """The optimizer leaves stale values in inactive columns; its proposals are compared with
    the tried configs in canonical form (before: 6 repeats in 20 suggestions here, out of 120
    distinct configs)."""
    space = {"a": tune.choice([{"k": tune.randint(0, 3)},
                               {"m": tune.choice(["x", "y"]), "n": tune.randint(0, 2)}, "none"]),
             "b": tune.choice([1, 2, 3]), "u": tune.quniform(0, 1, 0.25)}

    def f(c):
        a = c["a"]
        branch = 0.0 if a == "none" else (a["k"] - 1) ** 2 if "k" in a else 0.5 + a["n"]
        return branch + abs(c["b"] - 2) + (c["u"] - 0.5) ** 2

    configs = run(GPSearch(space, metric="loss", mode="min", seed=0, n_initial=4), 20, f=f)
    assert len({repr(c) for c in configs}) == 20


def test_searchers_pickled_and_saved_by_state_version_1_continue_as_that_version_would():
    """tests/data/v1_searcher.pkl was written by raybo at state version 1 (see
    tests/data/make_v1_searcher.py): the pickled object (as in a Tuner's tuner.pkl) and its saved
    state both continue with the suggestion that version made after the restore."""
    with open(os.path.join(os.path.dirname(__file__), "data", "v1_searcher.pkl"), "rb") as f:
        old = pickle.load(f)
    fresh = GPSearch()
    fresh.set_state(old["state"])
    # to 1e-9 relative: the GP's float arithmetic differs in the last digits with what else the
    # process has run (BLAS code paths), which is not a change of behaviour
    assert _close(fresh.suggest("next"), old["next"], rel_tol=1e-9)
    unpickled = old["searcher"]
    assert isinstance(unpickled, GPSearch) and unpickled.n_pending == 1
    assert (unpickled.metric, unpickled.mode) == ("loss", "min")
    assert unpickled.get_state()["version"] == STATE_VERSION
    # it counts t5, so one slot of 3 is taken
    assert _close(unpickled.suggest("next"), old["next"], rel_tol=1e-9)


def test_searchers_pickled_and_saved_by_state_version_2_continue_as_that_version_would():
    """tests/data/v2_searcher.pkl was written by raybo at state version 2 mid-run with a
    scheduler (see tests/data/make_v2_searcher.py): the pickled object and its saved state
    continue with that version's suggestions while trials report intermediate results and stop
    early, i.e. intermediate results stay ignored (resource_attr=None after the migration)."""
    import importlib.util

    data = os.path.join(os.path.dirname(__file__), "data")
    spec = importlib.util.spec_from_file_location("make_v2",
                                                  os.path.join(data, "make_v2_searcher.py"))
    make_v2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_v2)
    with open(os.path.join(data, "v2_searcher.pkl"), "rb") as f:
        old = pickle.load(f)
    assert old["state"]["version"] == 2
    fresh = GPSearch()
    fresh.set_state(old["state"])
    assert fresh.settings()["resource_attr"] is None and fresh.settings()["max_resource"] is None
    unpickled = old["searcher"]
    assert isinstance(unpickled, GPSearch) and unpickled.n_pending == 1
    assert unpickled.get_state() == fresh.get_state()
    assert fresh.get_state()["version"] == STATE_VERSION
    assert _close(make_v2.continue_run(fresh), old["next"])
    assert all(r["reports"] == [] for r in fresh.observations().values())
    assert _close(make_v2.continue_run(unpickled), old["next"])


def _close(a, b, rel_tol: float = 1e-4) -> bool:
    """Equal configs, floats to 1e-4: a suggestion on a uniform/loguniform upper bound (0.1 in
    the recorded run) is now the float just below it, as Tune samples [lower, upper), and the
    GP seeing that point a hair inside the cube moves later suggestions in the 6th digit."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(u, v, rel_tol) for u, v in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("shape", ["strategies", "before strategy names"])
@pytest.mark.parametrize("seen", [False, True])
def test_searchers_pickled_with_the_metric_fields_as_attributes_keep_them(shape, seen):
    """Searchers pickled (tuner.pkl) before the metric bookkeeping had a class of its own
    carried it as two attributes, ``_metric_seen`` and ``_results_without_metric``: unpickled,
    they still raise for a wrong metric name on the third result without it, unless the metric
    was seen. The old ``__dict__`` is rebuilt from today's, as old code cannot run here."""
    s = GPSearch({"u": tune.uniform(0, 1)}, metric="loss", mode="min", seed=0)
    for i in range(4):
        s.suggest(f"t{i}")
    d = s.__getstate__()
    del d["_metric_reader"]
    d.update(_metric_seen=seen, _results_without_metric=[["epoch", "val_loss"], ["acc"]])
    if shape == "before strategy names":
        del d["_strategies"], d["_strategy_name"]
        d.update(_fit_cache=None, _mf_cache=None)
    old = GPSearch.__new__(GPSearch)
    old.__setstate__(pickle.loads(pickle.dumps(d)))  # what unpickling the old object does
    assert old.suggest("t4") == s.suggest("t4") and old.n_pending == 5
    with pytest.warns(UserWarning, match="metric 'loss' missing from a trial result"):
        if seen:
            old.on_trial_complete("t0", {"val_loss": 0.1})
            assert old.n_pending == 4
        else:
            with pytest.raises(ValueError, match=r"metric 'loss' is missing from all 3 trial "
                                                 r"results so far; the results have the keys "
                                                 r"\['acc', 'epoch', 'val_loss'\]"):
                old.on_trial_complete("t0", {"val_loss": 0.1})
    twin = pickle.loads(pickle.dumps(old))  # and it pickles in today's shape
    assert twin.__getstate__().keys() == s.__getstate__().keys()


# -- read-only inspection -----------------------------------------------------------------
def test_inspection_returns_copies_and_reports_the_fit():
    s = GPSearch({"u": tune.uniform(0, 1), "c": tune.choice(["a", "b"])}, metric="loss",
                 mode="min", seed=2, n_initial=3)
    assert s.strategy == "plain" and s.last_fit() is None and s.design_size == 3
    run(s, 5, f=lambda c: (c["u"] - 0.4) ** 2 + (c["c"] == "b"))
    obs = s.observations()
    assert list(obs) == [f"t{i}" for i in range(5)]
    assert {r["status"] for r in obs.values()} == {"done"}
    assert obs["t0"]["y"] == pytest.approx((obs["t0"]["config"]["u"] - 0.4) ** 2
                                           + (obs["t0"]["config"]["c"] == "b"))
    obs["t0"]["config"]["u"] = 99.0  # a copy: the searcher's record is untouched
    obs["t0"]["reports"].append([1.0, 2.0])
    assert s.observations()["t0"]["config"]["u"] != 99.0
    assert s.observations()["t0"]["reports"] == []
    fit = s.last_fit()
    assert fit["strategy"] == "plain" and fit["n_fitted"] == 4  # t3 on 3 rows, t4 on 4
    assert all(isinstance(v, list) for v in fit["hyperparameters"].values())
    fit["hyperparameters"].clear()
    assert s.last_fit()["hyperparameters"]
    settings = s.settings()
    settings["engine"]["n_sobol"] = 1
    assert s.settings()["engine"]["n_sobol"] != 1 and s.settings()["seed"] == 2
    with pytest.raises(RuntimeError, match="no search space"):
        GPSearch().design_size  # noqa: B018


def test_searchers_saved_before_the_divergence_rule_keep_running_without_it():
    """The divergence rule became the default with engine v3: a searcher saved (as a state or
    pickled as an object, as in a Tuner's tuner.pkl) before the option existed continues with
    the engine it started with, while a new one uses the rule."""
    import copy

    s = GPSearch(ALL_DOMAINS, "loss", "min", seed=0)
    assert s.settings()["engine"]["divergence_ratio"] == 10.0
    state = s.get_state()
    del state["settings"]["engine"]["divergence_ratio"]
    restored = GPSearch()
    restored.set_state(state)
    assert restored.settings()["engine"]["divergence_ratio"] == 0.0

    d = s.__getstate__()
    settings = copy.copy(d["_settings"])
    engine = copy.copy(vars(settings)["engine"])
    del engine.__dict__["divergence_ratio"]  # as unpickled from an object of the older class
    object.__setattr__(settings, "engine", engine)
    assert engine.divergence_ratio == 10.0  # what the class default alone would give
    old = GPSearch.__new__(GPSearch)
    old.__setstate__({**d, "_settings": settings})
    assert old.settings()["engine"]["divergence_ratio"] == 0.0
    assert old.settings()["engine"] == {**s.settings()["engine"], "divergence_ratio": 0.0}


def test_floats_stay_below_an_exclusive_upper_bound_with_the_optimum_on_it():
    # Tune samples uniform/loguniform in [lower, upper); a dropout or momentum of exactly the
    # upper bound (1.0) breaks training, so GPSearch pushed against the edge stays below it.
    s = GPSearch({"u": tune.uniform(0, 1), "lr": tune.loguniform(1e-4, 1e-2)}, metric="loss",
                 mode="min", seed=0)
    configs = drive(s, 40, lambda c: -c["u"] - math.log(c["lr"]))
    assert all(c["u"] < 1.0 and c["lr"] < 1e-2 for c in configs)
    assert max(c["u"] for c in configs) > 0.99 and max(c["lr"] for c in configs) > 0.0099
