"""Default search spaces: every point GPSearch proposes builds a working model."""

from __future__ import annotations

import pytest
import torch

from raybo import GPSearch
from trainables import ARCHITECTURES, default_config, default_gpu_share, default_space
from trainables.data import load_data
from trainables.models import build_model


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_suggested_configs_build_models(arch):
    data = load_data(default_config(arch)["data"])
    searcher = GPSearch(space=default_space(arch, epochs=2), metric="val_loss", mode="min", seed=1)
    for i in range(4):
        cfg = searcher.suggest(f"t{i}")
        assert cfg["epochs"] == 2 and cfg["seed"] == 0
        method = cfg["optim"]["method"]  # a tree: momentum exists for sgd and rmsprop only
        assert method["name"] in ("sgd", "adam", "rmsprop", "adamw")
        assert set(method) == ({"name", "momentum"} if method["name"] in ("sgd", "rmsprop")
                               else {"name"})
        assert 1e-4 <= cfg["optim"]["lr"] <= 1e-1
        model = build_model(arch, cfg["model"], data.meta, data.kind)
        x, y = data.x_train[:3], data.y_train[:3]
        out = model(x, y[:, :-1]) if data.kind == "seq2seq" else model(x)
        assert torch.isfinite(out).all()


def test_space_constants_and_errors():
    space = default_space("gru", epochs=7, data={"name": "text", "path": "/x"}, seed=3)
    assert (space["epochs"], space["seed"], space["data"]["name"]) == (7, 3, "text")
    with pytest.raises(ValueError, match="arch must be one of"):
        default_space("mlp")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        default_space("cnn", epochs=0)
    assert all(0 < default_gpu_share(a) <= 1 for a in ARCHITECTURES)


def test_flat_space_for_searchers_that_cannot_nest():
    """``conditional=False`` keeps every domain outside choices (TuneBOHB and OptunaSearch
    would hand a nested one to the trial unresolved) and still trains every optimizer."""
    from ray.tune.search.sample import Categorical, Domain
    from ray.tune.utils import flatten_dict

    from trainables.loop import build_optimizer

    space = default_space("cnn", conditional=False)
    for value in flatten_dict(space).values():
        if isinstance(value, Categorical):
            assert not any(isinstance(c, (dict, list, Domain)) for c in value.categories)
    for name in space["optim"]["method"]["name"].categories:
        opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))],
                              {"lr": 0.01, "method": {"name": name}})
        assert type(opt).__name__.lower() == name
