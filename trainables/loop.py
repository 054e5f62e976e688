"""The one training loop shared by all architectures: epochs, reports, checkpoints, resume.

``train(config, arch)`` runs inside a Ray Tune trial. Every epoch it calls ``tune.report``
with ``epoch`` (completed epochs, 1-based), ``train_loss``, ``val_loss`` (mean cross-entropy
per example or per target token), ``val_accuracy`` (per example or per token), token tasks
also ``val_perplexity``, plus ``device`` and the model's cost: ``n_params``, ``inference_ms``
and ``peak_memory_mb`` (defined in :mod:`trainables.cost`). The checkpoint holds model,
optimizer, AMP scaler, epoch and every RNG state, so a restored trial continues exactly where it
stopped.

The loss is the cross-entropy over every example (images: class 0 is a real digit) or every
target token; only seq2seq targets carry padding (``PAD``), which is left out of loss and
accuracy. ``setup_trial`` builds a trial's objects outside Tune too (tests use it).

A non-finite training loss ends the trial after one report with NaN losses: the searcher sees
a failed point while the other trials and the experiment carry on.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import tune
from torch import nn

from trainables.cost import MemoryMeter, inference_ms, n_params
from trainables.data import PAD, TaskData, load_data
from trainables.device import setup_device
from trainables.metrics import metrics_for
from trainables.models import build_model
from trainables.spaces import default_config

GRAD_CLIP_NORM = 5.0  # recurrent nets explode at high learning rates without it
EVAL_BATCH = 512
STATE_FILE = "state.pt"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins; neither input is modified."""
    out = copy.deepcopy(base)
    for key, val in override.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(params: Any, cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """Optimizer from ``config["optim"]``: lr, weight_decay and ``method`` (``{"name", "momentum"
    (sgd, rmsprop only)}``, see ``trainables.spaces``); ``name``/``momentum`` directly in ``optim``
    (configs written before ``method``) are read too. Momentum when absent: 0.9 for SGD, 0 for
    RMSprop (PyTorch's default)."""
    method = {**{k: cfg[k] for k in ("name", "momentum") if k in cfg}, **cfg.get("method", {})}
    name, lr, wd = method.get("name", "adam"), float(cfg["lr"]), float(cfg.get("weight_decay", 0))
    if name == "sgd":
        momentum = float(method.get("momentum", 0.9))
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        momentum = float(method.get("momentum", 0.0))
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, momentum=momentum)
    raise ValueError(f"optim name must be one of sgd, adam, rmsprop, adamw; got {name!r}")


def _loss_and_hits(
    model: nn.Module, kind: str, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, int, int]:
    """Mean loss over the batch, number of correct predictions, number of predictions."""
    if kind == "seq2seq":
        x = model(x, y[:, :-1])
        y = y[:, 1:]  # teacher forcing: predict each next target token
    else:
        x = model(x)
    logits, target = x.reshape(-1, x.shape[-1]), y.reshape(-1)
    if kind == "seq2seq":  # targets are right-padded with PAD: those positions are not tokens
        keep = target != PAD
        loss = nn.functional.cross_entropy(logits.float(), target, ignore_index=PAD)
    else:  # every target is real: class 0 is a digit/image class, LM ids start at N_SPECIAL
        keep = torch.ones_like(target, dtype=torch.bool)
        loss = nn.functional.cross_entropy(logits.float(), target)
    hits = ((logits.argmax(-1) == target) & keep).sum().item()
    return loss, int(hits), int(keep.sum().item())


