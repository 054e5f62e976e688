"""What every data loader returns: a ``TaskData`` and the reserved token ids of token tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # reserved ids of every token vocabulary
N_SPECIAL = 4  # real tokens (characters, words) start here


@dataclass
class TaskData:
    """One task: tensors plus the sizes a model needs (``meta``); shapes per ``kind`` are in
    :mod:`trainables.data`."""

    kind: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)
