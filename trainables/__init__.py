"""PyTorch Ray Tune trainables for six architectures, with default search spaces.

>>> from ray import tune
>>> from trainables import get_trainable, default_space
>>> tune.Tuner(get_trainable("cnn"), param_space=default_space("cnn", epochs=3))
"""

from __future__ import annotations

from trainables.registry import get_trainable
from trainables.spaces import ARCHITECTURES, default_config, default_gpu_share, default_space

__all__ = ["ARCHITECTURES", "default_config", "default_gpu_share", "default_space", "get_trainable"]
