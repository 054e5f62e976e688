"""GPSearch inside real Ray Tune: tune.run with 4 trials at once, faults, placeholders, warm start.

Tuner runs that are killed and restored live in tests/test_crash_resume.py."""

from __future__ import annotations

import math
import pickle
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
import ray
import ray.cloudpickle
import torch
from ray import tune
from tune_semantics import why_not

from raybo import GPSearch
from trainables.synthetic import synthetic_trainable

pytestmark = pytest.mark.ray

SPACE = {
    "u": tune.uniform(-1, 1),
    "log_lr": tune.loguniform(1e-5, 1e-1),
    "width": tune.qlograndint(8, 128, 8),
    "depth": tune.randint(1, 4),
    "opt": {"name": tune.choice(["adam", "bsgd"]), "mom": tune.quniform(0, 0.9, 0.1)},
    "act": tune.choice([torch.nn.ReLU, torch.nn.Tanh]),  # non-primitive: Tune uses placeholders
    "fault": tune.choice(["none", "none", "nan", "inf", "error"]),  # Tune itself rejects a
    # result without the metric (strict metric checking), so "missing" is unit-tested only
    "sleep_s": 0.2,
}
RESOURCES = {"cpu": 0.5}  # 4 trials at once on a 2-CPU Ray instance


def _in_domain(c: dict) -> bool:
    return (-1 <= c["u"] <= 1 and 1e-5 <= c["log_lr"] <= 1e-1 and c["width"] % 8 == 0
            and 8 <= c["width"] <= 128 and c["depth"] in (1, 2, 3)
            and c["opt"]["name"] in ("adam", "bsgd") and 0 <= c["opt"]["mom"] <= 0.9
            and c["act"] in (torch.nn.ReLU, torch.nn.Tanh) and c["sleep_s"] == 0.2)


def _config_key(c: dict) -> str:
    return repr({k: (v.__name__ if isinstance(v, type) else v) for k, v in sorted(c.items())})


def test_tune_run_four_concurrent_with_faults(ray_local, tmp_path):
    searcher = GPSearch(seed=0, n_initial=4)
    space = {**SPACE, "barrier": {"dir": str(tmp_path / "barrier"), "n": 4, "timeout_s": 120}}
    analysis = tune.run(
        synthetic_trainable, config=space, search_alg=searcher, metric="loss", mode="min",
        num_samples=14, max_concurrent_trials=4, resources_per_trial=RESOURCES,
        storage_path=str(tmp_path), name="faults", raise_on_failed_trial=False, verbose=0,
    )
    trials = analysis.trials
    assert len(trials) == 14
    assert all(_in_domain(t.config) for t in trials)
    assert len({_config_key(t.config) for t in trials}) == 14  # nothing proposed twice
    # the first four trials waited for each other at a barrier: they ran at the same time
    assert max(t.last_result.get("peers", 0) for t in trials if t.last_result) >= 4
    statuses = {t.config["fault"]: t.status for t in trials}
    if "error" in statuses:
        assert statuses["error"] == "ERROR"
    good = [t for t in trials if t.config["fault"] == "none"]
    assert good and all(math.isfinite(t.last_result["loss"]) for t in good)
    assert {t.last_result["act_name"] for t in good} <= {"ReLU", "Tanh"}  # placeholders resolved
    records = searcher.get_state()["trials"]["records"]
    assert len(records) == 14 and all(r["status"] != "pending" for r in records.values())
    n_failed = sum(r["status"] == "failed" for r in records.values())
    assert n_failed == sum(t.config["fault"] != "none" for t in trials)

    # warm start a new searcher from this experiment's results
    warm = GPSearch(SPACE, metric="loss", mode="min", seed=1)
    warm.add_evaluated_trials(analysis, "loss")
    warm_records = warm.get_state()["trials"]["records"]
    assert sum(r["status"] == "done" for r in warm_records.values()) == len(good)


