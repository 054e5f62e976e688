"""``GPSearch``: the Ray Tune ``Searcher``. Tune glue and bookkeeping only; the maths lives in
``targets``, ``surrogate``, ``fantasies``, ``acquisition`` and ``optimize``.

Contract details this class relies on (verified against Ray 2.60):
* Tune pickles the searcher when a ``Tuner`` is built, before it has a space: no torch objects
  or locks are created in ``__init__``, and cached fits are dropped when pickling.
* ``Tuner.restore`` does not call ``set_search_properties``: ``save``/``restore`` persist the
  space, metric, mode, every trial record and the seed in a versioned plain-data dict.
* ``set_max_concurrency`` returns True and the limit is enforced here, so ``ConcurrencyLimiter``
  forwards every call (otherwise it drops completions of retried trials).
* Results for trial ids this searcher never issued (``restart_errored=True``) are ignored.
"""

from __future__ import annotations

import logging
import math
import pickle
import warnings
from typing import Any

import numpy as np
from ray.tune.search import Searcher
from scipy.stats import qmc

from raybo.fidelity_proposal import propose_multi_fidelity, stopped_early
from raybo.options import EngineOptions
from raybo.proposal import FitCache, loo_diagnostics, propose
from raybo.space import SearchSpace
from raybo.state import TrialState

logger = logging.getLogger(__name__)

ACQUISITION_NAMES = ("logei", "ei", "pi", "ucb")
N_INITIAL_MIN, N_INITIAL_MAX = 5, 20  # default design: clip(design_per_dim * d, 5, 20) points
# When Tune tells us num_samples, the design takes at most a third of it (and at least
# N_INITIAL_SMALL_BUDGET points): a 12-trial run in 8-d would otherwise never reach the GP.
N_INITIAL_SMALL_BUDGET = 4
MISSING_METRIC_LIMIT = 3  # results in a row without the metric (and none with it) = a wrong key
STATE_FORMAT = "raybo.GPSearch"
STATE_VERSION = 1


