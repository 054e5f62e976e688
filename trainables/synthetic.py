"""A cheap synthetic Tune trainable for integration tests and the benchmarks' ``--tune`` mode.

It scores any (nested) config without training anything, so tests exercise the Tune <-> GPSearch
loop, not PyTorch. Functions shipped to Ray workers must be importable there, hence it lives in
the installed package rather than in a test module.

Config keys it understands (all optional besides the searched numbers):
    fault       "none" | "nan" | "inf" | "error" | "missing": what the trial does wrong
    sleep_s     seconds to sleep before reporting, so trials overlap (default 0.5)
    steps       results to report (default 1); the loss is the same at every step
    act         a callable class (e.g. ``torch.nn.ReLU``): its name is reported, proving that
                Tune's placeholders for non-primitive categories were resolved
    barrier     {"dir": path, "n": n, "timeout_s": s}: each trial drops a file in ``dir`` and
                waits (at most ``timeout_s``) until ``n`` files exist, so the first ``n``
                trials provably run at the same time when the scheduler allows it
Reported: ``loss`` (lower is better; NaN/inf/absent on faults), ``start_time``, ``end_time``,
``pid``, ``act_name``, ``peers`` (trials at the barrier when this one passed it).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from ray import tune

CONTROL_KEYS = {"fault", "sleep_s", "steps", "act", "barrier"}


def synthetic_loss(config: dict[str, Any]) -> float:
    """Sum over numeric leaves of a bowl around 0.3 on a log scale for positive values spanning
    decades, plus 1 per string leaf other than its first letter 'b' (so categories matter)."""
    total = 0.0
    for key, value in config.items():
        if key in CONTROL_KEYS:
            continue
        if isinstance(value, dict):
            total += synthetic_loss(value)
        elif isinstance(value, bool) or value is None:
            total += 0.0 if value else 0.5
        elif isinstance(value, (int, float)):
            v = float(value)
            total += (math.log10(v) + 3) ** 2 / 10 if key.startswith("log") and v > 0 else (
                (v - 0.3) ** 2 / (1 + abs(v)))
        elif isinstance(value, str):
            total += 0.0 if value.startswith("b") else 1.0
    return total


def synthetic_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable; see the module docstring."""
    start = time.time()
    peers = _wait_for_peers(**config["barrier"]) if "barrier" in config else 1
    time.sleep(float(config.get("sleep_s", 0.5)))
    fault = config.get("fault", "none")
    if fault == "error":
        raise RuntimeError("synthetic trial failure (fault='error')")
    loss = {"nan": math.nan, "inf": math.inf}.get(fault, synthetic_loss(config))
    act = config.get("act")
    for step in range(int(config.get("steps", 1))):
        result = {"step": step, "start_time": start, "end_time": time.time(), "pid": os.getpid(),
                  "act_name": getattr(act, "__name__", str(act)), "peers": peers}
        if fault != "missing":
            result["loss"] = loss
        tune.report(result)


def _wait_for_peers(dir: str, n: int, timeout_s: float = 60.0) -> int:
    """Returns how many trials had arrived at the barrier when this one left it."""
    os.makedirs(dir, exist_ok=True)
    with open(os.path.join(dir, f"{os.getpid()}-{time.time_ns()}"), "w"):
        pass
    deadline = time.time() + timeout_s
    while len(os.listdir(dir)) < n and time.time() < deadline:
        time.sleep(0.05)
    return len(os.listdir(dir))
