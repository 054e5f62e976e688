"""Several objectives and outcome constraints: parsing, validation, and reading them from results.

``GPSearch(metric=["val_loss", "n_params"], mode=["min", "min"],
outcome_constraints=["peak_memory_mb <= 512"], reference_point={...})``. Constraints use Ax's
string form ``"<metric> <= <bound>"`` or ``"<metric> >= <bound>"`` (absolute bounds only; Ax's
relative ``"<= 5%"`` form and sums of metrics are refused). A constraint holds when its value
satisfies the inequality; its *slack* ``s`` is ``value - bound`` for ``<=`` and ``bound - value``
for ``>=``, so ``s <= 0`` always means feasible (one sign convention, as everything inside raybo
is minimized).

Every error is raised when the searcher is built (or when Tune passes a metric list), before any
trial runs, and names the argument.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from raybo.metric import as_float

MODES = ("min", "max")
_CONSTRAINT = re.compile(r"^\s*(?P<metric>[^\s<>=!]+)\s*(?P<op><=|>=)\s*(?P<bound>\S+)\s*$")
_ANY_OPERATOR = re.compile(r"(<=|>=|==|!=|=<|=>|<|>|=)")


@dataclass(frozen=True)
class Constraint:
    """``metric op bound`` with ``op`` in ``("<=", ">=")``."""

    metric: str
    op: str
    bound: float

    def slack(self, value: np.ndarray | float) -> np.ndarray | float:
        """``(n,)`` or scalar: <= 0 where the constraint holds (see the module docstring)."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def text(self) -> str:
        """The string form, exact (it parses back to this constraint)."""
        return f"{self.metric} {self.op} {self.bound!r}"


def parse_constraint(text: Any) -> Constraint:
    """``"peak_memory_mb <= 512"`` -> ``Constraint``; ValueError naming
    ``outcome_constraints`` for anything else."""
    where = f"outcome_constraints entry {text!r}"
    if not isinstance(text, str):
        raise ValueError(f"{where}: must be a string such as 'peak_memory_mb <= 512'")
    match = _CONSTRAINT.match(text)
    if match is None:
        ops = _ANY_OPERATOR.findall(text)
        if ops and not set(ops) <= {"<=", ">="}:
            raise ValueError(f"{where}: unknown operator {ops[0]!r}; use '<=' or '>=' "
                             "(e.g. 'peak_memory_mb <= 512')")
        raise ValueError(f"{where}: expected '<metric> <= <bound>' or '<metric> >= <bound>' "
                         "with one metric and a number (Ax's string form; relative bounds "
                         "such as '<= 5%' and sums of metrics are not supported)")
    try:
        bound = float(match["bound"])
    except ValueError:
        raise ValueError(f"{where}: the bound {match['bound']!r} is not a number (relative "
                         "bounds such as '5%' are not supported)") from None
    if not math.isfinite(bound):
        raise ValueError(f"{where}: the bound must be finite, got {bound}")
    return Constraint(match["metric"], match["op"], bound)


