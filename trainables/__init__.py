"""PyTorch Ray Tune trainables for six architectures, with default search spaces.

>>> from ray import tune
>>> from trainables import get_trainable, default_space
>>> tune.Tuner(get_trainable("cnn"), param_space=default_space("cnn", epochs=3))
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use (PEP 562): a Ray worker that runs only ``trainables.synthetic`` or
# ``trainables.probe`` then skips torch.nn models, the data loaders and scikit-learn, which cost
# each trial process seconds of CPU.
_EXPORTS = {
    "get_trainable": "trainables.registry",
    "ARCHITECTURES": "trainables.spaces",
    "default_config": "trainables.spaces",
    "default_gpu_share": "trainables.spaces",
    "default_space": "trainables.spaces",
}
__all__ = ["ARCHITECTURES", "default_config", "default_gpu_share", "default_space", "get_trainable"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trainables' has no attribute {name!r}")
