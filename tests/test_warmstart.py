"""Warm starts from earlier experiments (raybo/warmstart.py, GPSearch.warm_start_from)."""

from __future__ import annotations

import json
import logging
import math

import pytest
from drive import drive
from ray import tune

from raybo import GPSearch
from raybo.app.report import write_outputs
from raybo.app.results import TuningRun
from raybo.warmstart import past_trials

SPACE = {"a": tune.uniform(0, 1), "k": tune.randint(0, 4), "c": tune.choice(["x", "y"]),
         "fixed": 3}
TREE = {"opt": tune.choice([{"name": "adam"}, {"name": "sgd", "m": tune.uniform(0.5, 1.0)}]),
        "lr": tune.loguniform(1e-4, 1e-1)}


def f(c: dict) -> float:
    return (c["a"] - 0.3) ** 2 + 0.1 * (c["k"] - 2) ** 2 + (c["c"] == "y")


def earlier(n: int = 8, seed: int = 11) -> list[tuple[dict, float | None]]:
    """Configs and values of an earlier run (trial 3 failed)."""
    s = GPSearch(SPACE, metric="loss", mode="min", seed=seed)
    configs = drive(s, n, f)
    return [(c, None if i == 3 else f(c)) for i, c in enumerate(configs)]


def statuses(s: GPSearch) -> list[tuple[str, float | None]]:
    return [(o["status"], o["y"]) for o in s.observations().values()]


def test_results_as_data_become_observations_with_their_failures():
    old = earlier()
    results = [{"config": c, "loss": v, "training_iteration": 1} if v is not None
               else {"config": c, "error": True} for c, v in old]
    s = GPSearch(SPACE, metric="loss", mode="min", seed=0)
    assert s.warm_start_from(results) is s
    assert statuses(s) == [("failed", None) if v is None else ("done", v) for _, v in old]
    assert [o["config"] for o in s.observations().values()] == [c for c, _ in old]
    assert s.suggest("t0") is not None and s.trial_origin("t0") == "gp"  # design skipped


def test_pairs_on_the_class_and_before_the_space_is_known():
    old = earlier()
    a = GPSearch.warm_start_from(old, metric="loss", mode="min", space=SPACE, seed=0)
    b = GPSearch.warm_start_from(old, metric="loss", mode="min", seed=0)
    assert isinstance(b, GPSearch) and b.observations() == {}
    state = b.get_state()  # waiting for the space, saved with the searcher
    c = GPSearch()
    c.set_state(state)
    for s in (b, c):
        s.set_search_properties("loss", "min", SPACE)
    assert statuses(a) == statuses(b) == statuses(c) and len(statuses(a)) == 8
    assert a.suggest("t0") == b.suggest("t0") == c.suggest("t0")


def test_add_evaluated_trials_takes_the_same_forms():
    s = GPSearch(SPACE, metric="loss", mode="min", seed=0)
    s.add_evaluated_trials([{"config": c, "score": 1.0} for c, _ in earlier()[:3]], "score")
    assert [y for _, y in statuses(s)] == [1.0, 1.0, 1.0]


def test_configs_outside_the_space_are_skipped_with_a_warning(caplog):
    old = earlier()[:4] + [({"a": 7.0, "k": 1, "c": "x"}, 0.1), ({"a": 0.5}, 0.2)]
    s = GPSearch(SPACE, metric="loss", mode="min", seed=0)
    with caplog.at_level(logging.WARNING, logger="raybo.searcher"):
        s.warm_start_from(old)
    assert len(s.observations()) == 4
    assert "2 of 6 earlier trials are not in the search space" in caplog.text


def test_conditional_space_trials_keep_their_branch():
    s0 = GPSearch(TREE, metric="loss", mode="min", seed=2)
    configs = drive(s0, 6, lambda c: math.log10(c["lr"]) ** 2)
    s = GPSearch(TREE, metric="loss", mode="min", seed=0)
    s.warm_start_from([(c, 1.0) for c in configs])
    assert [o["config"] for o in s.observations().values()] == configs


def test_a_raybo_run_directory(tmp_path):
    old = earlier()
    rows = [{"trial": i + 1, "trial_id": f"id{i}", "status": "ERROR" if v is None else
             "TERMINATED", "origin": "gp", "value": math.nan if v is None else v,
             "metrics": {} if v is None else {"val_loss": v, "val_accuracy": 1 - v},
             "config": c, "error": ""} for i, (c, v) in enumerate(old)]
    rows.append({**rows[0], "trial_id": "late", "status": "UNFINISHED"})
    run = TuningRun("cnn", "val_loss", "min", "gp", rows, tuned=["a", "k", "c"], budget=9)
    write_outputs(run, tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"format": "raybo.run", "version": 1}))
    assert past_trials(tmp_path, "val_loss") == old
    assert past_trials(str(tmp_path), "val_accuracy")[0][1] == pytest.approx(1 - old[0][1])
    s = GPSearch(SPACE, metric="val_loss", mode="min", seed=0).warm_start_from(tmp_path)
    assert len(s.observations()) == 8


def test_a_related_experiment_as_prior_centres_it_on_the_best_config():
    old = earlier()
    best = min((t for t in old if t[1] is not None), key=lambda t: t[1])[0]
    s = GPSearch(SPACE, metric="loss", mode="min", seed=0, prior={"c": "y"})
    s.warm_start_from(old, use="prior", confidence="high")
    assert s.observations() == {}  # the values are not taken as data
    assert s.get_state()["prior"] == {"values": {"a": best["a"], "k": best["k"], "c": "y",
                                                 "fixed": 3}, "confidence": "high"}
    first = s.suggest("t0")  # the design starts at the belief
    assert (first["a"], first["k"], first["c"]) == (best["a"], best["k"], "y")


@pytest.mark.parametrize("kwargs, message", [
    ({"use": "model"}, "use in ('data', 'prior')"),
    ({"use": "prior", "confidence": "sure"}, "prior_confidence must be one of"),
])
def test_bad_warm_starts(kwargs, message):
    s = GPSearch(SPACE, metric="loss", mode="min")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        s.warm_start_from(earlier(3), **kwargs)
    with pytest.raises(ValueError, match="a metric"):
        GPSearch(SPACE).warm_start_from(earlier(3))
    with pytest.raises(ValueError, match="cannot read trials from a int"):
        s.warm_start_from(3)
    with pytest.raises(ValueError, match="use acquisition 'logei'"):
        GPSearch(SPACE, metric="loss", mode="min", acquisition="ucb").warm_start_from(
            earlier(3), use="prior")


@pytest.mark.ray
def test_a_tune_result_grid_and_experiment_directory(ray_local, tmp_path):
    def trainable(config):  # self-contained: Ray's workers cannot import this test module
        if config["k"] == 3:
            raise RuntimeError("boom")
        tune.report({"loss": (config["a"] - 0.3) ** 2 + config["k"]})

    tuner = tune.Tuner(trainable, param_space=SPACE,
                       tune_config=tune.TuneConfig(num_samples=6,
                                                   search_alg=GPSearch(seed=1, n_initial=6),
                                                   metric="loss", mode="min"),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="old",
                                                 failure_config=tune.FailureConfig(0)))
    grid = tuner.fit()
    expected = sorted((r.config["a"], None if r.error else r.metrics["loss"]) for r in grid)
    for source in (grid, grid.experiment_path, tune.ExperimentAnalysis(grid.experiment_path)):
        s = GPSearch(SPACE, metric="loss", mode="min", seed=0).warm_start_from(source)
        got = sorted((o["config"]["a"], o["y"]) for o in s.observations().values())
        assert got == expected
