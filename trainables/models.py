"""The six architectures, sized for seconds-per-epoch CPU training.

Shapes (B = batch, T = target length, S = source length, V = vocabulary):

- ``CNN``:            ``(B, C, H, W)`` float -> logits ``(B, n_classes)``.
- ``RecurrentNet``:   images read as H row-steps ``(B, C, H, W)`` -> ``(B, n_classes)``,
                      char ids ``(B, T)`` -> next-char logits ``(B, T, V)`` (language model),
                      or right-padded word ids ``(B, T)`` -> ``(B, n_classes)`` (sentence
                      classifier: embedding, recurrent encoder, head on the state after the
                      last real word).
- ``Seq2Seq``:        RNN encoder-decoder with attention; ``(src (B, S), tgt_in (B, T))`` ->
                      ``(B, T, V)`` (teacher forcing; Luong-style, attention after the decoder).
- ``TransformerSeq2Seq``: ``torch.nn.Transformer``; same call and output as ``Seq2Seq``.

``build_model(arch, model_cfg, meta)`` builds one from a config dict and the data's sizes.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import nn

from trainables.data import PAD

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU}
RNN_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
MAX_POSITIONS = 512  # longest sequence the transformer's learned positions cover
# nn.Transformer's encoder takes a prototype nested-tensor fast path in eval mode with padding
# masks and warns about it on every call; the results are the same.
warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"model activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class CNN(nn.Module):
    """Conv blocks (conv, batch norm, activation, 2x2 pool while the map is > 2 wide)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        n_classes: int,
        channels: int = 32,
        num_layers: int = 2,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size, c_in = image_size, in_channels
        for _ in range(num_layers):
            layers += [
                nn.Conv2d(c_in, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                _activation(activation),
            ]
            if size > 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            c_in = channels
        if size > 4:  # cap the head's input on large images (CIFAR with one layer)
            layers.append(nn.AdaptiveAvgPool2d(4))
            size = 4
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * size * size, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RecurrentNet(nn.Module):
    """RNN/LSTM/GRU over image rows (``input_size`` and ``n_classes``), a character language
    model (``vocab_size`` only) or a sentence classifier (``vocab_size`` and ``n_classes``)."""

    def __init__(
        self,
        cell: str,
        hidden: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        activation: str = "tanh",
        input_size: int | None = None,
        n_classes: int | None = None,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        if cell not in RNN_CELLS:
            raise ValueError(f"cell must be one of {sorted(RNN_CELLS)}, got {cell!r}")
        if (vocab_size is None) == (input_size is None):
            raise ValueError("give exactly one of input_size (classifier) or vocab_size (LM)")
        self.tokens = vocab_size is not None
        self.lm = self.tokens and n_classes is None
        pad = None if self.lm else PAD  # LM ids never include PAD
        self.embed = nn.Embedding(vocab_size, hidden, padding_idx=pad) if self.tokens else None
        kwargs: dict[str, Any] = {"batch_first": True, "num_layers": num_layers}
        kwargs["dropout"] = dropout if num_layers > 1 else 0.0  # inter-layer only
        if cell == "rnn":
            if activation not in ("tanh", "relu"):
                raise ValueError(f"rnn activation must be 'tanh' or 'relu', got {activation!r}")
            kwargs["nonlinearity"] = activation
        self.rnn = RNN_CELLS[cell](hidden if self.tokens else input_size, hidden, **kwargs)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size if self.lm else n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lm:
            out, _ = self.rnn(self.embed(x))
            return self.head(self.drop(out))
        if self.tokens:  # right padding: the state after the last real word ignores the PADs
            out, _ = self.rnn(self.drop(self.embed(x)))
            last = ((x != PAD).sum(1) - 1).clamp(min=0)
            return self.head(self.drop(out[torch.arange(len(x), device=x.device), last]))
        b, c, h, w = x.shape
        rows = x.permute(0, 2, 1, 3).reshape(b, h, c * w)  # H steps of C*W features
        out, _ = self.rnn(rows)
        return self.head(self.drop(out[:, -1]))


class Attention(nn.Module):
    """Scores decoder states ``q (B, T, H)`` against encoder states ``k (B, S, H)``."""

    def __init__(self, hidden: int, kind: str) -> None:
        super().__init__()
        if kind not in ("additive", "dot"):
            raise ValueError(f"attention must be 'additive' or 'dot', got {kind!r}")
        self.kind = kind
        if kind == "additive":  # Bahdanau et al. 2015
            self.w_q = nn.Linear(hidden, hidden, bias=False)
            self.w_k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, q: torch.Tensor, k: torch.Tensor, key_pad: torch.Tensor) -> torch.Tensor:
        """Context vectors ``(B, T, H)``; ``key_pad (B, S)`` is True at padding."""
        if self.kind == "dot":  # Luong et al. 2015, scaled as in Vaswani et al. 2017
            scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        else:
            scores = self.v(torch.tanh(self.w_q(q)[:, :, None] + self.w_k(k)[:, None])).squeeze(-1)
        scores = scores.masked_fill(key_pad[:, None, :], float("-inf"))
        return torch.softmax(scores, dim=-1) @ k


class Seq2Seq(nn.Module):
    """GRU/LSTM encoder-decoder; the decoder attends to all encoder states."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        cell: str = "gru",
        attention: str = "additive",
        embedding: int = 32,
        hidden: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"seq2seq cell must be 'gru' or 'lstm', got {cell!r}")
        rnn = RNN_CELLS[cell]
        inner = dropout if num_layers > 1 else 0.0
        self.src_embed = nn.Embedding(src_vocab, embedding, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, embedding, padding_idx=PAD)
        self.encoder = rnn(embedding, hidden, num_layers, batch_first=True, dropout=inner)
        self.decoder = rnn(embedding, hidden, num_layers, batch_first=True, dropout=inner)
        self.attention = Attention(hidden, attention)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        enc, state = self.encoder(self.drop(self.src_embed(src)))
        dec, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)
        ctx = self.attention(dec, enc, src == PAD)
        return self.out(self.drop(torch.tanh(self.combine(torch.cat([dec, ctx], dim=-1)))))


class TransformerSeq2Seq(nn.Module):
    """``nn.Transformer`` encoder-decoder with learned positions and padding masks."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
        if activation not in ("relu", "gelu"):
            raise ValueError(f"transformer activation must be 'relu' or 'gelu', got {activation!r}")
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        self.pos = nn.Embedding(MAX_POSITIONS, d_model)
        self.transformer = nn.Transformer(
            d_model,
            nhead,
            num_encoder_layers=num_layers,
            num_decoder_layers=num_layers,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            batch_first=True,
        )
        self.out = nn.Linear(d_model, tgt_vocab)

    def _embed(self, emb: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        return emb(ids) * math.sqrt(self.d_model) + self.pos(pos)[None]

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(
            tgt_in.shape[1], device=tgt_in.device, dtype=torch.bool
        )
        src_pad = src == PAD
        h = self.transformer(
            self._embed(self.src_embed, src),
            self._embed(self.tgt_embed, tgt_in),
            tgt_mask=causal,
            src_key_padding_mask=src_pad,
            tgt_key_padding_mask=tgt_in == PAD,
            memory_key_padding_mask=src_pad,
        )
        return self.out(h)


def build_model(arch: str, cfg: dict[str, Any], meta: dict[str, Any], kind: str) -> nn.Module:
    """Model for ``arch`` from the ``config["model"]`` dict and the data's ``meta``/``kind``."""
    cfg = dict(cfg)
    if arch == "cnn":
        _expect(arch, kind, "image")
        return CNN(meta["in_channels"], meta["image_size"], meta["n_classes"], **cfg)
    if arch in RNN_CELLS:
        if kind == "lm":
            return RecurrentNet(arch, vocab_size=meta["vocab_size"], **cfg)
        if kind == "textcls":
            return RecurrentNet(arch, vocab_size=meta["vocab_size"], n_classes=meta["n_classes"],
                                **cfg)
        _expect(arch, kind, "image")
        in_size = meta["in_channels"] * meta["image_size"]
        return RecurrentNet(arch, input_size=in_size, n_classes=meta["n_classes"], **cfg)
    if arch == "seq2seq":
        _expect(arch, kind, "seq2seq")
        return Seq2Seq(meta["src_vocab"], meta["tgt_vocab"], **cfg)
    if arch == "transformer":
        _expect(arch, kind, "seq2seq")
        return TransformerSeq2Seq(meta["src_vocab"], meta["tgt_vocab"], **cfg)
    raise ValueError(f"arch must be one of cnn, rnn, lstm, gru, seq2seq, transformer; got {arch!r}")


def _expect(arch: str, kind: str, wanted: str) -> None:
    if kind != wanted:
        raise ValueError(f"arch {arch!r} needs {wanted!r} data, got a {kind!r} data set")
