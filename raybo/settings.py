"""``Settings``: GPSearch's validated options, one plain-data object saved with the searcher.

Every field is checked when the object is built (bad input fails before any trial runs, naming
the argument), and ``to_dict``/``from_dict`` give the exact saved form, so the searcher's state
lists no option by hand.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from raybo.options import EngineOptions
from raybo.outcomes import Outcomes, first, outcomes_from

_NO_STRICT_CHECK = "TUNE_DISABLE_STRICT_METRIC_CHECKING"
# What Ray Tune 2.60 does with metric lists (README, "Several metrics and limits").
TUNE_METRIC_LIST = (
    "GPSearch: Ray Tune 2.60 cannot run with a metric list in tune.run/TuneConfig: it refuses a "
    "mode list, and with a single mode its result check fails on the first result (TypeError: "
    f"unhashable type: 'list') unless {_NO_STRICT_CHECK}=1 is set (then ResultGrid."
    "get_best_result still fails; use raybo.pareto_front). Give metric=[...] and mode=[...] to "
    "GPSearch instead and leave Tune's metric unset, or set it to one of them")
ACQUISITION_NAMES = ("logei", "ei", "pi", "ucb")
MODES = ("min", "max")


@dataclass(frozen=True)
class Settings:
    """Options of one GPSearch.

    ``metric``/``mode``: what to optimize (None until given here or by Tune); ``acquisition``;
    ``n_initial``: results gathered before the GP is used (None: the default size, see
    ``design.design_size``); ``seed``; ``max_concurrent``: most trials pending at once (None: no
    limit); ``budget``: Tune's ``num_samples`` when Tune passed it; ``engine``: the engine's
    tuning constants (``raybo.EngineOptions``); ``resource_attr``: the result key of the
    resource a trial has used (a scheduler's ``time_attr``), whose intermediate results are
    points of the trial's learning curve (None: intermediate results are ignored);
    ``max_resource``: the final fidelity (a scheduler's ``max_t``; None: the highest level
    reported so far); ``outcomes``: several objectives and/or outcome constraints
    (``outcomes.py``; ``metric``/``mode`` are then the first objective's), None for one metric.
    """

    seed: int
    metric: str | None = None
    mode: str | None = None
    acquisition: str = "logei"
    n_initial: int | None = None
    max_concurrent: int | None = None
    budget: int | None = None
    engine: EngineOptions = EngineOptions()
    resource_attr: str | None = "training_iteration"
    max_resource: float | None = None
    outcomes: Outcomes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.engine, EngineOptions):
            raise ValueError(f"engine must be a raybo.EngineOptions, got "
                             f"{type(self.engine).__name__}")
        check_choice("mode", self.mode, MODES, allow_none=True)
        check_choice("acquisition", self.acquisition, ACQUISITION_NAMES)
        if self.metric is not None and not isinstance(self.metric, str):
            raise ValueError(f"metric must be a result key (str), got {self.metric!r}")
        check_positive_int("n_initial", self.n_initial)
        check_positive_int("max_concurrent", self.max_concurrent)
        check_positive_int("budget (num_samples)", self.budget)
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int or None, got {self.seed!r}")
        for name in ("seed", "n_initial", "max_concurrent", "budget"):  # numpy ints -> int
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, int(value))
        if self.resource_attr is not None and not (isinstance(self.resource_attr, str)
                                                   and self.resource_attr):
            raise ValueError(f"resource_attr must be a result key (str) or None, got "
                             f"{self.resource_attr!r}")
        if self.max_resource is not None:
            ok = (isinstance(self.max_resource, (int, float, np.integer, np.floating))
                  and not isinstance(self.max_resource, bool)
                  and 0 < float(self.max_resource) < math.inf)
            if not ok:
                raise ValueError(f"max_resource must be a positive number or None, got "
                                 f"{self.max_resource!r}")
            if self.resource_attr is None:
                raise ValueError("max_resource needs resource_attr (the result key it is a "
                                 "level of); got resource_attr=None")
            object.__setattr__(self, "max_resource", float(self.max_resource))

    def with_tune_properties(self, metric: str | None, mode: str | None,
                             num_samples: Any = None) -> Settings:
        """Fill what Tune passes to ``set_search_properties``; values given to GPSearch win."""
        budget = num_samples if _is_int(num_samples) and num_samples > 0 else self.budget
        budget = int(budget) if budget is not None else None
        o = self.outcomes
        if (o is not None and o.metrics) or (self.metric and o is None):
            return replace(self, mode=self.mode or first(mode), budget=budget)  # GPSearch's win
        if o is None and not isinstance(metric, (list, tuple)):
            check_choice("mode", mode, MODES, allow_none=True)
            return replace(self, metric=metric, mode=self.mode or mode, budget=budget)
        # Tune's metric list, or Tune's metric for GPSearch's constraints
        if isinstance(metric, (list, tuple)) and os.environ.get(_NO_STRICT_CHECK) != "1":
            warnings.warn(TUNE_METRIC_LIST, stacklevel=3)
        outcomes = outcomes_from(metric, self.mode or mode,
                                 [c.text() for c in o.constraints] if o else None,
                                 o.reference_point if o else None)
        if outcomes is None:
            return replace(self, metric=first(metric), mode=self.mode or first(mode),
                           budget=budget)
        return replace(self, metric=outcomes.metrics[0], mode=outcomes.modes[0],
                       budget=budget, outcomes=outcomes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcomes"] = None if self.outcomes is None else self.outcomes.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(f"searcher settings have keys {sorted(data)}; expected "
                             f"{sorted(names)}")
        outcomes = None if data["outcomes"] is None else Outcomes.from_dict(data["outcomes"])
        return cls(**{**data, "engine": EngineOptions.from_dict(data["engine"]),
                      "outcomes": outcomes})


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_choice(name: str, value: Any, choices: tuple[str, ...], allow_none: bool = False):
    if value is None and allow_none:
        return
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_positive_int(name: str, value: Any) -> None:
    if value is None:
        return
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
