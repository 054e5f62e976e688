"""What a trained model costs, reported every epoch next to its losses: ``n_params``,
``inference_ms`` and ``peak_memory_mb``.

- ``n_params``: trainable and frozen parameters, ``sum(p.numel())``.
- ``inference_ms``: median wall time, in milliseconds, of one forward pass on a single
  validation example (batch of 1, eval mode, no gradients) on the trial's device, over the
  first ``INFERENCE_EXAMPLES`` validation examples after one warm-up pass; CUDA is
  synchronized around each pass. Seq2seq models are timed on their teacher-forced call
  ``model(src, tgt_in)``, language models on one full-length sequence.
- ``peak_memory_mb``: on CUDA, ``torch.cuda.max_memory_allocated`` since the trial started
  (tensors only, not the allocator's cache or the CUDA context); on CPU, the growth of the
  process's resident set size (RSS) since the trial started, sampled after every training
  batch and every evaluation -- data, model, optimizer state and activations. With Tune's
  ``reuse_actors`` a later trial in the same process can reuse memory an earlier one freed,
  so CPU figures are lower bounds there. MiB (2**20 bytes).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

import torch
from torch import nn

from trainables.task import TaskData

INFERENCE_EXAMPLES = 16  # timed passes per epoch; the median is stable at this count
MIB = 2.0**20
_STATM = "/proc/self/statm"


def rss_bytes() -> int:
    """The process's resident set size now (Linux ``/proc``); elsewhere its peak so far
    (``getrusage``: KiB on Linux, bytes on macOS)."""
    try:
        with open(_STATM) as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def n_params(model: nn.Module) -> int:
    """Number of parameters (every element of every parameter tensor)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def inference_ms(model: nn.Module, data: TaskData, device: torch.device,
                 n: int = INFERENCE_EXAMPLES) -> float:
    """Median per-example forward latency in ms (see the module docstring); restores the
    model's train/eval mode."""
    was_training = model.training
    model.eval()
    cuda = device.type == "cuda"
    times = []
    for i in range(-1, min(n, len(data.x_val))):  # i = -1: the warm-up pass, not timed
        x = data.x_val[max(i, 0) : max(i, 0) + 1].to(device)
        y = data.y_val[max(i, 0) : max(i, 0) + 1].to(device)
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model(x, y[:, :-1]) if data.kind == "seq2seq" else model(x)
        if cuda:
            torch.cuda.synchronize(device)
        if i >= 0:
            times.append(time.perf_counter() - start)
    model.train(was_training)
    return 1000.0 * statistics.median(times)


class MemoryMeter:
    """Peak memory of one trial in MiB: CUDA peak allocation, or CPU RSS growth (see the
    module docstring). Create it before the trial loads anything; ``sample()`` often."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device
        self._base = rss_bytes()
        self._peak = self._base
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)

    def sample(self) -> None:
        if not self.cuda:
            self._peak = max(self._peak, rss_bytes())

    def peak_mb(self) -> float:
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device) / MIB
        self.sample()
        return (self._peak - self._base) / MIB
