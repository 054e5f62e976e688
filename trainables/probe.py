"""Placement probe: a Tune trainable that reports where it ran and a cheap objective.

It exists to check scale-out, not to learn anything: each trial reports the Ray node
and GPU ids it was given, the torch device it chose, and wall-clock start/end times
(seconds since the epoch) so that concurrency per node and per GPU can be computed
from the results alone. The objective is a smooth function of ``x`` and ``y`` so a
searcher has something to optimize.

Config keys:
    x, y        floats, nominally in [-2, 2]
    duration_s  total seconds the trial sleeps (default 2.0), split over ``steps``
    steps       number of results reported (default 1); one per sleep slice

Reported keys (every step): loss, step, node_id, gpu_ids (Ray's ids, as str), gpu_share
(GPU fraction granted), cuda_visible_devices, device ("cpu" or "cuda"), start_time,
end_time (the time of that report).
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray
import torch
from ray import tune

from trainables.device import choose_device

DEFAULT_DURATION_S = 2.0  # long enough for trials to overlap, short enough for tests


def probe_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Smooth objective with its minimum 0 at (x, y) = (0.5, -0.25) and a mild ripple."""
    dx, dy = x - 0.5, y + 0.25
    return dx * dx + 2.0 * dy * dy + 0.1 * (1.0 - torch.cos(3.0 * dx))


def placement_probe(config: dict[str, Any]) -> None:
    """Tune function trainable; see the module docstring for config and result keys."""
    start_time = time.time()
    steps = int(config.get("steps", 1))
    if steps < 1:
        raise ValueError(f"config['steps'] must be an integer >= 1, got {steps!r}")
    duration_s = float(config.get("duration_s", DEFAULT_DURATION_S))
    if duration_s < 0:
        raise ValueError(f"config['duration_s'] must be >= 0 seconds, got {duration_s!r}")

    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    gpu_share = float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    # CUDA only if Ray granted a GPU *and* torch sees one: fake GPUs set CUDA_VISIBLE_DEVICES.
    device = torch.device(choose_device(gpu_ids, torch.cuda.is_available(), gpu_share)[0])
    node_id = ray.get_runtime_context().get_node_id()
    x = torch.tensor(float(config["x"]), dtype=torch.float64, device=device)
    y = torch.tensor(float(config["y"]), dtype=torch.float64, device=device)
    # Computed on the chosen device so that a wrong device choice fails loudly here.
    loss = float(probe_loss(x, y).cpu())

    for step in range(1, steps + 1):
        time.sleep(duration_s / steps)
        tune.report(
            {
                "loss": loss,
                "step": step,
                "node_id": node_id,
                "gpu_ids": gpu_ids,
                "gpu_share": gpu_share,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                "device": str(device),
                "start_time": start_time,
                "end_time": time.time(),
            }
        )
