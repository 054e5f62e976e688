"""The shared training loop under real Ray Tune: all six architectures, resume, NaN, fake GPU.

All trials run in one Tune run in one Ray session (2 CPUs, 1 fake GPU) to keep start-up cost
low; a module fixture runs it once and the tests assert on its results.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from conftest import ray_tmp
from ray import tune
from sklearn.metrics import log_loss
from test_trainables_learning import _probabilities

from raybo import GPSearch
from trainables import ARCHITECTURES, default_config, get_trainable
from trainables.loop import STATE_FILE, merge, setup_trial
from trainables.metrics import DEFAULT_KIND, metrics_for

pytestmark = pytest.mark.ray

# Smaller than the defaults where that speeds up the trial without stopping it from learning.
FAST_MODEL = {
    "seq2seq": {"hidden": 32, "embedding": 16},
    "transformer": {"d_model": 32, "nhead": 2, "num_layers": 1, "dim_feedforward": 64},
}
FAST_DATA = {"seq2seq": {"n_train": 800, "n_val": 200}, "transformer": {"n_train": 800}}


@pytest.fixture(scope="module")
def ray_session():
    ray.init(
        address="local", num_cpus=2, num_gpus=1, _temp_dir=ray_tmp("L"), include_dashboard=False
    )
    yield
    ray.shutdown()


def _history(trial) -> list[dict]:
    """Every result the trial reported, oldest first, read from its progress file."""
    # With several experiments in one run, Tune syncs only the first one's files to storage
    # before returning; the others are complete in the driver's staging directory.
    path = next(
        p for p in (Path(trial.path) / "result.json", Path(trial.local_path) / "result.json")
        if p.exists()
    )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _fixed_config(arch: str, epochs: int = 2, **extra) -> dict:
    cfg = {"epochs": epochs, "model": FAST_MODEL.get(arch, {}), **extra}
    if arch in FAST_DATA:
        cfg["data"] = {"name": "reverse", **FAST_DATA[arch]}
    return merge(default_config(arch), cfg)


@pytest.fixture(scope="module")
def trials(ray_session, tmp_path_factory):
    """The fault-handling trials in one Tune run, keyed by experiment name: a trial that fails
    once and resumes, its uninterrupted twin, a diverging trial, one holding half a fake GPU."""
    tmp = tmp_path_factory.mktemp("loop")
    storage, marker, cnn = str(tmp), tmp / "failed_once", get_trainable("cnn")
    experiments = [
        tune.Experiment(
            "resumed",
            cnn,
            config=_fixed_config("cnn", epochs=4, fail_at_epoch=2, fail_marker=str(marker)),
            storage_path=storage,
            max_failures=1,
        ),
        tune.Experiment("twin", cnn, config=_fixed_config("cnn", epochs=4), storage_path=storage),
        tune.Experiment(
            "diverging",
            cnn,  # an absurd step size overflows the weights to inf, then the loss to NaN
            config=_fixed_config("cnn", epochs=3, optim={"name": "sgd", "lr": 1e30}),
            storage_path=storage,
        ),
        tune.Experiment(
            "fake_gpu",
            cnn,
            config=_fixed_config("cnn", epochs=1),
            storage_path=storage,
            resources_per_trial={"cpu": 1, "gpu": 0.5},
        ),
    ]
    # No reuse_actors: Tune would then run one function trainable's actor for another's trial.
    done = tune.run_experiments(experiments, verbose=0)
    assert marker.exists(), "the injected failure never happened"
    return {Path(t.path).parent.name: t for t in done}


@pytest.fixture(scope="module")
def searched(ray_session, tmp_path_factory):
    """Each architecture tuned by GPSearch through ``tune.run``: 2 trials, keyed by arch.

    The space is the fast fixed config with the learning rate and dropout as real Tune domains;
    the first trial is the fixed config itself (``points_to_evaluate``), the second GPSearch's
    own suggestion, so both of GPSearch's paths feed a real trainable.
    """
    storage = str(tmp_path_factory.mktemp("searched"))
    out = {}
    for arch in ARCHITECTURES:
        fixed = _fixed_config(arch)
        space = merge(fixed, {"optim": {"lr": tune.loguniform(1e-3, 1e-2)}})
        if "dropout" in fixed["model"]:
            space = merge(space, {"model": {"dropout": tune.uniform(0.0, 0.2)}})
        searcher = GPSearch(points_to_evaluate=[fixed], seed=0)
        analysis = tune.run(
            get_trainable(arch), config=space, search_alg=searcher, metric="val_loss",
            mode="min", num_samples=2, max_concurrent_trials=2, storage_path=storage,
            name=arch, verbose=0,
        )
        out[arch] = (analysis.trials, searcher, fixed)
    return out


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_architecture_trains_and_reports_under_gpsearch(searched, arch):
    trials, searcher, fixed = searched[arch]
    assert len(trials) == 2
    configs = sorted((t.config for t in trials), key=lambda c: c != fixed)
    assert configs[0] == fixed  # points_to_evaluate came through unchanged
    assert configs[1]["optim"]["lr"] != fixed["optim"]["lr"]  # GPSearch's own suggestion
    assert 1e-3 <= configs[1]["optim"]["lr"] <= 1e-2
    state = searcher.get_state()["trials"]  # GPSearch saw both results
    assert sum(r["status"] == "done" for r in state["records"].values()) == 2
    trial = next(t for t in trials if t.config == fixed)
    assert trial.status == "TERMINATED"
    history = _history(trial)
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # Exactly the metrics trainables.metrics promises (the CLI validates --metric against it).
    kind = DEFAULT_KIND[arch]
    assert set(metrics_for(kind)) <= set(history[-1]) and "device" in history[-1]
    assert ("val_perplexity" in history[-1]) == (kind != "image")
    assert 0.0 <= history[-1]["val_accuracy"] <= 1.0
    assert history[-1]["device"] == "cpu"
    if arch in ("seq2seq", "transformer"):
        assert history[-1]["val_perplexity"] == pytest.approx(math.exp(history[-1]["val_loss"]))
    assert trial.checkpoint is not None
    # The reported val_loss is the true cross-entropy of the checkpointed model (every class and
    # every target token counted), recomputed here with scikit-learn.
    run = setup_trial(fixed, arch, torch.device("cpu"))
    with trial.checkpoint.as_directory() as d:
        run.model.load_state_dict(torch.load(Path(d) / STATE_FILE, weights_only=False)["model"])
    y, p = _probabilities(run)
    assert history[-1]["val_loss"] == pytest.approx(
        log_loss(y, p, labels=np.arange(p.shape[1])), abs=1e-6)


def test_failed_trial_resumes_from_its_checkpoint(trials):
    resumed, twin = trials["resumed"], trials["twin"]
    assert resumed.status == "TERMINATED" and resumed.num_failures == 1
    history = _history(resumed)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]  # continued, not restarted at 1
    # Model, optimizer and RNG state all came back: the run matches an uninterrupted twin.
    final, twin_final = history[-1], _history(twin)[-1]
    assert final["val_loss"] == pytest.approx(twin_final["val_loss"], rel=1e-5)
    assert final["train_loss"] == pytest.approx(twin_final["train_loss"], rel=1e-5)


def test_diverging_trial_reports_nan_and_ends_cleanly(trials):
    trial = trials["diverging"]
    assert trial.status == "TERMINATED"
    last = _history(trial)[-1]
    assert last["diverged"] is True
    assert math.isnan(last["val_loss"]) and math.isnan(last["train_loss"])
    assert last["epoch"] == 1


def test_fake_gpu_grant_falls_back_to_cpu(trials):
    trial = trials["fake_gpu"]
    assert trial.status == "TERMINATED"
    last = _history(trial)[-1]
    assert last["device"] == "cpu"
    assert last["gpu_share"] == pytest.approx(0.5)
    assert last["memory_fraction"] is None


@pytest.mark.parametrize("optim, expected", [
    ({"method": {"name": "sgd", "momentum": 0.3}}, (torch.optim.SGD, 0.3)),
    ({"method": {"name": "rmsprop", "momentum": 0.2}}, (torch.optim.RMSprop, 0.2)),
    ({"method": {"name": "rmsprop"}}, (torch.optim.RMSprop, 0.0)),
    ({"method": {"name": "adamw"}}, (torch.optim.AdamW, None)),
    ({"name": "sgd"}, (torch.optim.SGD, 0.9)),                  # written before "method"
    ({"name": "sgd", "momentum": 0.5}, (torch.optim.SGD, 0.5)),
    ({}, (torch.optim.Adam, None)),
])
def test_optimizer_follows_the_chosen_method_and_older_configs(optim, expected):
    """The default space's conditional ``optim.method`` (momentum only for sgd/rmsprop) and the
    flat ``optim.name``/``momentum`` of older best_config.json files build the same optimizers."""
    from trainables.loop import build_optimizer

    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))],
                          {"lr": 0.01, "weight_decay": 1e-4, **optim})
    cls, momentum = expected
    group = opt.param_groups[0]
    assert type(opt) is cls and group["lr"] == 0.01 and group["weight_decay"] == 1e-4
    assert group.get("momentum") == momentum
