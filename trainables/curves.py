"""A synthetic learning-curve trainable for scheduler (ASHA, HyperBand) integration tests.

It trains nothing: after ``t`` epochs it reports ``loss = (x - 0.2)^2 + 1 / (1 + t / tau(x))``,
where ``x`` near 0.2 has the lowest asymptote but converges slowest (``tau`` up to 8.5 epochs,
0.5 far from it), so curves cross. It checkpoints its epoch, so a paused or restored trial
resumes where it stopped. It lives in the installed package because Ray workers import it.

Config: ``x`` in [0, 1] (searched), ``epochs`` (default 9), ``sleep_s`` per epoch (default 0).
Reported per epoch: ``loss``, ``epoch``, ``final`` (the loss this trial will have at ``epochs``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from ray import tune


def curve_loss(x: float, t: float, epochs: int) -> float:
    """Loss after ``t`` epochs (``epochs`` only bounds ``t``)."""
    tau = 0.5 + 8.0 * max(0.0, 1.0 - abs(x - 0.2) * 3)  # slow near the optimum, fast elsewhere
    return (x - 0.2) ** 2 + 1.0 / (1.0 + min(t, epochs) / tau)


def curve_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable; see the module docstring."""
    epochs = int(config.get("epochs", 9))
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "epoch.json")) as f:
                start = json.load(f)["epoch"]
    for t in range(start + 1, epochs + 1):
        time.sleep(float(config.get("sleep_s", 0.0)))
        result = {"loss": curve_loss(float(config["x"]), t, epochs), "epoch": t,
                  "final": curve_loss(float(config["x"]), epochs, epochs)}
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "epoch.json"), "w") as f:
                json.dump({"epoch": t}, f)
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(d))