class GPSearch(Searcher):
    """Gaussian-process Bayesian optimization with fantasized pending trials.

    Args:
        space: Tune search space (nested dict of Tune domains); usually left out and taken
            from Tune's ``config``/``param_space`` instead.
        metric: Result key to optimize; may come from ``tune.run``/``TuneConfig`` instead.
        mode: ``"min"`` or ``"max"``; may come from ``tune.run``/``TuneConfig`` instead.
        points_to_evaluate: Configs (nested or '/'-flattened dicts) to try first, in order.
        evaluated_rewards: Metric values already known for ``points_to_evaluate``: those points
            become observations instead of being run.
        n_initial: Number of results gathered from ``points_to_evaluate`` and a scrambled Sobol
            design before the GP is used; default ``clip(2 * dim, 5, 20)``, capped at
            ``max(4, num_samples // 3)`` when Tune passes ``num_samples``.
        acquisition: ``"logei"`` (default, numerically stable log expected improvement),
            ``"ei"``, ``"pi"`` or ``"ucb"``.
        seed: Makes the suggestion sequence reproducible for the same sequence of results.
        max_concurrent: Most trials pending at once; ``suggest`` returns None at the limit.
            Tune's ``max_concurrent_trials`` sets it too.
        engine: The engine's tuning constants (``raybo.EngineOptions``); the defaults are
            what the benchmarks measured.
        resource_attr: Result key of the resource a trial has used (epochs), the scheduler's
            ``time_attr``. Every intermediate result is then an observation of the learning
            curve, and once a scheduler (ASHA, HyperBand) has stopped a trial below the maximum
            resource the GP models (configuration, resource) and predicts final values
            (``fidelity.py``); without a scheduler nothing changes. None: a trial's last
            result is its value, as if it had run to the end.
        max_resource: The final fidelity (the scheduler's ``max_t``); default: the highest
            level any trial has reported.
    """

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        evaluated_rewards: list[float] | None = None,
        n_initial: int | None = None,
        acquisition: str = "logei",
        seed: int | None = None,
        max_concurrent: int | None = None,
        engine: EngineOptions | None = None,
        resource_attr: str | None = "training_iteration",
        max_resource: float | None = None,
    ):
        _check_choice("mode", mode, ("min", "max"), allow_none=True)
        _check_choice("acquisition", acquisition, ACQUISITION_NAMES)
        if metric is not None and not isinstance(metric, str):
            raise ValueError(f"metric must be a result key (str), got {metric!r}")
        _check_positive_int("n_initial", n_initial)
        _check_positive_int("max_concurrent", max_concurrent)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
                                 or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        if points_to_evaluate is not None and not all(
                isinstance(p, dict) for p in points_to_evaluate):
            raise ValueError("points_to_evaluate must be a list of config dicts")
        if evaluated_rewards is not None and (
                points_to_evaluate is None or len(evaluated_rewards) != len(points_to_evaluate)):
            raise ValueError(
                "evaluated_rewards must have one value per entry of points_to_evaluate "
                f"(got {len(evaluated_rewards)} rewards for "
                f"{len(points_to_evaluate or [])} points)")
        if evaluated_rewards is not None and not all(
                _is_number(r) or r is None for r in evaluated_rewards):
            raise ValueError("evaluated_rewards must be numbers (None or NaN for a failed point), "
                             f"got {list(evaluated_rewards)!r}")
        if resource_attr is not None and not isinstance(resource_attr, str):
            raise ValueError(f"resource_attr must be a result key (str) or None, "
                             f"got {resource_attr!r}")
        if max_resource is not None and not (_is_number(max_resource) and max_resource > 0):
            raise ValueError(f"max_resource must be a positive number or None, "
                             f"got {max_resource!r}")
        if engine is not None and not isinstance(engine, EngineOptions):
            raise ValueError(f"engine must be a raybo.EngineOptions, got {type(engine).__name__}")
        super().__init__(metric=metric, mode=mode)
        self._engine = engine or EngineOptions()
        self._acquisition = acquisition
        self._n_initial = n_initial
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        self._seed = int(seed)
        self._max_concurrent = max_concurrent
        self._queue: list[dict[str, Any]] = list(points_to_evaluate or [])
        self._rewards = list(evaluated_rewards) if evaluated_rewards is not None else None
        self._state = TrialState()
        self._sobol_index = 0
        self._n_evaluated = 0
        self._space_config: dict[str, Any] | None = None
        self._space: SearchSpace | None = None
        self._fit_cache: Any = None  # last GP fit: warm start and diagnostics; never pickled
        self._resource_attr = resource_attr
        self._max_resource = None if max_resource is None else float(max_resource)
        self._mf_cache: Any = None  # the same for the (x, resource) GP
        # Trials pending when the state was restored: still fantasized (Tune resumes them with
        # the same id), but not counted against max_concurrent, because Tune may have ended
        # them without a completion (e.g. after an experiment-level stop) and they would
        # otherwise block suggest forever.
        self._budget: int | None = None  # Tune's num_samples, when it tells us
        self._restored_pending: set[str] = set()
        self._metric_seen = False  # some result had the metric (see MISSING_METRIC_LIMIT)
        self._results_without_metric: list[list[str]] = []  # keys of those that lacked it
        if space is not None:
            self._set_space(space)

    # -- Tune's Searcher API ---------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None,
                              config: dict[str, Any], **spec: Any) -> bool:
        if self._space is not None:
            return False  # like Ray's searchers: a space given twice is an error Tune reports
        if mode is not None:
            _check_choice("mode", mode, ("min", "max"))
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        num_samples = spec.get("num_samples")  # Tune passes Experiment.PUBLIC_KEYS here
        if isinstance(num_samples, int) and num_samples > 0:
            self._budget = num_samples
        if config:
            self._set_space(config)
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        _check_positive_int("max_concurrent", max_concurrent)
        self._max_concurrent = max_concurrent
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        space = self._require_ready()
        if self._max_concurrent and self._n_live >= self._max_concurrent:
            return None
        given = self._queue.pop(0) if self._queue else None
        x = self._next_point(space, given)
        config = space.decode(x, exact=given)
        self._state.add_pending(trial_id, config, space.encode(config))
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """An intermediate result: a point of the trial's learning curve (see resource_attr)."""
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if not error:  # Tune does not pass the result that made a scheduler stop a trial to
            self._report(trial_id, result)  # on_trial_result, only here
        y = None if error else self._metric_value(result)
        rec = self._state.records.get(trial_id)
        if result is None and not error and rec is not None and rec.reports:
            # HyperBand stops a *paused* trial without a result: it ended at its last report
            y = rec.reports[-1][1]
        self._restored_pending.discard(trial_id)
        if not self._state.complete(trial_id, y):
            logger.debug("GPSearch: ignoring result of unknown trial %s", trial_id)
        self._check_metric_reported()

    def add_evaluated_point(self, parameters: dict[str, Any], value: float | None,
                            error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        self._observe(self._require_ready(), parameters, None if error else value)

    def _observe(self, space: SearchSpace, point: dict[str, Any], value: Any) -> None:
        """Record a complete config with a known value (None/NaN: failed) as an observation."""
        x = space.encode(point)
        self._n_evaluated += 1
        self._state.add_observation(f"__evaluated_{self._n_evaluated}", space.decode(x), x,
                                    _as_float(value))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    def get_state(self) -> dict[str, Any]:
        """Plain-data, versioned state: everything needed to continue, no torch objects."""
        return {
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "space": self._space_config, "metric": self._metric, "mode": self._mode,
            "acquisition": self._acquisition, "n_initial": self._n_initial, "seed": self._seed,
            "max_concurrent": self._max_concurrent, "queue": self._queue,
            "rewards": self._rewards, "sobol_index": self._sobol_index,
            "n_evaluated": self._n_evaluated, "trials": self._state.to_dict(),
            "budget": self._budget, "engine": self._engine.to_dict(),
            "resource_attr": self._resource_attr, "max_resource": self._max_resource,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise ValueError(
                f"not a GPSearch state of version {STATE_VERSION}: format="
                f"{state.get('format')!r}, version={state.get('version')!r}")
        self._metric, self._mode = state["metric"], state["mode"]
        self._acquisition, self._n_initial = state["acquisition"], state["n_initial"]
        self._seed, self._max_concurrent = state["seed"], state["max_concurrent"]
        self._queue, self._rewards = list(state["queue"]), state["rewards"]
        self._sobol_index, self._n_evaluated = state["sobol_index"], state["n_evaluated"]
        self._budget = state.get("budget")  # absent in states saved before it existed
        self._engine = EngineOptions.from_dict(state.get("engine"))
        self._resource_attr = state.get("resource_attr", "training_iteration")
        self._max_resource = state.get("max_resource")
        self._space_config, self._space = None, None
        if state["space"] is not None:
            self._set_space(state["space"], seed_queue=False)
        self._state = TrialState.from_dict(state["trials"])
        self._restored_pending = {k for k, r in self._state.records.items()
                                  if r.status == "pending"}
        self._fit_cache = self._mf_cache = None  # refitted lazily at the next suggest

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_fit_cache"] = d["_mf_cache"] = None  # torch objects are rebuilt, never pickled
        return d

    # -- public extras ---------------------------------------------------------------------
    @property
    def n_pending(self) -> int:
        """Trials suggested and not yet completed."""
        return self._state.n_pending

    def diagnostics(self) -> dict[str, Any]:
        """Leave-one-out check of the surrogate on the observed trials, in metric units.

        ``loo_rmse``: RMSE of each observation predicted from all the others; ``loo_calibration``:
        fraction of standardized LOO residuals within +-1.96 (about 0.95 when the GP's
        uncertainty is honest). ``{"n": 0}`` with fewer than 3 successful observations.
        """
        return loo_diagnostics(self._state, self._require_ready(), self._mode)

    # -- internals -------------------------------------------------------------------------
    @property
    def _n_live(self) -> int:
        """Pending trials suggested since the last restore (see ``_restored_pending``)."""
        return self._state.n_pending - len(self._restored_pending)

    def _set_space(self, config: dict[str, Any], seed_queue: bool = True) -> None:
        space = SearchSpace(config)
        if seed_queue:  # bad points fail here, before any trial runs, not when they are reached
            for i, point in enumerate(self._queue):
                _check_point(space, point, f"points_to_evaluate[{i}]")
        self._space = space
        self._space_config = config
        if seed_queue and self._rewards is not None:  # known points become observations
            for i, (point, reward) in enumerate(zip(self._queue, self._rewards)):
                try:
                    self._observe(space, point, reward)
                except ValueError as err:
                    raise ValueError(f"points_to_evaluate[{i}] (with evaluated_rewards) must "
                                     f"give every parameter: {err.args[0]}") from None
            self._queue, self._rewards = [], None

    def _require_ready(self) -> SearchSpace:
        if self._space is None:
            raise RuntimeError(
                "GPSearch has no search space: pass space= to GPSearch or a config/param_space "
                "of Tune domains to tune.run/Tuner")
        if not self._metric or not self._mode:
            raise RuntimeError(
                "GPSearch needs metric and mode (mode 'min' or 'max'): pass them to GPSearch or "
                "to tune.run/TuneConfig")
        return self._space

    @property
    def _n_initial_effective(self) -> int:
        if self._n_initial is not None:
            return self._n_initial
        n = int(np.clip(round(self._engine.design_per_dim * self._space.dim), N_INITIAL_MIN,
                        N_INITIAL_MAX))
        if self._budget:
            n = min(n, max(N_INITIAL_SMALL_BUDGET, self._budget // 3))
        return n

    def _report(self, trial_id: str, result: dict[str, Any] | None) -> None:
        if not self._resource_attr or not result or self._metric not in result:
            return
        t, y = _as_float(result.get(self._resource_attr)), _as_float(result[self._metric])
        if t is not None and y is not None:
            self._state.report(trial_id, t, y)

    def _metric_value(self, result: dict[str, Any] | None) -> float | None:
        if result is None or self._metric not in result:
            if result is not None:
                warnings.warn(f"GPSearch: metric {self._metric!r} missing from a trial result "
                              f"(keys: {sorted(map(str, result))[:10]}); the trial counts as "
                              "failed", stacklevel=2)
                if not self._metric_seen:
                    self._results_without_metric.append(sorted(map(str, result)))
            return None
        self._metric_seen = True
        return _as_float(result[self._metric])

    def _check_metric_reported(self) -> None:
        """After ``MISSING_METRIC_LIMIT`` results without the metric and none with it, the metric
        name is almost surely wrong: say so instead of silently fitting only failures."""
        if self._metric_seen or len(self._results_without_metric) < MISSING_METRIC_LIMIT:
            return
        keys = sorted({k for ks in self._results_without_metric for k in ks})
        raise ValueError(
            f"metric {self._metric!r} is missing from all {len(self._results_without_metric)} "
            f"trial results so far; the results have the keys {keys[:20]}. Pass one of them as "
            "metric to GPSearch or tune.run/TuneConfig")

    def _next_point(self, space: SearchSpace, given: dict[str, Any] | None) -> np.ndarray:
        """``(d,)`` encoding of the next config: ``given`` (a points_to_evaluate entry, missing
        parameters filled at random), the Sobol design, or the GP's proposal."""
        X_all = self._all_x(space)
        if given is not None:
            rng = np.random.default_rng([self._seed, len(self._state.records)])
            return space.encode_partial(given, fill=rng.random(space.dim))
        if self._in_design():
            return self._sobol_point(space, X_all)
        t_max = self._max_resource or self._state.max_resource()
        if self._resource_attr and t_max and stopped_early(self._state, t_max):
            if self._mf_cache is None:
                self._mf_cache = FitCache()
            x = propose_multi_fidelity(
                self._state, space, self._mode, self._acquisition, seed=self._step_seed(),
                cache=self._mf_cache, X_avoid=X_all, t_max=t_max, opts=self._engine)
            return x if x is not None else self._sobol_point(space, X_all)
        if self._fit_cache is None:
            self._fit_cache = FitCache()
        x = propose(self._state, space, self._mode, self._acquisition, seed=self._step_seed(),
                    cache=self._fit_cache, X_avoid=X_all, opts=self._engine)
        return x if x is not None else self._sobol_point(space, X_all)

    def _in_design(self) -> bool:
        """Whether the next point comes from the initial design rather than the GP.

        ``design_finished_fraction`` = 1: until ``n_initial`` trials have finished (with many
        workers, up to W - 1 more design points are issued while the first ones run). Below 1
        (Ax's rule): the design is ``n_initial`` *issued* points, and the GP takes over once
        that fraction of them has a result; with W workers the design is then about
        ``max(n_initial, W)`` points instead of ``n_initial + W - 1``.
        """
        n_initial = self._n_initial_effective
        frac = self._engine.design_finished_fraction
        if frac >= 1:
            return self._state.n_done < n_initial
        return (len(self._state.records) < n_initial
                or self._state.n_done < max(1, math.ceil(frac * n_initial)))

    def _step_seed(self) -> int:
        return int(np.random.SeedSequence([self._seed, len(self._state.records)])
                   .generate_state(1)[0])

    def _all_x(self, space: SearchSpace) -> np.ndarray:
        xs = [r.x for r in self._state.records.values()]
        return np.array(xs, dtype=float).reshape(len(xs), space.dim)

    def _sobol_point(self, space: SearchSpace, X_avoid: np.ndarray) -> np.ndarray:
        """Next point of one scrambled Sobol sequence per seed, skipping already-seen configs."""
        sobol = qmc.Sobol(space.dim, scramble=True, seed=self._seed)
        if self._sobol_index:
            sobol.fast_forward(self._sobol_index)
        for _ in range(64):
            self._sobol_index += 1
            x = space.snap(sobol.random(1))[0]
            if not (len(X_avoid) and (np.abs(X_avoid - x).max(axis=1) < 1e-9).any()):
                return x
        return x  # a small discrete space is exhausted: repeat rather than stall


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def _check_point(space: SearchSpace, point: dict[str, Any], what: str) -> None:
    """Reject a known config with values outside the space or keys the space does not have."""
    known = {p.name for p in space.params} | {"/".join(path) for path, _ in space.constants}

    def leaves(node: dict[str, Any], prefix: str):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value and name not in known:
                yield from leaves(value, name + "/")
            else:
                yield name

    unknown = [name for name in leaves(point, "") if name not in known]
    if unknown:
        raise ValueError(
            f"{what} has keys that are not in the search space: {unknown}; the space has "
            f"{sorted(known)}")
    try:
        space.encode_partial(point, fill=np.full(space.dim, 0.5))
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def _as_float(value: Any) -> float | None:
    try:
        y = float(value)
    except (TypeError, ValueError):
        return None
    return y if math.isfinite(y) else None


def _check_choice(name: str, value: Any, choices: tuple[str, ...], allow_none: bool = False):
    if value is None and allow_none:
        return
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _check_positive_int(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")

