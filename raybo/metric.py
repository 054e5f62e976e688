"""Reading the metric out of Tune's result dicts, and noticing a wrong metric name.

A result without the metric makes its trial a failure (warned). When the first
``MISSING_METRIC_LIMIT`` results all lack it, the name is almost surely wrong (``"loss"`` for a
trainable that reports ``"val_loss"``): ``MetricReader.check`` then raises with the keys the
results do have, instead of the searcher silently fitting nothing but failures.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

MISSING_METRIC_LIMIT = 3  # results in a row without the metric (and none with it) = a wrong key


def as_float(value: Any) -> float | None:
    """``value`` as a finite float; None for anything else (None, NaN, +-inf, a string)."""
    try:
        y = float(value)
    except (TypeError, ValueError):
        return None
    return y if math.isfinite(y) else None


@dataclass
class MetricReader:
    """What the completed results have shown about the metric so far.

    ``seen``: some result had the metric; ``keys_without_metric``: the sorted keys of each
    result that lacked it before then (the error message lists their union). Pickled with the
    searcher (Tune's ``tuner.pkl``); not part of its saved state, as a restored run starts
    counting again.
    """

    seen: bool = False
    keys_without_metric: list[list[str]] = field(default_factory=list)

    # the searcher's attributes that held both fields before this class
    OLD_ATTRIBUTES: ClassVar[tuple[str, str]] = ("_metric_seen", "_results_without_metric")

    @classmethod
    def from_attributes(cls, d: dict[str, Any]) -> MetricReader:
        """The reader of a searcher pickled (its ``__dict__`` ``d``) before this class; fresh
        if ``d`` has neither attribute."""
        seen, without = cls.OLD_ATTRIBUTES
        return cls(seen=d.get(seen, False), keys_without_metric=d.get(without, []))

    def value(self, result: dict[str, Any] | None, metric: str) -> float | None:
        """``result[metric]`` as a finite float, or None (failed): no result, a non-finite
        value, or no such key (warned, and counted until the metric has been seen once)."""
        if result is None or metric not in result:
            if result is not None:
                warnings.warn(f"GPSearch: metric {metric!r} missing from a trial result "
                              f"(keys: {sorted(map(str, result))[:10]}); the trial counts as "
                              "failed", stacklevel=2)
                if not self.seen:
                    self.keys_without_metric.append(sorted(map(str, result)))
            return None
        self.seen = True
        return as_float(result[metric])

    def check(self, metric: str) -> None:
        """After ``MISSING_METRIC_LIMIT`` results without the metric and none with it, the metric
        name is almost surely wrong: say so instead of silently fitting only failures."""
        if self.seen or len(self.keys_without_metric) < MISSING_METRIC_LIMIT:
            return
        keys = sorted({k for ks in self.keys_without_metric for k in ks})
        raise ValueError(
            f"metric {metric!r} is missing from all {len(self.keys_without_metric)} "
            f"trial results so far; the results have the keys {keys[:20]}. Pass one of them as "
            "metric to GPSearch or tune.run/TuneConfig")
