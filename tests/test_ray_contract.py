"""Ray's own searcher tests, re-expressed against GPSearch with Ray's assertions kept.

Sources (Ray repository, python/ray/tune/tests/): ``test_searchers.py`` (InvalidValuesTest,
AddEvaluatedPointTest, SaveRestoreCheckpointTest), ``test_sample.py`` (testSampleBounds*,
testConvertHyperOptNested, _testPointsToEvaluate, testPointsToEvaluateHyperOptNested),
``test_searcher_utils.py`` (test_batch_limiter, test_set_max_concurrency) and
``test_tuner_restore.py`` (test_tuner_resume_unfinished, here with a concurrency limit).
Left out, as not applicable: cases driving another library's own objects (Ax clients, Optuna
define-by-run spaces, HyperOpt ``hp`` spaces), multi-objective modes, and HyperOpt's refusal of a
point missing a key (GPSearch fills missing keys in, as documented).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import defaultdict
from unittest.mock import patch

import numpy as np
import pytest
import ray
import ray.cloudpickle
from ray import tune
from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.sample import Categorical, Float, Integer

from raybo import GPSearch

# Trainables below run in Ray workers, which cannot import this test module: ship them by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _invalid_objective(config):
    metric = "report"
    if config[metric] > 4:
        tune.report({"_metric": float("inf")})
    elif config[metric] > 3:
        tune.report({"_metric": float("-inf")})
    elif config[metric] > 2:
        tune.report({"_metric": np.nan})
    else:
        tune.report({"_metric": float(config[metric]) or 0.1})


def _dummy_objective(config):
    tune.report(dict(metric=config["report"]))


def _mock_objective(config):
    tune.report(config)


# -- test_sample.py: bounds of 1000 suggestions (SearchSpaceTest._testTuneSampleAPI) ----------
SAMPLE_CONFIG = {  # SearchSpaceTest.setUp minus func/randn/qrandn (no sample_from, no normals)
    "uniform": tune.uniform(-5, -1),
    "quniform": tune.quniform(3.2, 5.4, 0.2),
    "loguniform": tune.loguniform(1e-4, 1e-2),
    "qloguniform": tune.qloguniform(1e-4, 1e-1, 5e-5),
    "choice": tune.choice([2, 3, 4]),
    "randint": tune.randint(-9, 15),
    "lograndint": tune.lograndint(1, 10),
    "qrandint": tune.qrandint(-21, 12, 3),
    "qrandint_q3": tune.qrandint(1, 10, 3),
    "qrandint_q1": tune.qrandint(1, 5, 1),
    "qlograndint": tune.qlograndint(2, 20, 2),
}


def _check_tune_sample_api(configs):
    """Ray's ``_testTuneSampleAPI`` assertions for the keys of ``SAMPLE_CONFIG``."""
    stats = defaultdict(list)
    for out in configs:
        for k, v in out.items():
            stats[k].append(v)
        assert -5 <= out["uniform"] < -1
        assert 3.2 <= out["quniform"] <= 5.4
        assert out["quniform"] / 0.2 == pytest.approx(round(out["quniform"] / 0.2), abs=1e-7)
        assert 1e-4 <= out["loguniform"] < 1e-2
        assert 1e-4 <= out["qloguniform"] <= 1e-1
        assert out["qloguniform"] / 5e-5 == pytest.approx(round(out["qloguniform"] / 5e-5),
                                                           abs=1e-7)
        assert out["choice"] in [2, 3, 4]
        assert -9 <= out["randint"] < 15 and isinstance(out["randint"], int)
        assert 1 <= out["lograndint"] < 10 and isinstance(out["lograndint"], int)
        assert -21 <= out["qrandint"] <= 12 and out["qrandint"] % 3 == 0
        assert isinstance(out["qrandint"], int)
        assert 1 <= out["qrandint_q3"] <= 10 and out["qrandint_q3"] % 3 == 0
        assert 1 <= out["qrandint_q1"] <= 5 and isinstance(out["qrandint_q1"], int)
        assert 2 <= out["qlograndint"] <= 20 and out["qlograndint"] % 2 == 0
    assert all(i in stats["choice"] for i in (2, 3, 4))
    assert all(i in stats["randint"] for i in range(-9, 15))
    assert all(i in stats["qrandint"] for i in range(-21, 13, 3))
    assert all(i in stats["qrandint_q3"] for i in range(3, 11, 3))
    assert all(i in stats["qrandint_q1"] for i in range(1, 5))
    assert all(i in stats["lograndint"] for i in range(1, 10))
    assert all(i in stats["qlograndint"] for i in range(2, 21, 2))


