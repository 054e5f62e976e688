"""Default configs (one sensible fixed point) and default Tune search spaces per architecture.

Configs are nested: ``{"seed", "epochs", "data": {...}, "optim": {...}, "model": {...}}``.
``optim``: lr, weight_decay, batch_size and ``method``: ``{"name": "adam"}``, ``{"name": "adamw"}``,
``{"name": "sgd", "momentum": m}`` or ``{"name": "rmsprop", "momentum": m}`` -- a conditional
space: momentum exists only for the optimizers that have one, so the search (``raybo.GPSearch``
models the tree) never spends trials on a momentum that Adam would ignore. Configs written
before ``method`` existed (``optim.name``/``optim.momentum``) still train.
``model``: keyword arguments of the architecture's class in :mod:`trainables.models`.
"""

from __future__ import annotations

import copy
from typing import Any

from ray import tune

ARCHITECTURES = ("cnn", "rnn", "lstm", "gru", "seq2seq", "transformer")
OPTIMIZERS = ["sgd", "adam", "rmsprop", "adamw"]
# Momentum ranges of the optimizers that have one (RMSprop's default is 0, SGD's common 0.9).
_MOMENTUM = {"sgd": (0.0, 0.99), "rmsprop": (0.0, 0.9)}
DEFAULT_EPOCHS = 5

_DEFAULT_DATA = {"cnn": "digits", "rnn": "digits", "lstm": "digits", "gru": "digits"}
_DEFAULT_MODEL: dict[str, dict[str, Any]] = {
    "cnn": {"channels": 32, "num_layers": 2, "dropout": 0.1, "activation": "relu"},
    "rnn": {"hidden": 64, "num_layers": 1, "dropout": 0.0, "activation": "tanh"},
    "lstm": {"hidden": 64, "num_layers": 1, "dropout": 0.0},
    "gru": {"hidden": 64, "num_layers": 1, "dropout": 0.0},
    "seq2seq": {
        "cell": "gru",
        "attention": "additive",
        "embedding": 32,
        "hidden": 64,
        "num_layers": 1,
        "dropout": 0.0,
    },
    "transformer": {
        "d_model": 64,
        "nhead": 4,
        "num_layers": 2,
        "dim_feedforward": 128,
        "dropout": 0.1,
        "activation": "relu",
    },
}
# GPU fraction per trial when GPUs are used: these models are tiny, so several share a card;
# the transformer's attention activations are the largest.
_GPU_SHARE = {"cnn": 0.25, "rnn": 0.25, "lstm": 0.25, "gru": 0.25, "seq2seq": 0.25}
_GPU_SHARE["transformer"] = 0.5


def _check(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")


def default_config(arch: str) -> dict[str, Any]:
    """A fixed config that trains well; search configs are merged over it."""
    _check(arch)
    return {
        "seed": 0,
        "epochs": DEFAULT_EPOCHS,
        "data": {"name": _DEFAULT_DATA.get(arch, "reverse")},
        "optim": {"method": {"name": "adam"}, "lr": 3e-3, "weight_decay": 0.0, "batch_size": 64},
        "model": copy.deepcopy(_DEFAULT_MODEL[arch]),
    }


def _model_space(arch: str) -> dict[str, Any]:
    dropout = tune.uniform(0.0, 0.5)
    if arch == "cnn":
        return {
            "channels": tune.lograndint(8, 65),
            "num_layers": tune.randint(1, 4),
            "dropout": dropout,
            "activation": tune.choice(["relu", "gelu", "tanh", "elu"]),
        }
    if arch in ("rnn", "lstm", "gru"):
        space = {
            "hidden": tune.lograndint(16, 129),
            "num_layers": tune.randint(1, 4),
            "dropout": dropout,
        }
        if arch == "rnn":
            space["activation"] = tune.choice(["tanh", "relu"])
        return space
    if arch == "seq2seq":
        return {
            "cell": tune.choice(["gru", "lstm"]),
            "attention": tune.choice(["additive", "dot"]),
            "embedding": tune.lograndint(16, 65),
            "hidden": tune.lograndint(32, 129),
            "num_layers": tune.randint(1, 3),
            "dropout": tune.uniform(0.0, 0.3),
        }
    return {
        "d_model": tune.qrandint(32, 128, 16),  # multiples of 16: divisible by every nhead
        "nhead": tune.choice([2, 4]),
        "num_layers": tune.randint(1, 4),
        "dim_feedforward": tune.lograndint(64, 257),
        "dropout": tune.uniform(0.0, 0.3),
        "activation": tune.choice(["relu", "gelu"]),
    }


def default_space(
    arch: str, epochs: int = DEFAULT_EPOCHS, data: dict[str, Any] | None = None, seed: int = 0,
    conditional: bool = True,
) -> dict[str, Any]:
    """Tune search space for ``arch``; ``epochs``, ``data`` and ``seed`` are constants.
    ``conditional=False``: the optimizer as a plain categorical, momentum at each optimizer's
    default (no domain inside a choice), for searchers that cannot take nested spaces
    (TuneBOHB, Ray 2.60's OptunaSearch)."""
    _check(arch)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    return {
        "seed": seed,
        "epochs": epochs,
        "data": copy.deepcopy(data) if data else default_config(arch)["data"],
        "optim": {
            "method": tune.choice([
                {"name": name, "momentum": tune.uniform(*_MOMENTUM[name])} if name in _MOMENTUM
                else {"name": name}
                for name in OPTIMIZERS
            ]) if conditional else {"name": tune.choice(OPTIMIZERS)},
            "lr": tune.loguniform(1e-4, 1e-1),
            "weight_decay": tune.loguniform(1e-6, 1e-2),
            "batch_size": tune.choice([16, 32, 64, 128]),
        },
        "model": _model_space(arch),
    }


def default_gpu_share(arch: str) -> float:
    """Fraction of one GPU a trial of ``arch`` should request (several trials per card)."""
    _check(arch)
    return _GPU_SHARE[arch]
