"""Named Tune function trainables, one per architecture, all running the shared loop.

Tune names a function trainable after ``__name__``, so each architecture gets a real
module-level function (``train_cnn`` ...) rather than a ``functools.partial``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainables.loop import train
from trainables.spaces import ARCHITECTURES


def train_cnn(config: dict[str, Any]) -> None:
    """CNN on image data (default: digits)."""
    train(config, "cnn")


def train_rnn(config: dict[str, Any]) -> None:
    """Elman RNN over image rows, or a character language model."""
    train(config, "rnn")


def train_lstm(config: dict[str, Any]) -> None:
    """LSTM over image rows, or a character language model."""
    train(config, "lstm")


def train_gru(config: dict[str, Any]) -> None:
    """GRU over image rows, or a character language model."""
    train(config, "gru")


def train_seq2seq(config: dict[str, Any]) -> None:
    """Attention encoder-decoder on a seq2seq task (default: generated reverse-and-shift)."""
    train(config, "seq2seq")


def train_transformer(config: dict[str, Any]) -> None:
    """``nn.Transformer`` encoder-decoder on a seq2seq task."""
    train(config, "transformer")


_TRAINABLES: dict[str, Callable[[dict[str, Any]], None]] = {
    "cnn": train_cnn,
    "rnn": train_rnn,
    "lstm": train_lstm,
    "gru": train_gru,
    "seq2seq": train_seq2seq,
    "transformer": train_transformer,
}
assert tuple(_TRAINABLES) == ARCHITECTURES


def get_trainable(arch: str) -> Callable[[dict[str, Any]], None]:
    """The Tune function trainable for ``arch`` (one of :data:`ARCHITECTURES`)."""
    if arch not in _TRAINABLES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; got {arch!r}")
    return _TRAINABLES[arch]
