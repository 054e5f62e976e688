"""Warm starts: the finished trials of an earlier experiment, read from whatever form it is in,
as ``(config, value)`` pairs, and what ``GPSearch.warm_start_from`` makes of them.

Sources (``past_trials``): a Tune ``ExperimentAnalysis`` or ``ResultGrid``, a Tune experiment
directory, a ``raybo tune`` run directory (its ``trials.json``), or a sequence of Tune
``Trial``/``Result`` objects, result dicts (``{"config": ..., metric: ...}``) or
``(config, value)`` pairs. A trial that errored (or ended with a non-finite value) is a failure,
``value`` None; a trial without a result for the metric (never finished) is left out.

Uses (``USES``):
* ``"data"``: the same task: every trial becomes an observation of the new search, as if it had
  run there (``add_evaluated_point``); the GP starts from them and the design is skipped.
* ``"prior"``: a related task (other data, another model size): the best old configuration
  becomes the centre of the user prior (``prior.py``), so old results guide the search without
  their values being taken for the new task's. Measured against "data" and against no warm
  start in benchmarks/README.md, "Priors and warm starts".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from raybo.metric import as_float

USES = ("data", "prior")
RUN_FILE, TRIALS_FILE = "run.json", "trials.json"  # a `raybo tune` run directory's files
Trial = tuple[dict[str, Any], float | None]  # (config, value or None for a failure)


def past_trials(source: Any, metric: str) -> list[Trial]:
    """``(config, value)`` of each finished trial of ``source`` (module docstring), in order."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if (path / TRIALS_FILE).is_file() and (path / RUN_FILE).is_file():
            return _run_dir_trials(path, metric)
        if not path.is_dir():
            raise ValueError(f"warm start: {source} is not a raybo run directory or a Tune "
                             "experiment directory")
        from ray.tune import ExperimentAnalysis

        return _trials(ExperimentAnalysis(str(path)).trials, metric)
    if hasattr(source, "last_result") and hasattr(source, "status"):  # one Tune Trial, as Ray's
        return _trials([source], metric)                            # add_evaluated_trials takes
    trials = getattr(source, "trials", None)  # ExperimentAnalysis
    if trials is not None and not isinstance(source, (list, tuple)):
        return _trials(trials, metric)
    if hasattr(source, "__len__") and hasattr(source, "__getitem__") and not isinstance(
            source, (dict, str, bytes)):  # a sequence, or a ResultGrid (indexed, not iterable)
        return _trials([source[i] for i in range(len(source))], metric)
    raise ValueError(f"warm start: cannot read trials from a {type(source).__name__}; give an "
                     "ExperimentAnalysis, a ResultGrid, a Trial, an experiment or run "
                     "directory, or a list of results")


def _trials(items: Sequence[Any], metric: str) -> list[Trial]:
    out = [t for t in map(functools.partial(_one, metric=metric), items) if t is not None]
    return out


def _one(item: Any, metric: str) -> Trial | None:
    """One trial of any accepted form, or None if it has no result for ``metric``."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], dict):
        return dict(item[0]), as_float(item[1])
    if isinstance(item, dict):
        if "config" not in item:
            raise ValueError(f"warm start: a result dict needs a 'config' key; got keys "
                             f"{sorted(item)}")
        if item.get("error"):
            return dict(item["config"]), None
        return (dict(item["config"]), as_float(item[metric])) if metric in item else None
    if hasattr(item, "last_result") and hasattr(item, "status"):  # a Tune Trial
        if item.status == "ERROR":
            return dict(item.config), None
        result = item.last_result or {}
        return (dict(item.config), as_float(result[metric])) if metric in result else None
    if hasattr(item, "metrics") and hasattr(item, "config"):  # a Tune Result
        if getattr(item, "error", None) is not None:
            return dict(item.config), None
        metrics = item.metrics or {}
        return (dict(item.config), as_float(metrics[metric])) if metric in metrics else None
    raise ValueError(f"warm start: cannot read a trial from a {type(item).__name__}")


def _run_dir_trials(path: Path, metric: str) -> list[Trial]:
    """The trials of a ``raybo tune`` run directory (both searchers' with --compare-random);
    unfinished trials are left out."""
    doc = json.loads((path / TRIALS_FILE).read_text())
    out: list[Trial] = []
    for run in (doc, doc.get("compare") or {"trials": []}):
        for row in run["trials"]:
            if row["status"] == "UNFINISHED":
                continue
            if row["status"] == "ERROR":
                out.append((row["config"], None))
                continue
            value = row["value"] if doc["metric"] == metric else row["metrics"].get(metric)
            out.append((row["config"], as_float(value)))
    return out


def best_config(trials: list[Trial], mode: str) -> dict[str, Any]:
    """The config of the best finite value (``mode`` "min" or "max")."""
    ok = [t for t in trials if t[1] is not None]
    if not ok:
        raise ValueError("warm start with use='prior': the earlier experiment has no "
                         "successful trial")
    sign = 1.0 if mode == "min" else -1.0
    return min(ok, key=lambda t: sign * t[1])[0]


def merge_prior(user: dict[str, Any] | None, old_best: dict[str, Any]) -> dict[str, Any]:
    """The old best config as the prior's centre, the user's own beliefs winning where both
    name a parameter ('/'-flattened keys)."""
    from raybo.prior import flatten

    return {**flatten(old_best), **flatten(user or {})}


class class_or_instance:
    """A method callable on the class (first argument the class, ``instance`` None) or on an
    instance: ``GPSearch.warm_start_from(path, metric=..., mode=..., **GPSearch_kwargs)`` builds
    a searcher, ``searcher.warm_start_from(path)`` warm-starts that one."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        return functools.partial(self.fn, owner, instance)
