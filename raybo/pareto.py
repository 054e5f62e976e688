"""Pareto fronts of finished trials: ``raybo.pareto_front(results, metric=[...], mode=[...],
outcome_constraints=[...])`` and ``GPSearch.pareto_front()``.

A trial is on the front when it carries every objective and constrained metric as a finite
number, satisfies every constraint, and no other such trial is at least as good in every
objective and better in one (BoTorch's ``is_non_dominated``; trials with equal values are all
kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from raybo.outcomes import Outcomes, outcomes_from
from raybo.state import DONE

if TYPE_CHECKING:
    from raybo.settings import Settings
    from raybo.state import TrialState


def pareto_front(results: Any, metric: str | list[str], mode: str | list[str] = "min",
                 outcome_constraints: list[str] | None = None) -> Any:
    """The feasible non-dominated trials of ``results``.

    ``results``: a Tune ``ResultGrid`` (returns its ``Result`` objects on the front, by their
    last reported metrics), an ``ExperimentAnalysis`` (returns its ``Trial`` objects, by their
    last results), a list of result dicts (returns those dicts) or a pandas ``DataFrame`` with
    one row per trial (returns those rows, index kept). Order is the input's. ``mode``: one per
    metric, or one for all. Results lacking a metric (or with NaN) are left out.
    """
    o = _outcomes(metric, mode, outcome_constraints)
    items, dicts = _as_results(results)
    keep = front_mask(o, [o.read(r, warn=False) for r in dicts])
    if hasattr(results, "iloc"):
        return results.iloc[np.flatnonzero(keep)]
    return [item for item, k in zip(items, keep) if k]


def front_mask(o: Outcomes, values: list[dict[str, float] | None]) -> np.ndarray:
    """``(n,)``: which of ``values`` (one dict per trial, None for a failed one) are feasible
    and non-dominated."""
    from raybo.strategies.multi import pareto_mask  # torch and BoTorch on first use

    ok = np.array([v is not None for v in values], dtype=bool)
    keep = np.zeros(len(values), dtype=bool)
    rows = [[v[name] for name in o.names] for v in values if v is not None]
    if not rows:
        return keep
    V = np.array(rows, dtype=float)
    feasible = (o.slacks(V) <= 0).all(1)
    idx = np.flatnonzero(ok)[feasible]
    keep[idx[pareto_mask(o.minimized(V[feasible][:, :len(o.metrics)]))]] = True
    return keep


def searcher_front(state: TrialState, settings: Settings) -> list[dict[str, Any]]:
    """``GPSearch.pareto_front()``: ``{"trial_id", "config", <metrics>}`` per trial on the
    front of the searcher's done records."""
    o = settings.outcomes
    if o is None or not o.metrics:
        if settings.metric is None or settings.mode is None:
            return []
        o = Outcomes((settings.metric,), (settings.mode,), o.constraints if o else ())
    done = [(k, r) for k, r in state.records.items() if r.status == DONE]
    values = [r.outcomes if r.outcomes is not None else {o.metrics[0]: r.y} for _, r in done]
    keep = front_mask(o, [v if all(n in v for n in o.names) else None for v in values])
    return [{"trial_id": k, "config": r.config, **v}
            for (k, r), v, kept in zip(done, values, keep) if kept]


def _outcomes(metric: Any, mode: Any, outcome_constraints: Any) -> Outcomes:
    if metric is None:
        raise ValueError("pareto_front needs metric: a result key or a list of them")
    o = outcomes_from(metric, mode, outcome_constraints)
    if o is None:  # one metric, no constraints: the front is the best trial(s)
        return Outcomes((metric if isinstance(metric, str) else metric[0],),
                        (mode if isinstance(mode, str) else mode[0],))
    return o


def _as_results(results: Any) -> tuple[list[Any], list[dict[str, Any] | None]]:
    """``(items, result dicts)`` of the kinds ``pareto_front`` takes."""
    if hasattr(results, "iterrows"):  # a DataFrame
        return list(results.index), [dict(row) for _, row in results.iterrows()]
    if hasattr(results, "trials") and hasattr(results, "dataframe"):  # ExperimentAnalysis
        trials = list(results.trials)
        return trials, [t.last_result for t in trials]
    if hasattr(results, "get_dataframe"):  # ResultGrid
        items = [results[i] for i in range(len(results))]
        return items, [r.metrics for r in items]
    if isinstance(results, (list, tuple)):
        if not all(isinstance(r, dict) or r is None for r in results):
            raise ValueError("pareto_front: results must be a ResultGrid, an "
                             "ExperimentAnalysis, a DataFrame or a list of result dicts")
        return list(results), list(results)
    raise ValueError(f"pareto_front: results must be a ResultGrid, an ExperimentAnalysis, a "
                     f"DataFrame or a list of result dicts, got {type(results).__name__}")