def test_sample_bounds():
    searcher = GPSearch(space=SAMPLE_CONFIG, metric="a", mode="max", n_initial=1000, seed=0)
    _check_tune_sample_api(searcher.suggest(f"trial_{i}") for i in range(1000))


def test_points_to_evaluate_nested_lists():  # testPointsToEvaluateHyperOptNested
    space = {"nested": [Integer(0, 10), Integer(0, 10)], "nosample": [4, 8]}
    points_to_evaluate = [{"nested": [2, 4], "nosample": [4, 8]}]
    searcher = GPSearch(space=space, metric="_", mode="max", points_to_evaluate=points_to_evaluate)
    config = searcher.suggest(trial_id="0")
    assert list(config["nested"]) == points_to_evaluate[0]["nested"]
    assert list(config["nosample"]) == points_to_evaluate[0]["nosample"]


# -- test_searcher_utils.py: ConcurrencyLimiter ----------------------------------------------
def test_batch_limiter():
    searcher = GPSearch({"score": tune.uniform(0, 1)}, metric="result", mode="max", seed=0)
    limiter = ConcurrencyLimiter(searcher, max_concurrent=2, batch=True)
    assert limiter.suggest("test_1")["score"] is not None
    assert limiter.suggest("test_2")["score"] is not None
    assert limiter.suggest("test_3") is None

    limiter.on_trial_complete("test_1", {"result": 3})
    assert limiter.suggest("test_3") is None
    assert searcher.n_pending == 2  # the batch's results reach the searcher together
    limiter.on_trial_complete("test_2", {"result": 3})
    assert searcher.n_pending == 0
    assert limiter.suggest("test_3") is not None


def test_set_max_concurrency():
    """Without batches the limiter hands the limit to GPSearch (set_max_concurrency is True),
    which then enforces it itself."""
    searcher = GPSearch({"score": tune.uniform(0, 1)}, metric="result", mode="max", seed=0)
    limiter = ConcurrencyLimiter(searcher, max_concurrent=2)
    assert not limiter._limit_concurrency
    assert limiter.suggest("test_1") and limiter.suggest("test_2")
    assert limiter.suggest("test_3") is None
    limiter.on_trial_complete("test_1", {"result": 1.0})
    assert limiter.suggest("test_3") is not None


# -- test_searchers.py: SaveRestoreCheckpointTest and AddEvaluatedPointTest ------------------
def _on_trial_callbacks(searcher, trial_id, metric_name="metric"):
    result = {"training_iteration": 1, metric_name: 1, "config/a": 1.0, "time_total_s": 1}
    searcher.on_trial_result(trial_id, result)
    searcher.on_trial_complete(trial_id, result)


def test_save_restore_checkpoint(tmp_path):
    config = {"a": tune.uniform(0.0, 5.0)}
    checkpoint_path = str(tmp_path / "checkpoint.pkl")
    searcher = GPSearch(space=config, metric="metric", mode="max")
    # _save
    searcher.set_search_properties(metric="metric", mode="max", config=config)
    searcher.suggest("1")
    searcher.suggest("2")
    searcher.suggest("not_completed")
    _on_trial_callbacks(searcher, "1")
    searcher.save(checkpoint_path)
    # _restore: restoration shouldn't require another call to set_search_properties
    searcher = GPSearch()
    searcher.restore(checkpoint_path)
    _on_trial_callbacks(searcher, "2")
    searcher.suggest("3")
    _on_trial_callbacks(searcher, "3")
    # "not_completed" was suggested before saving and never completes: still tracked
    records = searcher.get_state()["trials"]["records"]
    assert records["not_completed"]["status"] == "pending"
    assert [records[t]["status"] for t in ("1", "2", "3")] == ["done"] * 3


def test_add_evaluated_point():  # AddEvaluatedPointTest.run_add_evaluated_point
    searcher = GPSearch(space={"report": tune.uniform(0.0, 5.0)}, metric="metric", mode="max")

    def n_observed(s):
        return len(s.get_state()["trials"]["records"])

    assert n_observed(searcher) == 0
    searcher.add_evaluated_point({"report": 1.0}, 1.0)
    assert n_observed(searcher) == 1
    searcher.suggest("1")


