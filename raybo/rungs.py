"""Which reports of a learning curve to keep, and the level a running trial is heading to.

Torch-free, so ``state.py`` can thin a trial's reports as they arrive. A trial that reports every
epoch keeps the first report at or beyond each geometric rung 1, 2, 4, 8, ... (``RUNG_BASE``)
plus its latest one: ``ceil(log2 t) + 2`` reports at most after ``t`` epochs. Thinning is
idempotent, so re-thinning after each new report keeps exactly the same set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RUNG_BASE = 2.0  # reports kept at the first level >= 1, 2, 4, ... resource units (and the last)


def rung_indices(t: Sequence[float]) -> np.ndarray:
    """Indices of the reports a trial keeps, for its resource levels ``t: (k,)`` in report
    order: the first report at or beyond each of 1, 2, 4, ... (``RUNG_BASE``) and the last."""
    t = np.asarray(t, dtype=float)
    if t.size == 0:
        return np.zeros(0, dtype=int)
    keep, next_rung = [], 1.0
    for i, ti in enumerate(t):
        if ti >= next_rung:
            keep.append(i)
            while next_rung <= ti:
                next_rung *= RUNG_BASE
    if keep[-1:] != [t.size - 1]:
        keep.append(t.size - 1)
    return np.asarray(keep, dtype=int)


def next_level(t_last: float | None, t_max: float) -> float:
    """The level a running trial is fantasized at: the next geometric rung above its last
    report (1 if it has none), capped at ``t_max`` -- the information its next kept report
    will bring."""
    if t_last is None or t_last < 1:
        return min(1.0, t_max)
    return min(RUNG_BASE ** (math.floor(math.log(t_last, RUNG_BASE) + 1e-9) + 1), t_max)
