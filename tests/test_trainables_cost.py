"""The cost metrics every trainable reports: ``n_params``, ``inference_ms``, ``peak_memory_mb``.

Oracles: ``n_params`` equals ``sum(p.numel())`` of the same model built independently from
the architecture's class; the latency is positive, finite and leaves the model's mode alone;
the CPU meter sees a 64 MiB tensor allocated after it started. The loop reporting them under
Tune is checked in test_trainables_loop.py (``metrics_for`` lists them).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainables.cost import MemoryMeter, inference_ms, n_params
from trainables.data import load_data
from trainables.loop import setup_trial
from trainables.metrics import METRICS
from trainables.models import CNN, RecurrentNet, Seq2Seq, TransformerSeq2Seq

CPU = torch.device("cpu")
SMALL = {"seq2seq": {"n_train": 50, "n_val": 20}, "transformer": {"n_train": 50, "n_val": 20}}


def _independent(arch: str, data) -> nn.Module:
    """The default model of ``arch`` built straight from its class (not via build_model)."""
    m = data.meta
    if arch == "cnn":
        return CNN(m["in_channels"], m["image_size"], m["n_classes"], channels=32, num_layers=2)
    if arch in ("rnn", "lstm", "gru"):
        if data.kind == "textcls":
            return RecurrentNet(arch, hidden=64, vocab_size=m["vocab_size"],
                                n_classes=m["n_classes"])
        return RecurrentNet(arch, hidden=64, input_size=m["in_channels"] * m["image_size"],
                            n_classes=m["n_classes"])
    if arch == "seq2seq":
        return Seq2Seq(m["src_vocab"], m["tgt_vocab"], embedding=32, hidden=64)
    return TransformerSeq2Seq(m["src_vocab"], m["tgt_vocab"], d_model=64, nhead=4, num_layers=2,
                              dim_feedforward=128)


@pytest.mark.parametrize(("arch", "data"), [
    ("cnn", None), ("rnn", None), ("lstm", None), ("gru", "reviews"), ("lstm", "reviews"),
    ("seq2seq", "reverse"), ("transformer", "reverse"),
])
def test_n_params_and_latency_of_every_default_model(arch, data):
    spec = {"name": data, **SMALL.get(arch, {})} if data else {}
    run = setup_trial({"data": spec} if spec else {}, arch, CPU)
    independent = _independent(arch, run.data)
    assert n_params(run.model) == sum(p.numel() for p in independent.parameters())
    run.model.train()
    ms = inference_ms(run.model, run.data, CPU)
    assert math.isfinite(ms) and ms > 0
    assert run.model.training  # mode restored


def test_cpu_memory_meter_sees_a_new_tensor():
    meter = MemoryMeter(CPU)
    block = torch.ones(16 * 2**20)  # 64 MiB, every page written
    meter.sample()
    del block
    assert 50 < meter.peak_mb() < 1024
    assert meter.peak_mb() >= 50  # a peak: freeing the tensor does not lower it


def test_the_cost_metrics_are_minimized_by_default():
    assert {m: METRICS[m] for m in ("n_params", "inference_ms", "peak_memory_mb")} == {
        "n_params": "min", "inference_ms": "min", "peak_memory_mb": "min"}
    assert load_data({"name": "reviews"}).kind == "textcls"