# -- with a Ray instance -----------------------------------------------------------------
@contextlib.contextmanager
def _no_searcher_checkpoint_errors():
    """InvalidValuesTest.check_searcher_checkpoint_errors_scope."""
    from ray.tune.execution.tune_controller import logger

    buffer = []
    with patch.object(logger, "warning", lambda x, *a, **k: buffer.append(str(x))):
        yield
    assert not any("checkpointing failed" in x for x in buffer), buffer


@pytest.mark.ray
def test_invalid_values_with_mode_only(ray_local, tmp_path):
    """InvalidValuesTest (its NevergradSearch form: mode="max" and no metric, so "_metric")."""
    config = {"report": tune.uniform(0.0, 5.0), "list": [1, 2, 3], "num": 4}
    with _no_searcher_checkpoint_errors():
        out = tune.run(_invalid_objective, search_alg=GPSearch(seed=1234, n_initial=4),
                       config=config, mode="max", num_samples=8, reuse_actors=False,
                       storage_path=str(tmp_path), verbose=0)
    best_trial = out.best_trial
    assert best_trial.config["report"] <= 2.0
    assert best_trial.config["list"] in ([1, 2, 3], (1, 2, 3))  # constants aren't lost
    assert best_trial.config["num"] == 4
    assert len(out.trials) == 8


@pytest.mark.ray
def test_convert_nested(ray_local, tmp_path):  # test_sample.py testConvertHyperOptNested
    config = {
        "a": 1,
        "dict_nested": Categorical([{"a": Categorical(["M", "N"]),
                                     "b": Categorical(["O", "P"])}]).uniform(),
        "list_nested": Categorical([[Categorical(["M", "N"]), Categorical(["O", "P"])],
                                    [Categorical(["Q", "R"]), Categorical(["S", "T"])]]).uniform(),
        "domain_nested": Categorical([Categorical(["M", "N"]),
                                      Categorical(["O", "P"])]).uniform(),
    }
    analysis = tune.run(_mock_objective, config=config, search_alg=GPSearch(metric="a",
                        mode="max", seed=0), num_samples=10, storage_path=str(tmp_path),
                        verbose=0)
    assert len(analysis.trials) == 10
    for trial in analysis.trials:
        config = trial.config
        assert config["dict_nested"]["a"] in ["M", "N"]
        assert config["dict_nested"]["b"] in ["O", "P"]
        if config["list_nested"][0] in ["M", "N"]:
            assert config["list_nested"][1] in ["O", "P"]
        else:
            assert config["list_nested"][0] in ["Q", "R"]
            assert config["list_nested"][1] in ["S", "T"]
        assert config["domain_nested"] in ["M", "N", "O", "P"]


@pytest.mark.ray
def test_points_to_evaluate(ray_local, tmp_path):  # test_sample.py _testPointsToEvaluate
    config = {
        "metric": Categorical([1, 2, 3, 4]).uniform(),
        "a": Categorical(["t1", "t2", "t3", "t4"]).uniform(),
        "b": Integer(0, 5),
        "c": Float(1e-4, 1e-1).loguniform(),
    }
    points_to_evaluate = [{k: v.sample() for k, v in config.items()} for _ in range(2)]
    searcher = GPSearch(points_to_evaluate=points_to_evaluate)
    analysis = tune.run(_mock_objective, config=config, metric="metric", mode="max",
                        search_alg=searcher, num_samples=5, storage_path=str(tmp_path),
                        verbose=0)
    for i in range(len(points_to_evaluate)):
        trial_config = analysis.trials[i].config
        trial_config_dict = {k: trial_config[k] for k in ("metric", "a", "b", "c")}
        assert trial_config_dict == points_to_evaluate[i]


@pytest.mark.ray
def test_add_evaluated_trials_and_space_given_to_gpsearch(ray_local, tmp_path):
    """AddEvaluatedPointTest.run_add_evaluated_trials; the experiment it reads is run with the
    space given to GPSearch and metric, mode and num_samples given to tune.run."""
    space = {"report": tune.uniform(0.0, 5.0)}
    searcher = GPSearch(space=space, seed=0)
    analysis = tune.run(_dummy_objective, config={"const": 7}, search_alg=searcher,
                        metric="metric", mode="max", num_samples=4, storage_path=str(tmp_path),
                        verbose=0)
    assert (searcher.metric, searcher.mode, searcher.settings()["budget"]) == ("metric", "max", 4)
    assert all(t.config["const"] == 7 and 0 <= t.config["report"] <= 5 for t in analysis.trials)

    def n_observed(s):
        return sum(r["status"] == "done" for r in s.get_state()["trials"]["records"].values())

    for trials, n in [(analysis, 4), (analysis.trials, 4), (analysis.trials[0], 1)]:
        copy = GPSearch(space=space, metric="metric", mode="max")
        copy.add_evaluated_trials(trials, "metric")
        assert n_observed(copy) == n
        copy.suggest("1")

    # a second space is refused exactly as for Ray's built-in searchers: Tune raises
    from ray.tune.search.optuna import OptunaSearch

    for second in (GPSearch(space=space), OptunaSearch(space=space)):
        with pytest.raises(ValueError, match="already instantiated with a search space"):
            tune.run(_dummy_objective, config={"other": tune.uniform(0, 1)}, search_alg=second,
                     metric="metric", mode="max", num_samples=1, storage_path=str(tmp_path),
                     verbose=0)