# -- nested and conditional spaces end to end -----------------------------------------------
def _record_config(config: dict) -> None:
    """Pickles the config it receives into ``config["out"]`` and reports a loss from it."""
    import os
    import pickle
    import uuid

    with open(os.path.join(config["out"], uuid.uuid4().hex + ".pkl"), "wb") as f:
        pickle.dump(config, f)
    optim = config["optim"]
    loss = (config["lr_exp"] + 2.5) ** 2 + sum(config["widths"]) / 100
    loss += {"sgd": 0.5 + (optim.get("momentum", 0) - 0.9) ** 2, "adam": 0.0}.get(
        optim["name"], 1.0) if isinstance(optim, dict) else 2.0
    tune.report({"loss": loss})


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests

NESTED = {
    "lr_exp": tune.uniform(-4, -1),
    "optim": tune.choice([
        {"name": "sgd", "momentum": tune.uniform(0.0, 0.99),
         "nesterov": tune.choice([True, False])},
        {"name": "adam", "betas": (tune.uniform(0.8, 0.99), tune.loguniform(0.9, 0.9999)),
         "kind": Fraction},  # a non-primitive value inside an option: a Tune placeholder
        "rmsprop",
    ]),
    "widths": [tune.qrandint(8, 64, 8), tune.choice([8, 16])],
    "act": tune.choice([Fraction, Decimal]),
}


def _received(out) -> list[dict]:
    configs = []
    for path in sorted(out.iterdir()):
        with open(path, "rb") as f:
            configs.append(pickle.load(f))
    return configs


@pytest.mark.parametrize("api", ["tune.run", "Tuner"])
def test_nested_space_end_to_end(ray_local, tmp_path, api):
    """Every config the trainable receives is fully resolved, in its domain, and has exactly the
    chosen options' keys; the GP phase is reached; Tune resolves sample_from against it."""
    out = tmp_path / "configs"
    out.mkdir()
    space = {**NESTED, "out": str(out),
             "lr": tune.sample_from(lambda spec: 10 ** spec.config.lr_exp)}  # Tune resolves it
    searcher = GPSearch(seed=0, n_initial=2)
    if api == "tune.run":
        tune.run(_record_config, config=space, search_alg=searcher, metric="loss", mode="min",
                 num_samples=6, max_concurrent_trials=2, resources_per_trial={"cpu": 0.5},
                 storage_path=str(tmp_path), name="nested", verbose=0)
    else:
        tune.Tuner(tune.with_resources(_record_config, {"cpu": 0.5}), param_space=space,
                   tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min",
                                               num_samples=6, max_concurrent_trials=2),
                   run_config=tune.RunConfig(storage_path=str(tmp_path), name="nested",
                                             verbose=0)).fit()
    configs = _received(out)
    assert len(configs) == 6
    for c in configs:
        assert c.pop("lr") == pytest.approx(10 ** c["lr_exp"])
        assert why_not({**NESTED, "out": str(out)}, c) is None, why_not(NESTED, c)
    assert "gp" in searcher.trial_origins().values()
    assert len({repr(sorted(c.items())) for c in configs}) == 6


def test_a_result_without_the_metric_aborts_tune_unless_strict_checking_is_off(
        ray_local, tmp_path, monkeypatch):
    # What the README says: Tune's strict metric checking aborts fit() before any searcher
    # sees such a result; with TUNE_DISABLE_STRICT_METRIC_CHECKING=1 GPSearch records a failure.
    space = {"u": tune.uniform(-1, 1), "fault": tune.choice(["none", "missing"]), "sleep_s": 0.0}
    points = [{"u": 0.1, "fault": "missing"}, {"u": 0.2, "fault": "none"},
              {"u": 0.3, "fault": "none"}]

    def run(name: str) -> GPSearch:
        searcher = GPSearch(points_to_evaluate=points, seed=0)
        tune.run(synthetic_trainable, config=space, search_alg=searcher, metric="loss",
                 mode="min", num_samples=3, max_concurrent_trials=1, storage_path=str(tmp_path),
                 name=name, raise_on_failed_trial=False, verbose=0)
        return searcher

    monkeypatch.delenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", raising=False)
    with pytest.raises(Exception, match="did not include the specified metric"):
        run("strict")
    monkeypatch.setenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    records = run("lenient").get_state()["trials"]["records"]
    assert sorted(r["status"] for r in records.values()) == ["done", "done", "failed"]
