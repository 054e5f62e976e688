"""``GPSearch``: the Ray Tune ``Searcher``. Tune glue only: options are validated in
``settings``, the initial design lives in ``design``, restore and batch bookkeeping in
``concurrency``, the saved form in ``checkpoint``, reading the metric from results (and noticing
a wrong metric name) in ``metric``; the maths in ``step`` (one BO step) and ``strategies``
(which surrogate, chosen once per state change) and below.

Contract details this class relies on (verified against Ray 2.60 and Ray's own searcher tests):
* Tune pickles the searcher when a ``Tuner`` is built, before it has a space: no torch objects
  or locks are created in ``__init__``, and cached fits are dropped when pickling.
* Tune calls ``set_search_properties`` only when ``tune.run``/``Tuner`` has a config/param_space.
  Its metric, mode and ``num_samples`` are taken even when the space came with
  ``GPSearch(space=...)`` (values given to GPSearch win); a second space is refused by returning
  False, as Ray's built-in searchers do, and Tune then raises if its config holds domains.
* A mode without a metric optimizes Tune's default metric ``"_metric"``
  (``ray.tune.result.DEFAULT_METRIC``), as Ray's built-in searchers do.
* ``Tuner.restore`` does not call ``set_search_properties``: ``save``/``restore`` persist
  everything in a versioned plain-data dict (``checkpoint.py``).
* ``set_max_concurrency`` returns True and the limit is enforced here, so ``ConcurrencyLimiter``
  forwards every call (it drops completions of trials it does not track, e.g. trials resumed
  after an error). Under ``ConcurrencyLimiter(batch=True)`` it returns False: only the limiter
  can hold results back until its whole batch finished.
* Results for trial ids this searcher never issued (``restart_errored=True``) are ignored.
* Schedulers: Tune passes every intermediate result to ``on_trial_result`` except the one after
  which a scheduler stopped the trial (or the trial ended): that one comes only with
  ``on_trial_complete``. ``HyperBandScheduler`` stops a *paused* trial with
  ``on_trial_complete(trial_id)`` and no result at all (``TuneController.stop_trial``).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from typing import Any

import numpy as np
from ray.tune.result import DEFAULT_METRIC
from ray.tune.search import Searcher

from raybo.checkpoint import (
    STATE_FORMAT,
    STATE_VERSION,
    check_state,
    plain_copy,
    v1_state_from_attributes,
    v2_state_from_attributes,
)
from raybo.concurrency import RestoredTrials, batch_limiter_calling
from raybo.design import (
    InitialDesign,
    design_finished,
    design_size,
    fill_point,
)
from raybo.metric import MetricReader, as_float
from raybo.options import EngineOptions
from raybo.outcomes import first, outcomes_from
from raybo.pareto import searcher_front
from raybo.prior import Prior, check_confidence, design_point, log_weight, parse_prior
from raybo.settings import Settings, check_positive_int
from raybo.space import SearchSpace
from raybo.state import TrialState
from raybo.step import propose
from raybo.strategies import Strategy, choose, create
from raybo.strategies.plain import loo_diagnostics
from raybo.warmstart import USES, best_config, class_or_instance, merge_prior, past_trials

logger = logging.getLogger(__name__)


class GPSearch(Searcher):
    """Gaussian-process Bayesian optimization with fantasized pending trials.

    Args:
        space: Tune search space (nested dict of Tune domains; domains may also sit in lists,
            tuples and the options of ``tune.choice``); usually left out and taken from Tune's
            ``config``/``param_space`` instead.
        metric: Result key to optimize, or a list of them (several objectives; Ray Tune 2.60
            cannot take the list itself, see ``outcome_constraints``); may come from
            ``tune.run``/``TuneConfig`` instead. With a mode and no metric, Tune's default metric
            ``"_metric"`` is optimized.
        mode: ``"min"`` or ``"max"`` (a list, one per metric, with several metrics); may come
            from ``tune.run``/``TuneConfig`` instead.
        points_to_evaluate: Configs (nested or '/'-flattened dicts) to try first, in order;
            missing parameters (and options of choices) are filled in at random.
        evaluated_rewards: Metric values already known for ``points_to_evaluate``: those points
            become observations instead of being run. With several metrics or constraints, one
            dict ``{metric: value}`` per point with every metric.
        n_initial: Number of results gathered from ``points_to_evaluate`` and a scrambled Sobol
            design before the GP is used; default ``clip(2 * dim, 5, 20)``, capped at
            ``max(4, num_samples // 3)`` when Tune passes ``num_samples``.
        acquisition: ``"logei"`` (default, numerically stable log expected improvement),
            ``"ei"``, ``"pi"`` or ``"ucb"``.
        seed: Makes the suggestion sequence reproducible for the same sequence of results.
        max_concurrent: Most trials pending at once; ``suggest`` returns None at the limit.
            Tune's ``max_concurrent_trials`` sets it too.
        engine: The engine's tuning constants (``raybo.EngineOptions``); the defaults are what
            the benchmarks measured.
        resource_attr: Result key of the resource a trial has used (epochs), the scheduler's
            ``time_attr``. Every intermediate result is then a point of the trial's learning
            curve, and once a scheduler (ASHA, HyperBand) has stopped a trial below the maximum
            resource the GP models (configuration, resource) and predicts final values
            (``fidelity.py``); without a scheduler nothing changes. None: intermediate results
            are ignored and a trial's last result is its value, as if it had run to the end.
        max_resource: The final fidelity (the scheduler's ``max_t``); default: the highest
            level any trial has reported.
        prior: Believed-best values of some or all parameters (nested or '/'-flattened keys;
            for a conditional space, values inside the believed option). The acquisition is
            weighted by this belief's density to the power ``beta / n`` after ``n`` finished
            trials (piBO), and every other design point is drawn from it, the first being the
            believed configuration (``raybo/prior.py``). Not with ``acquisition="ucb"``.
        prior_confidence: ``"low"``, ``"medium"`` or ``"high"`` (the belief's width: a normal
            of standard deviation 0.5, 0.25 or 0.1 of the parameter's searched range, or for a
            choice a weight of 2, 4 or 8 on the believed option against 1 on each other), or a
            dict of them per key of ``prior`` (keys not given: "medium").
        outcome_constraints: Limits on other metrics, Ax's strings such as
            ``["peak_memory_mb <= 512"]``. With a list of metrics (and one mode each) the search
            is multi-objective (log expected hypervolume improvement); with constraints it
            multiplies in the probability that they hold (``strategies/multi.py``). Every result
            must then carry every metric, or its trial counts as failed.
        reference_point: ``{objective: value}``, the worst values that still count for the
            hypervolume; objectives left out are inferred from the Pareto front (logged).
    """

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        evaluated_rewards: list[float | dict[str, float]] | None = None,
        n_initial: int | None = None,
        acquisition: str = "logei",
        seed: int | None = None,
        max_concurrent: int | None = None,
        engine: EngineOptions | None = None,
        resource_attr: str | None = "training_iteration",
        max_resource: float | None = None,
        prior: dict[str, Any] | None = None,
        prior_confidence: str | dict[str, Any] = "medium",
        outcome_constraints: list[str] | None = None,
        reference_point: dict[str, float] | None = None,
    ):
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        outcomes = outcomes_from(metric, mode, outcome_constraints, reference_point)
        metric, mode = first(metric), first(mode)  # the first objective; all in outcomes
        self._settings = Settings(seed=seed, metric=metric, mode=mode, acquisition=acquisition,
                                  n_initial=n_initial, max_concurrent=max_concurrent,
                                  engine=engine or EngineOptions(),
                                  resource_attr=resource_attr, max_resource=max_resource,
                                  outcomes=outcomes)
        self._design = InitialDesign.create(points_to_evaluate, evaluated_rewards)
        self._prior_values, self._prior_confidence = _checked_prior(prior, prior_confidence,
                                                                    acquisition)
        self._prior: Prior | None = None  # parsed once the space is known
        self._warm_data: list[list[Any]] = []  # earlier trials waiting for the space
        for reward in evaluated_rewards or () if outcomes and outcomes.metrics else ():
            outcomes.known_value(reward)  # a dict lacking a metric fails here, naming it
        super().__init__(metric=metric, mode=mode)
        self._state = TrialState()
        self._n_evaluated = 0
        self._space: SearchSpace | None = None
        # surrogate strategies by name, each with its fit cache (warm start); never pickled
        self._strategies: dict[str, Strategy] = {}
        # chosen at each state change (_state_changed); no records yet: the plain GP
        self._strategy_name: str = choose(self._settings, self._state)
        self._restored = RestoredTrials()
        self._metric_reader = MetricReader()  # notices a wrong metric name (metric.py)
        if space is not None:
            self._set_space(space)

    @property
    def metric(self) -> str | list[str] | None:
        o = self._settings.outcomes
        return list(o.metrics) if o is not None and o.multi else self._metric_key

    @property
    def mode(self) -> str | list[str] | None:
        o = self._settings.outcomes
        return list(o.modes) if o is not None and o.multi else self._settings.mode

    @property
    def _metric_key(self) -> str | None:
        s = self._settings
        return s.metric if s.metric or not s.mode else DEFAULT_METRIC

    # -- Tune's Searcher API ---------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None,
                              config: dict[str, Any], **spec: Any) -> bool:
        # Tune passes Experiment.PUBLIC_KEYS (num_samples among them) as spec
        self._settings = self._settings.with_tune_properties(metric, mode,
                                                             spec.get("num_samples"))
        if self._space is not None:
            return False  # like Ray's searchers: a space given twice is an error Tune reports
        if config:
            self._set_space(config)
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        check_positive_int("max_concurrent", max_concurrent)
        if batch_limiter_calling(self) is not None:
            self._settings = replace(self._settings, max_concurrent=None)
            return False  # the limiter enforces its limit and its batches
        self._settings = replace(self._settings, max_concurrent=max_concurrent)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        space = self._require_ready()
        limit = self._settings.max_concurrent
        if limit and self._restored.n_counted(self._state.n_pending) >= limit:
            return None
        x, origin, given = self._next_point(space)
        config = space.decode(x, exact=given)
        self._state.add_pending(trial_id, config, space.encode(config), origin)
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """An intermediate result: a point of the trial's learning curve (``resource_attr``),
        and evidence for the restore bookkeeping (``concurrency.py``)."""
        self._restored.on_report(trial_id, trial_id in self._state.records)
        self._report(trial_id, result)
        self._state_changed()

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if not error:  # the result that made a scheduler stop the trial comes only here
            self._report(trial_id, result)
        y, values = (None, None) if error else self._read(result)
        record = self._state.records.get(trial_id)
        if (result is None and not error and record is not None and record.reports
                and self._settings.outcomes is None):
            # HyperBand stops a paused trial without a result: it ended at its last report
            y = record.reports[-1][1]
        if result is not None and not error:
            self._restored.on_report(trial_id, trial_id in self._state.records)
        self._restored.on_complete(trial_id)
        if not self._state.complete(trial_id, y, values):
            logger.debug("GPSearch: ignoring result of unknown trial %s", trial_id)
        self._state_changed()
        self._metric_reader.check(self._metric_key)

    def add_evaluated_point(self, parameters: dict[str, Any],
                            value: float | dict[str, float] | None,
                            error: bool = False, pruned: bool = False,
                            intermediate_values: list[float] | None = None) -> None:
        self._observe(self._require_ready(), parameters, None if error else value)

    def add_evaluated_trials(self, trials_or_analysis: Any, metric: str) -> None:
        """Earlier trials (any form ``warm_start_from`` reads) as observations."""
        self.warm_start_from(trials_or_analysis, use="data", metric=metric)

    @class_or_instance
    def warm_start_from(cls, self: GPSearch | None, source: Any, *, use: str = "data",
                        metric: str | None = None, mode: str | None = None,
                        confidence: str | dict[str, Any] | None = None,
                        **kwargs: Any) -> GPSearch:
        """Start from an earlier experiment (``raybo/warmstart.py``: an ``ExperimentAnalysis``,
        a ``ResultGrid``, a Tune experiment or ``raybo tune`` run directory, or a list of
        results). ``use="data"`` (same task): its finished trials become observations, failures
        included. ``use="prior"`` (a related task): its best configuration becomes the prior's
        centre, at ``confidence`` (default the searcher's ``prior_confidence``); the user's own
        ``prior`` wins where both name a parameter. ``metric``/``mode``: the earlier run's
        (default this searcher's). On the class, ``GPSearch.warm_start_from(source, metric=...,
        mode=..., **kwargs)`` builds ``GPSearch(metric=metric, mode=mode, **kwargs)`` first.
        Returns the searcher."""
        if self is None:
            self = cls(metric=metric, mode=mode, **kwargs)
        elif kwargs:
            raise TypeError(f"warm_start_from got unexpected arguments {sorted(kwargs)}")
        metric, mode = metric or self.metric, mode or self.mode
        if use not in USES or not metric or (use == "prior" and mode not in ("min", "max")):
            raise ValueError(f"warm_start_from needs use in {USES} (got {use!r}), a metric "
                             f"(got {metric!r}) and, for use='prior', mode 'min' or 'max' "
                             f"(got {mode!r})")
        trials = past_trials(source, metric)
        if use == "prior":
            self._prior_confidence = _checked_prior(
                {}, confidence or self._prior_confidence, self._settings.acquisition)[1]
            self._prior_values = merge_prior(self._prior_values, best_config(trials, mode))
            if self._space is not None:
                self._prior = parse_prior(self._space, self._prior_values,
                                          self._prior_confidence)
        elif self._space is None:
            self._warm_data += [[config, value] for config, value in trials]
        else:
            self._observe_warm(self._space, trials)
        return self

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    def get_state(self) -> dict[str, Any]:
        """Plain-data, versioned state (layout in ``checkpoint.py``): everything needed to
        continue, no torch objects, no Tune classes, nothing shared with the live searcher."""
        return plain_copy({
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "settings": self._settings.to_dict(),
            "space": None if self._space is None else self._space.to_dict(),
            "design": self._design.to_dict(), "n_evaluated": self._n_evaluated,
            "trials": self._state.to_dict(),
            "prior": None if self._prior_values is None else {
                "values": self._prior_values, "confidence": self._prior_confidence},
            "warm_data": self._warm_data,
        })

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from ``get_state()``'s dict (or an older version's, see ``checkpoint.py``).
        Trials pending in it count against ``max_concurrent`` until Tune shows it will not
        resume them (see ``concurrency.py``)."""
        state = check_state(plain_copy(state))
        settings = Settings.from_dict(state["settings"])
        space = None if state["space"] is None else SearchSpace.from_dict(state["space"])
        design = InitialDesign.from_dict(state["design"])
        trials = TrialState.from_dict(state["trials"])
        if space is not None and any(len(r.x) != space.dim for r in trials.records.values()):
            raise ValueError(f"GPSearch state: trial encodings do not have the space's "
                             f"{space.dim} columns; the state is corrupt")
        self._settings, self._space, self._design = settings, space, design
        prior = state["prior"] or {"values": None, "confidence": "medium"}
        self._prior_values, self._prior_confidence = prior["values"], prior["confidence"]
        self._prior = None if space is None or prior["values"] is None else parse_prior(
            space, prior["values"], prior["confidence"])
        self._warm_data = list(state["warm_data"])
        self._n_evaluated, self._state = int(state["n_evaluated"]), trials
        self._restored.on_restore(trials.pending_ids, list(trials.records))
        self._strategies = {}  # refitted lazily at the next suggest
        self._state_changed()

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_strategies"] = {}  # torch objects are rebuilt, never pickled
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        if "_metric_reader" not in d:  # pickled before the metric reader had a class of its own
            d = {"_metric_reader": MetricReader.from_attributes(d),
                 **{k: v for k, v in d.items() if k not in MetricReader.OLD_ATTRIBUTES}}
        if "_settings" in d and "_space" in d:  # state version 2 or later, as an object
            d = {**d, "_settings": _current_engine(d["_settings"])}
        d = {"_prior_values": None, "_prior_confidence": "medium", "_prior": None,
             "_warm_data": [], **d}  # pickled before priors existed
        if "_strategies" in d:
            self.__dict__.update(d)
            return
        if "_mf_cache" in d:  # pickled before strategies had names: the same fields otherwise
            d = {k: v for k, v in d.items() if k not in ("_fit_cache", "_mf_cache")}
            self.__dict__.update(d, _strategies={})
            self._state_changed()
            return
        # pickled by an older raybo (e.g. in the tuner.pkl of an older Tuner): continue from
        # the state that version would have saved
        if "_settings" in d:  # state version 2
            GPSearch.__init__(self, seed=vars(d["_settings"])["seed"])
            self.set_state(v2_state_from_attributes(d))
        else:  # state version 1
            GPSearch.__init__(self, seed=d["_seed"])
            self.set_state(v1_state_from_attributes(d))

    # -- public extras ---------------------------------------------------------------------
    @property
    def n_pending(self) -> int:
        """Trials suggested and not yet completed."""
        return self._state.n_pending

    def trial_origins(self) -> dict[str, str]:
        """Where each suggested trial's config came from, by trial id: ``"given"``
        (``points_to_evaluate``), ``"design"`` (the quasi-random initial design), ``"gp"`` or
        ``"fallback"`` (a quasi-random point because no GP could be fitted, or the GP's point
        repeated a tried config). A new dict; known points (``evaluated_rewards``,
        ``add_evaluated_point``) are observations, not trials, and are absent."""
        return {k: r.origin for k, r in self._state.records.items() if r.origin is not None}

    def trial_origin(self, trial_id: str) -> str | None:
        """``trial_origins()[trial_id]`` without building the dict; None for unknown ids."""
        record = self._state.records.get(trial_id)
        return None if record is None else record.origin

    def pareto_front(self) -> list[dict[str, Any]]:
        """The feasible non-dominated trials and known points so far (``raybo.pareto_front``
        over this searcher's records): ``{"trial_id", "config", <every metric read>}`` each, in
        the order they were created. One metric: the best trial(s)."""
        return searcher_front(self._state, self._settings)

    # -- read-only inspection (copies; changing them changes nothing here) -------------------
    def observations(self) -> dict[str, dict[str, Any]]:
        """Every trial and known point by id, as plain data: ``config``, ``x`` (the unit-cube
        encoding, ``(d,)`` list), ``status`` (``"pending"``, ``"done"`` or ``"failed"``), ``y``
        (the metric; None unless done), ``origin`` (see ``trial_origins``; None for known
        points) and ``reports`` (``[resource, metric]`` pairs of the learning curve as kept)."""
        return plain_copy(self._state.to_dict()["records"])

    @property
    def strategy(self) -> str:
        """The surrogate the next GP suggestion uses: ``"plain"`` (a GP over configurations) or
        ``"curve"`` (the learning-curve GP over configuration and resource, once a scheduler
        stopped a trial below the maximum resource) or ``"outcomes"`` (several metrics or
        outcome constraints: one GP each, ``strategies/multi.py``)."""
        return self._strategy_name

    def last_fit(self, strategy: str | None = None) -> dict[str, Any] | None:
        """The hyperparameters kept from the last fit of ``strategy`` (default: the one in use)
        for the next warm start, or None if it has not fitted since this searcher was built or
        restored: ``{"strategy", "n_fitted"`` (training rows when the hyperparameters were last
        optimized), ``"hyperparameters"`` (the GP's ``state_dict`` as flat lists: GPyTorch's raw,
        unconstrained parameters and its buffers)}``."""
        name = strategy or self.strategy
        fitted = self._strategies.get(name)
        if fitted is None or fitted.cache.warm_state is None:
            return None
        return {"strategy": name, "n_fitted": fitted.cache.n_fitted,
                "hyperparameters": {k: v.detach().flatten().tolist()
                                    for k, v in fitted.cache.warm_state.items()}}

    @property
    def design_size(self) -> int:
        """Successful results gathered (from ``points_to_evaluate`` and the quasi-random design)
        before the GP is used (needs the space)."""
        if self._space is None:
            raise RuntimeError("GPSearch has no search space yet: the design size depends on it")
        return self._design_size

    def settings(self) -> dict[str, Any]:
        """The searcher's settings as plain data (``seed``, ``metric``, ``mode``, ``budget``
        (Tune's ``num_samples``), ``resource_attr``, ``max_resource``, ``engine``, ...)."""
        return plain_copy(self._settings.to_dict())

    def diagnostics(self) -> dict[str, Any]:
        """Leave-one-out check of the surrogate on the observed trials, in metric units.

        ``loo_rmse``: RMSE of each observation predicted from all the others; ``lower``/``upper``:
        each prediction's 95% band in metric units (the GP's Gaussian band mapped back through
        the output warp); ``loo_calibration``: fraction of observations inside their band (about
        0.95 when the GP's uncertainty is honest). ``{"n": 0}`` with fewer than 3 successful
        observations.
        """
        return loo_diagnostics(self._state, self._require_ready(), self._settings.mode)

    # -- internals -------------------------------------------------------------------------
    def _set_space(self, config: dict[str, Any]) -> None:
        space = SearchSpace(config)
        # bad points fail here, before any trial runs, not when they are reached
        for i, point in enumerate(self._design.points):
            _check_point(space, point, f"points_to_evaluate[{i}]")
        if self._prior_values is not None:
            self._prior = parse_prior(space, self._prior_values, self._prior_confidence)
        self._space = space
        self._observe_warm(space, [tuple(t) for t in self._warm_data])
        self._warm_data = []
        for i, (point, reward) in enumerate(self._design.take_known_points()):
            try:  # known points become observations
                self._observe(space, point, reward)
            except ValueError as err:
                raise ValueError(f"points_to_evaluate[{i}] (with evaluated_rewards) must "
                                 f"give every parameter: {err}") from None

    def _observe(self, space: SearchSpace, point: dict[str, Any], value: Any) -> None:
        """Record a complete config with a known value (None/NaN: failed; a dict by metric with
        several outcomes) as an observation."""
        o = self._settings.outcomes
        y, values = (as_float(value), None) if o is None else o.known_value(value)
        x = space.encode(point)
        self._n_evaluated += 1
        self._state.add_observation(f"__evaluated_{self._n_evaluated}",
                                    space.decode(x, exact=point), x, y, values)
        self._state_changed()

    def _observe_warm(self, space: SearchSpace, trials: list[tuple[dict[str, Any], Any]]
                      ) -> None:
        """Earlier trials as observations; those whose config is not in ``space`` are skipped
        with a warning."""
        skipped = []
        for config, value in trials:
            try:
                self._observe(space, config, value)
            except ValueError as err:
                skipped.append(str(err))
        if skipped:
            logger.warning("GPSearch warm start: %d of %d earlier trials are not in the search "
                           "space and were skipped (first: %s)", len(skipped), len(trials),
                           skipped[0])

    def _require_ready(self) -> SearchSpace:
        if self._space is None:
            raise RuntimeError(
                "GPSearch has no search space: pass space= to GPSearch or a config/param_space "
                "of Tune domains to tune.run/Tuner")
        if not self.mode:
            raise RuntimeError(
                "GPSearch needs metric and mode (mode 'min' or 'max'; with a mode alone, Tune's "
                f"default metric {DEFAULT_METRIC!r} is optimized): pass them to GPSearch or to "
                "tune.run/TuneConfig. Tune passes them on only together with a "
                "config/param_space, so when GPSearch(space=...) holds the whole space, give "
                "metric and mode to GPSearch")
        return self._space

    @property
    def _design_size(self) -> int:
        s = self._settings
        return design_size(self._space.dim, s.n_initial, s.budget, s.engine.design_max)

    def _next_point(self, space: SearchSpace
                    ) -> tuple[np.ndarray, str, dict[str, Any] | None]:
        """``(x, origin, given)``: the ``(d,)`` encoding of the next config, where it came from,
        and the user's point it fills in (``origin == "given"``) or the prior of a design point
        drawn from it (whose exact floats the config keeps), else None."""
        X_all = self._all_x(space)
        seed = self._settings.seed
        given = self._design.next_point()
        if given is not None:
            rng = np.random.default_rng([seed, len(self._state.records)])
            return fill_point(space, given, rng), "given", given
        if not design_finished(self._state.n_done, self._design_size):
            k = sum(r.origin == "design" for r in self._state.records.values())
            x = None if self._prior is None else design_point(
                self._prior, space, seed, k, self._settings.engine.prior_design_every, X_all)
            if x is None:
                return self._design.sobol_point(space, seed, X_all), "design", None
            return x, "design", self._prior_values  # decoded with the user's exact floats
        s = self._settings
        weight = None if self._prior is None else log_weight(
            self._prior, space, self._state.n_finished, s.engine.prior_beta)
        x = propose(self._strategy(), self._state, space, s.mode, s.acquisition,
                    seed=self._step_seed(), X_avoid=X_all, opts=s.engine, log_weight=weight)
        if x is None:  # no GP could be fitted (warned), or a repeat: a quasi-random point
            return self._design.sobol_point(space, seed, X_all), "fallback", None
        return x, "gp", None

    def _state_changed(self) -> None:
        """Choose the surrogate strategy for the records as they now are (``strategies.choose``:
        the learning-curve GP once a scheduler stopped a trial, else the plain GP)."""
        self._strategy_name = choose(self._settings, self._state)

    def _strategy(self) -> Strategy:
        """The chosen strategy; each keeps its own fit cache for as long as the searcher lives."""
        name = self._strategy_name
        if name not in self._strategies:
            self._strategies[name] = create(name, self._settings)
        return self._strategies[name]

    def _read(self, result: dict[str, Any] | None
              ) -> tuple[float | None, dict[str, float] | None]:
        """A final result's metric and, with several outcomes, every metric's value (None,
        None when one is missing: the trial failed)."""
        y = self._metric_reader.value(result, self._metric_key)
        o = self._settings.outcomes
        values = None if o is None or y is None else o.read(result)
        return (None, None) if o is not None and values is None else (y, values)

    def _report(self, trial_id: str, result: dict[str, Any] | None) -> None:
        """Record ``result``'s metric at its ``resource_attr`` level (if it has both)."""
        attr, metric = self._settings.resource_attr, self._metric_key
        if not attr or not result or metric not in result:
            return
        t, y = as_float(result.get(attr)), as_float(result[metric])
        if t is not None and y is not None:
            self._state.report(trial_id, t, y)

    def _step_seed(self) -> int:
        return int(np.random.SeedSequence([self._settings.seed, len(self._state.records)])
                   .generate_state(1)[0])

    def _all_x(self, space: SearchSpace) -> np.ndarray:
        xs = [r.x for r in self._state.records.values()]
        return np.array(xs, dtype=float).reshape(len(xs), space.dim)


def _current_engine(settings: Settings) -> Settings:
    """``settings`` unpickled from an older raybo, whose ``EngineOptions`` lack the fields added
    since (a frozen dataclass read back without its constructor would take today's defaults):
    rebuilt so that each missing option keeps the behaviour that raybo had."""
    engine = vars(settings)["engine"]
    return replace(settings, engine=EngineOptions.from_dict(dict(vars(engine))))


def _checked_prior(prior: Any, confidence: Any, acquisition: str) -> tuple[Any, Any]:
    """``(prior, prior_confidence)`` checked as far as they can be without the space."""
    if prior is not None and not isinstance(prior, dict):
        raise ValueError(f"prior must be a dict of believed-best values, e.g. {{'lr': 1e-3}}; "
                         f"got {type(prior).__name__}")
    check_confidence(confidence)
    if prior is not None and acquisition == "ucb":
        raise ValueError("prior weights the acquisition by a density (piBO), which needs a "
                         "positive acquisition: use acquisition 'logei', 'ei' or 'pi'")
    return prior, confidence


def _check_point(space: SearchSpace, point: dict[str, Any], what: str) -> None:
    """Reject a known config with values outside the space or keys the space does not have."""
    unknown = space.unknown_keys(point)
    if unknown:
        raise ValueError(
            f"{what} has keys that are not in the search space: {unknown}; the space has "
            f"{sorted(space.key_names())}")
    try:
        space.encode_partial(point, fill=np.full(space.dim, 0.5))
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None