# -- test_tuner_restore.py: resume unfinished trials under a concurrency limit ----------------
LIMIT = 2
HOLD_STEPS = 20  # controller steps the held trials keep running side by side in the second run


def _held_trainable(config):
    """Reports once, then holds while the file ``hold`` exists (at most 120 s)."""
    root = config["dir"]
    tune.report({"loss": (config["u"] - 0.3) ** 2, "step": 0})
    deadline = time.time() + 120
    while os.path.exists(os.path.join(root, "hold")) and time.time() < deadline:
        time.sleep(0.05)
    tune.report({"loss": (config["u"] - 0.3) ** 2, "step": 1})


class _Controller(Callback):
    """Records in ``live-<run>`` the most trials Tune held unfinished (suggested by the searcher
    and not completed) at any step. First run (file ``fail``): fails a few steps after ``LIMIT``
    trials run and reported, after Tune checkpointed them (TUNE_GLOBAL_CHECKPOINT_S=0), like
    Ray's _FailOnStats. Second run: once ``LIMIT`` trials ran side by side for ``HOLD_STEPS``
    steps, removes ``hold`` so that every trial can finish."""

    def __init__(self, root: str):
        self.root, self.fail_at, self.steps_full, self.peak = root, None, 0, 0

    def on_step_begin(self, iteration: int, trials: list, **info):
        run = "first" if os.path.exists(os.path.join(self.root, "fail")) else "second"
        live = sum(t.status not in (Trial.TERMINATED, Trial.ERROR) for t in trials)
        if live > self.peak:
            self.peak = live
            with open(os.path.join(self.root, f"live-{run}"), "w") as f:
                f.write(str(live))
        running = [t for t in trials if t.status == Trial.RUNNING and t.last_result]
        if run == "first":
            if self.fail_at is not None and iteration >= self.fail_at:
                raise RuntimeError("Failing")
            if self.fail_at is None and len(running) >= LIMIT:
                self.fail_at = iteration + 3
        elif len(running) >= LIMIT:
            self.steps_full += 1
            if self.steps_full >= HOLD_STEPS and os.path.exists(os.path.join(self.root, "hold")):
                os.remove(os.path.join(self.root, "hold"))


@pytest.mark.ray
@pytest.mark.slow
def test_tuner_resume_unfinished_respects_max_concurrent(ray_local, tmp_path, monkeypatch):
    """Trials pending at the restore count against the limit: before, GPSearch suggested
    ``LIMIT`` new trials beside the ``LIMIT`` resumed ones."""
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")
    root = tmp_path / "work"
    root.mkdir()
    for marker in ("hold", "fail"):
        (root / marker).touch()
    trainable = tune.with_resources(_held_trainable, {"cpu": 0.5})  # room for 4 at once
    tuner = tune.Tuner(
        trainable,
        param_space={"u": tune.uniform(0, 1), "dir": str(root)},
        tune_config=tune.TuneConfig(search_alg=GPSearch(seed=0, n_initial=2), metric="loss",
                                    mode="min", num_samples=4, max_concurrent_trials=LIMIT),
        run_config=tune.RunConfig(name="exp", storage_path=str(tmp_path), verbose=0,
                                  callbacks=[_Controller(str(root))]),
    )
    with pytest.raises(RuntimeError):
        tuner.fit()
    assert int((root / "live-first").read_text()) == LIMIT

    (root / "fail").unlink()  # the second run holds its first trials until they overlapped
    restored = tune.Tuner.restore(str(tmp_path / "exp"), trainable=trainable,
                                  resume_unfinished=True)
    results = restored.fit()
    assert len(results) == 4 and not results.errors
    assert not (root / "hold").exists()  # LIMIT trials did run side by side after the restore
    assert int((root / "live-second").read_text()) == LIMIT