def train_epoch(
    model: nn.Module,
    data: TaskData,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    batch_size: int,
    gen: torch.Generator,
    device: torch.device,
    on_batch: Callable[[], None] | None = None,
) -> float:
    """One pass over the shuffled training set; mean loss, or NaN as soon as it diverges.
    ``on_batch`` is called after every optimizer step (the memory meter samples there)."""
    model.train()
    amp = device.type == "cuda"
    total, count = 0.0, 0
    order = torch.randperm(len(data.x_train), generator=gen)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        x, y = data.x_train[idx].to(device), data.y_train[idx].to(device)
        ctx = torch.autocast("cuda", dtype=torch.float16) if amp else contextlib.nullcontext()
        with ctx:
            loss, _, n = _loss_and_hits(model, data.kind, x, y)
        if not torch.isfinite(loss):
            return float("nan")
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP_NORM)
        scaler.step(opt)
        scaler.update()
        total, count = total + loss.item() * n, count + n
        if on_batch is not None:
            on_batch()
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model: nn.Module, data: TaskData, device: torch.device) -> tuple[float, float]:
    """Validation ``(mean loss, accuracy)`` per example (images) or per target token."""
    model.eval()
    total, hits, count = 0.0, 0, 0
    for start in range(0, len(data.x_val), EVAL_BATCH):
        x = data.x_val[start : start + EVAL_BATCH].to(device)
        y = data.y_val[start : start + EVAL_BATCH].to(device)
        loss, h, n = _loss_and_hits(model, data.kind, x, y)
        total, hits, count = total + loss.item() * n, hits + h, count + n
    return total / max(count, 1), hits / max(count, 1)


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "random": random.getstate(),
        "shuffle": gen.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    gen.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _maybe_fail(cfg: dict[str, Any], epoch: int) -> None:
    """Test hook: raise once at ``fail_at_epoch`` (0-based), remembered by a marker file."""
    if cfg.get("fail_at_epoch") is None or epoch != int(cfg["fail_at_epoch"]):
        return
    if not cfg.get("fail_marker"):
        raise ValueError("config 'fail_at_epoch' needs 'fail_marker' (a file path)")
    marker = Path(cfg["fail_marker"])
    if not marker.exists():
        marker.write_text(str(epoch))
        raise RuntimeError(f"injected failure at epoch {epoch}")


@dataclass
class TrialSetup:
    """Everything one trial trains: merged config, data, model, optimizer, AMP scaler and the
    generator that shuffles batches."""

    cfg: dict[str, Any]
    data: TaskData
    model: nn.Module
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    gen: torch.Generator


def setup_trial(config: dict[str, Any], arch: str, device: torch.device) -> TrialSetup:
    """Merge ``config`` over the defaults, seed every RNG and build the trial's objects.

    ``train`` runs exactly this inside Tune; tests call it directly with ``train_epoch`` and
    ``evaluate`` to check what the models learn without starting Ray.
    """
    cfg = merge(default_config(arch), config)
    seed_everything(int(cfg["seed"]))
    data = load_data(cfg["data"])
    model = build_model(arch, cfg["model"], data.meta, data.kind).to(device)
    opt = build_optimizer(model.parameters(), cfg["optim"])
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    gen = torch.Generator().manual_seed(int(cfg["seed"]))
    return TrialSetup(cfg, data, model, opt, scaler, gen)


def train(config: dict[str, Any], arch: str) -> None:
    """Tune function trainable body for ``arch``; ``config`` is merged over the defaults."""
    device, dev_info = setup_device()
    meter = MemoryMeter(device)  # before the data and model exist: their memory counts
    run = setup_trial(config, arch, device)
    cfg, data, model, opt, scaler, gen = run.cfg, run.data, run.model, run.opt, run.scaler, run.gen
    batch_size = int(cfg["optim"]["batch_size"])
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / STATE_FILE, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], gen)
        start = int(state["epoch"])
    for epoch in range(start, int(cfg["epochs"])):
        _maybe_fail(cfg, epoch)
        train_loss = train_epoch(model, data, opt, scaler, batch_size, gen, device,
                                 on_batch=meter.sample)
        metrics: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, **dev_info,
                                   "n_params": n_params(model),
                                   "inference_ms": inference_ms(model, data, device)}
        if not math.isfinite(train_loss):  # every other metric of metrics_for(kind) is NaN
            nan = {m: float("nan") for m in metrics_for(data.kind) if m not in metrics}
            tune.report({**metrics, **nan, "peak_memory_mb": meter.peak_mb(), "diverged": True})
            return
        val_loss, val_acc = evaluate(model, data, device)
        metrics["peak_memory_mb"] = meter.peak_mb()
        metrics.update(val_loss=val_loss, val_accuracy=val_acc, diverged=False)
        if "val_perplexity" in metrics_for(data.kind):
            metrics["val_perplexity"] = math.exp(min(val_loss, 50.0))
        with tempfile.TemporaryDirectory() as d:
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": _rng_state(gen),
                "epoch": epoch + 1,
            }
            torch.save(state, Path(d) / STATE_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
