"""Asynchronous-worker protocol emulated in-process over the plain Tune ``Searcher`` API.

W simulated workers evaluate a ``Problem``.  Every evaluation gets a seeded exponential
duration (mean 1 simulated time unit), so completions interleave as on a real cluster.
Whenever a worker frees, the driver calls ``on_trial_complete(trial_id, {metric: value})``
and then ``suggest`` again, so up to W - 1 trials are pending at each suggest.  A
``suggest`` returning None (e.g. HEBO waiting for its batch) leaves the worker idle until
the next completion; ``Searcher.FINISHED`` ends the run.

One ``Evaluation`` is recorded per finished trial, in completion order.  An objective that
raises is a crashed trial (``on_trial_complete(trial_id, error=True)``, as Tune reports it);
one that returns NaN reports it as its result, as a Tune trial would. Either way the record
has ``failed=True``, value NaN and regret inf (the best-so-far is unchanged).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
from ray.tune.search import Searcher

from benchmarks.problems import Problem

METRIC = "loss"
DURATION_MEAN = 1.0  # simulated time units; only the order of completions matters
# Consecutive None suggestions tolerated while no trial is pending before giving up
# (BayesOptSearch returns None on duplicates; a searcher may never recover).
MAX_IDLE_RETRIES = 25


@dataclass
class Evaluation:
    """One finished trial.  Times are seconds of the suggest call that produced it."""

    index: int  # completion order, 0-based
    trial_id: str
    config: dict
    value: float
    regret: float
    best_regret: float  # best-so-far regret after this completion
    start: float  # simulated time
    end: float  # simulated time
    suggest_wall_s: float
    suggest_cpu_s: float
    n_obs_at_suggest: int
    n_pending_at_suggest: int
    min_dist_pending: float | None  # min distance (unit cube) to points pending then
    failed: bool = False  # the objective raised or returned NaN


@dataclass
class RunResult:
    evaluations: list[Evaluation]
    truncated: bool  # True when the searcher stopped before the budget
    none_suggestions: int  # suggest calls that returned None

    def to_dict(self) -> dict:
        return {
            "evaluations": [asdict(e) for e in self.evaluations],
            "truncated": self.truncated,
            "none_suggestions": self.none_suggestions,
        }


def _jsonable(config: dict) -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def run_protocol(
    searcher: Searcher, problem: Problem, *, workers: int, budget: int, seed: int
) -> RunResult:
    """Drive ``searcher`` (search properties already set) for ``budget`` evaluations."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    rng = np.random.default_rng(seed)
    now = 0.0
    heap: list[tuple[float, int, str]] = []  # (end time, tie-break, trial id)
    pending: dict[str, dict] = {}  # trial id -> partial evaluation record
    done: list[Evaluation] = []
    n_started = 0
    n_none = 0
    finished = False
    best = float("inf")

    def start_one() -> bool:
        nonlocal n_started, n_none, finished
        trial_id = f"trial_{n_started:05d}_{n_none:04d}"
        w0, c0 = time.perf_counter(), time.process_time()
        config = searcher.suggest(trial_id)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if config is None:
            n_none += 1
            return False
        if config == Searcher.FINISHED:
            finished = True
            return False
        config = _jsonable(config)
        x = problem.unit(config)
        dists = [float(np.linalg.norm(x - p["x"])) for p in pending.values()]
        end = now + float(rng.exponential(DURATION_MEAN))
        pending[trial_id] = {
            "config": config,
            "x": x,
            "start": now,
            "end": end,
            "suggest_wall_s": wall,
            "suggest_cpu_s": cpu,
            "n_obs_at_suggest": len(done),
            "n_pending_at_suggest": len(pending),
            "min_dist_pending": min(dists) if dists else None,
        }
        heapq.heappush(heap, (end, n_started, trial_id))
        n_started += 1
        return True

    def fill() -> None:
        while not finished and len(pending) < workers and n_started < budget:
            if not start_one():
                break

    fill()
    idle_retries = 0
    while heap or (not finished and n_started < budget):
        if not heap:
            # Nothing pending and the searcher declined: ask again a bounded number of times.
            idle_retries += 1
            if idle_retries > MAX_IDLE_RETRIES:
                break
            fill()
            continue
        idle_retries = 0
        now, _, trial_id = heapq.heappop(heap)
        rec = pending.pop(trial_id)
        try:
            value = problem(rec["config"])
        except Exception:  # a crashed trial: what Tune reports as an errored trial
            value = float("nan")
            searcher.on_trial_complete(trial_id, error=True)
        else:  # a NaN result reaches the searcher as Tune passes it on: as a result
            searcher.on_trial_complete(trial_id, {METRIC: value})
        failed = math.isnan(value)
        regret = math.inf if failed else problem.regret(value)
        best = min(best, regret)
        done.append(
            Evaluation(
                index=len(done),
                trial_id=trial_id,
                config=rec["config"],
                value=value,
                regret=regret,
                best_regret=best,
                start=rec["start"],
                end=rec["end"],
                suggest_wall_s=rec["suggest_wall_s"],
                suggest_cpu_s=rec["suggest_cpu_s"],
                n_obs_at_suggest=rec["n_obs_at_suggest"],
                n_pending_at_suggest=rec["n_pending_at_suggest"],
                min_dist_pending=rec["min_dist_pending"],
                failed=failed,
            )
        )
        fill()
    return RunResult(evaluations=done, truncated=len(done) < budget, none_suggestions=n_none)
