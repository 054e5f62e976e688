"""Shapes, masking and causality of the six architectures; build_model's input checks."""

from __future__ import annotations

import pytest
import torch

from trainables.data import PAD
from trainables.models import CNN, RecurrentNet, Seq2Seq, TransformerSeq2Seq, build_model
from trainables.spaces import default_config

IMAGE_META = {"in_channels": 1, "image_size": 8, "n_classes": 10}
SEQ_META = {"src_vocab": 16, "tgt_vocab": 16}


@pytest.mark.parametrize(
    ("arch", "kind", "meta", "inputs", "out_shape"),
    [
        ("cnn", "image", IMAGE_META, (torch.randn(5, 1, 8, 8),), (5, 10)),
        ("rnn", "image", IMAGE_META, (torch.randn(5, 1, 8, 8),), (5, 10)),
        ("lstm", "image", IMAGE_META, (torch.randn(5, 1, 8, 8),), (5, 10)),
        ("gru", "lm", {"vocab_size": 30}, (torch.randint(0, 30, (5, 12)),), (5, 12, 30)),
        (
            "seq2seq",
            "seq2seq",
            SEQ_META,
            (torch.randint(4, 16, (5, 7)), torch.randint(4, 16, (5, 9))),
            (5, 9, 16),
        ),
        (
            "transformer",
            "seq2seq",
            SEQ_META,
            (torch.randint(4, 16, (5, 7)), torch.randint(4, 16, (5, 9))),
            (5, 9, 16),
        ),
    ],
)
def test_default_models_output_shapes(arch, kind, meta, inputs, out_shape):
    model = build_model(arch, default_config(arch)["model"], meta, kind)
    assert model(*inputs).shape == out_shape


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("size", "channels"), [(8, 1), (28, 1), (32, 3)])
def test_cnn_handles_image_sizes_and_depths(size, channels, num_layers):
    model = CNN(channels, size, 10, channels=8, num_layers=num_layers)
    assert model(torch.randn(2, channels, size, size)).shape == (2, 10)


@pytest.mark.parametrize("attention", ["additive", "dot"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seq2seq_ignores_source_padding(cell, attention):
    torch.manual_seed(0)
    model = Seq2Seq(16, 16, cell=cell, attention=attention).eval()
    src, tgt = torch.randint(4, 16, (3, 5)), torch.randint(4, 16, (3, 6))
    padded = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    # The encoder runs over the padding, so only the attention part is padding-free: check that
    # padded keys receive zero weight by comparing to attention over the unpadded prefix.
    enc, _ = model.encoder(model.src_embed(padded))
    q = torch.randn(3, 6, 64)
    full = model.attention(q, enc, padded == PAD)
    prefix = model.attention(q, enc[:, :5], src == PAD)
    torch.testing.assert_close(full, prefix)
    assert model(padded, tgt).shape == (3, 6, 16)


def test_transformer_is_causal_and_ignores_source_padding():
    torch.manual_seed(0)
    model = TransformerSeq2Seq(16, 16, d_model=32, nhead=2, num_layers=1, dropout=0.0).eval()
    src, tgt = torch.randint(4, 16, (2, 5)), torch.randint(4, 16, (2, 6))
    out = model(src, tgt)
    changed = tgt.clone()
    changed[:, 4:] = (changed[:, 4:] + 1 - 4) % 12 + 4  # alter only the future tokens
    torch.testing.assert_close(model(src, changed)[:, :4], out[:, :4])
    padded = torch.cat([src, torch.full((2, 3), PAD)], dim=1)
    torch.testing.assert_close(model(padded, tgt), out, atol=1e-5, rtol=1e-5)


def test_rnn_relu_activation_and_lm_mode():
    model = RecurrentNet("rnn", hidden=8, activation="relu", vocab_size=20)
    assert model.rnn.nonlinearity == "relu"
    assert model(torch.randint(0, 20, (2, 4))).shape == (2, 4, 20)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_model("mlp", {}, IMAGE_META, "image"), "arch must be one of"),
        (lambda: build_model("cnn", {}, SEQ_META, "seq2seq"), "needs 'image' data"),
        (lambda: build_model("transformer", {}, IMAGE_META, "image"), "needs 'seq2seq' data"),
        (lambda: CNN(1, 8, 10, activation="swish"), "activation must be one of"),
        (lambda: RecurrentNet("rnn", activation="gelu", input_size=8, n_classes=2), "tanh"),
        (lambda: RecurrentNet("gru"), "exactly one of"),
        (lambda: Seq2Seq(8, 8, attention="cosine"), "attention must be"),
        (lambda: Seq2Seq(8, 8, cell="rnn"), "cell must be"),
        (lambda: TransformerSeq2Seq(8, 8, d_model=30, nhead=4), "divisible by nhead"),
    ],
)
def test_bad_model_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()