@dataclass(frozen=True)
class Outcomes:
    """What a multi-objective or constrained search reads from each result.

    ``metrics``/``modes``: the objectives (one or more, modes ``"min"``/``"max"``);
    ``constraints``: on other metrics; ``reference_point``: ``{objective: value}`` in the metric's
    own units (the hypervolume is measured from it), None to infer it from the data.
    """

    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()
    reference_point: dict[str, float] | None = None

    @property
    def multi(self) -> bool:
        return len(self.metrics) > 1

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric a result must carry: the objectives, then the constrained ones."""
        extra = [c.metric for c in self.constraints if c.metric not in self.metrics]
        return self.metrics + tuple(dict.fromkeys(extra))

    def read(self, result: dict[str, Any] | None, warn: bool = True
             ) -> dict[str, float] | None:
        """``{name: value}`` for every metric of ``names``, or None when one is missing (warned)
        or not a finite number: the trial is then a failure."""
        if result is None:
            return None
        missing = [name for name in self.names if name not in result]
        if missing:
            if warn:
                warnings.warn(f"GPSearch: metrics {missing} missing from a trial result (keys: "
                              f"{sorted(map(str, result))[:10]}); the trial counts as failed",
                              stacklevel=3)
            return None
        values = {name: as_float(result[name]) for name in self.names}
        return None if any(v is None for v in values.values()) else values

    def known_value(self, value: Any) -> tuple[float | None, dict[str, float] | None]:
        """A known point's value (``evaluated_rewards``, ``add_evaluated_point``): a dict
        ``{metric: value}`` with every metric of ``names`` -> (first objective's value, values);
        None, or a NaN in the dict: a failed point. A dict lacking a metric is an error."""
        if not self.metrics:
            raise ValueError("known values need the objectives: pass metric to GPSearch")
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"with several metrics or outcome constraints a known value must "
                             f"be a dict {{metric: value}} with {list(self.names)}, got {value!r}")
        missing = [n for n in self.names if value is not None and n not in value]
        if missing:
            raise ValueError(f"a known value (evaluated_rewards, add_evaluated_point) lacks the "
                             f"metrics {missing}: {value!r}")
        values = self.read(value, warn=False)
        return (None, None) if values is None else (values[self.metrics[0]], values)

    def minimized(self, Y: np.ndarray) -> np.ndarray:
        """Objective values ``(n, k)`` in metric units -> values to minimize (sign flips)."""
        sign = np.array([-1.0 if m == "max" else 1.0 for m in self.modes])
        return np.asarray(Y, dtype=float).reshape(-1, len(self.metrics)) * sign

    def slacks(self, values: np.ndarray) -> np.ndarray:
        """``values: (n, len(names))`` -> constraint slacks ``(n, c)`` (<= 0: holds)."""
        index = {name: j for j, name in enumerate(self.names)}
        V = np.asarray(values, dtype=float).reshape(-1, len(self.names))
        return np.stack([c.slack(V[:, index[c.metric]]) for c in self.constraints], axis=1) \
            if self.constraints else np.zeros((len(V), 0))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": list(self.metrics), "mode": list(self.modes),
                "outcome_constraints": [c.text() for c in self.constraints],
                "reference_point": None if self.reference_point is None
                else dict(self.reference_point)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcomes:
        if set(data) != {"metric", "mode", "outcome_constraints", "reference_point"}:
            raise ValueError(f"searcher outcomes have keys {sorted(data)}; expected "
                             "['metric', 'mode', 'outcome_constraints', 'reference_point']")
        return outcomes_from(data["metric"], data["mode"], data["outcome_constraints"],
                             data["reference_point"])


def first(value: Any) -> Any:
    """The first of a metric/mode list (the primary objective), or the value itself."""
    return value[0] if isinstance(value, (list, tuple)) and value else value


def outcomes_from(metric: Any, mode: Any, outcome_constraints: Any = None,
                  reference_point: Any = None) -> Outcomes | None:
    """The validated ``Outcomes`` of GPSearch's arguments, or None for a single metric without
    constraints (the plain search) or before the metric is known. A list ``metric`` needs a
    list ``mode`` of the same length (one mode string is used for every metric)."""
    metrics = _names("metric", metric)
    if isinstance(mode, str) or mode is None:
        modes = None if mode is None else (mode,) * max(len(metrics or ()), 1)
    else:
        modes = tuple(mode)
        if metrics is None or len(modes) != len(metrics):
            raise ValueError(f"mode must have one entry per metric: got metric={metric!r}, "
                             f"mode={mode!r}")
    for m in modes or ():
        if m not in MODES:
            raise ValueError(f"mode must be one of 'min', 'max' (for each metric); got {m!r}")
    if outcome_constraints is not None and (isinstance(outcome_constraints, str) or
                                            not isinstance(outcome_constraints, (list, tuple))):
        raise ValueError("outcome_constraints must be a list of strings such as "
                         f"['peak_memory_mb <= 512'], got {outcome_constraints!r}")
    constraints = tuple(parse_constraint(c) for c in outcome_constraints or ())
    if reference_point is not None and not isinstance(reference_point, dict):
        raise ValueError(f"reference_point must be a dict {{objective: value}}, got "
                         f"{reference_point!r}")
    if metrics is None:
        if constraints or reference_point:
            # the objectives may still come from Tune; checked again then
            return Outcomes((), (), constraints, _reference(reference_point, None))
        return None
    if len(metrics) == 1 and not constraints and not reference_point:
        return None
    if modes is None:
        raise ValueError(f"mode is needed with metric={metric!r}: 'min' or 'max' per metric")
    for c in constraints:
        if c.metric in metrics:
            raise ValueError(f"outcome_constraints: {str(c)!r} constrains the objective "
                             f"{c.metric!r}; constrain other metrics only (an objective's "
                             "limit is a reference_point)")
    return Outcomes(metrics, modes, constraints, _reference(reference_point, metrics))


def _names(what: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(
            isinstance(n, str) and n for n in names):
        raise ValueError(f"{what} must be a result key or a list of them, got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} lists a metric twice: {list(names)}")
    return tuple(names)


def _reference(point: dict[str, Any] | None, metrics: tuple[str, ...] | None
               ) -> dict[str, float] | None:
    if point is None:
        return None
    if metrics is not None:
        unknown = sorted(set(point) - set(metrics))
        if unknown:
            raise ValueError(f"reference_point has keys {unknown} that are not objectives; "
                             f"the objectives are {list(metrics)}")
    values = {}
    for k, v in point.items():
        try:
            values[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"reference_point[{k!r}] must be a number, got {v!r}") from None
        if not math.isfinite(values[k]):
            raise ValueError(f"reference_point[{k!r}] must be finite, got {v!r}")
    return values
