"""Searcher factories: raybo's GPSearch variants and the Ray Tune peers, one seed each.

Every factory takes a ``Setting`` (seed, worker count, metric, a trial's maximum resource) and
returns an unconfigured ``Searcher``; ``benchmarks.registry`` names them, knows which optional
modules each needs, and sets the search space.  Each peer runs at its documented recommended
settings (benchmarks/README.md, "Peer settings").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ray.tune.search import Searcher
from ray.tune.search.variant_generator import assign_value, parse_spec_vars

METRIC = "loss"
MODE = "min"
MAX_NESTING = 50  # RandomSearcher passes over a nested space: a guard, far above real depths


@dataclass(frozen=True)
class Setting:
    """What a factory may use: the seed, the concurrent workers W, the metric Tune reports
    and ``max_t``, a trial's maximum resource (epochs; multi-fidelity searchers only)."""

    seed: int
    workers: int = 1
    metric: str = METRIC
    max_t: int | None = None


Factory = Callable[[Setting], Searcher]


class RandomSearcher(Searcher):
    """Uniform sampling of the Tune domains with a seeded numpy Generator.

    Nested spaces are resolved as Tune's variant generator does: sample every domain, then
    sample the domains that the sampled values (a choice's dict or list option) hold, until
    none is left.  A flat space takes one pass, drawing exactly as before nesting existed.
    """

    def __init__(self, seed: int | None = None, metric: str = METRIC, mode: str = MODE) -> None:
        super().__init__(metric=metric, mode=mode)
        self._rng = np.random.default_rng(seed)
        self._space: dict = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        _, _, grids = parse_spec_vars(config)
        if grids:
            raise ValueError("RandomSearcher does not support grid_search in the space")
        self._space = config
        self._metric, self._mode = metric or self._metric, mode or self._mode
        return True

    def suggest(self, trial_id: str) -> dict | None:
        config = copy.deepcopy(self._space)
        for _ in range(MAX_NESTING):
            _, domains, _ = parse_spec_vars(config)
            if not domains:
                return config
            for path, dom in domains:
                # a copy: the chosen option's own domains are resolved in place next pass
                assign_value(config, path, copy.deepcopy(dom.sample(random_state=self._rng)))
        raise ValueError(f"space nests domains deeper than {MAX_NESTING} levels")

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        pass


def gp(acquisition: str | None = None, engine: dict | None = None, **gp_kwargs) -> Factory:
    """raybo's ``GPSearch`` with an acquisition, ``EngineOptions(**engine)`` and other
    constructor arguments."""

    def build(s: Setting) -> Searcher:
        from raybo import EngineOptions, GPSearch

        kwargs = dict(gp_kwargs)
        if acquisition is not None:
            kwargs["acquisition"] = acquisition
        if engine is not None:
            kwargs["engine"] = EngineOptions(**engine)
        return GPSearch(seed=s.seed, **kwargs)

    return build


def gp_multi_fidelity(s: Setting) -> Searcher:
    """GPSearch on every epoch's report (``resource_attr="training_iteration"``)."""
    from raybo import GPSearch

    return GPSearch(seed=s.seed, resource_attr="training_iteration", max_resource=s.max_t)


def random_search(s: Setting) -> Searcher:
    return RandomSearcher(seed=s.seed, metric=s.metric)  # Tune checks results for its metric


def optuna_tpe(s: Setting) -> Searcher:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna >= 4: multivariate TPE with constant_liar (running trials) is the default.
    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=s.seed), seed=s.seed)


def optuna_gp(s: Setting) -> Searcher:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The benchmark objectives are noise-free, which GPSampler's docs say to declare.
    sampler = optuna.samplers.GPSampler(seed=s.seed, deterministic_objective=True)
    return OptunaSearch(sampler=sampler, seed=s.seed)


def hebo(s: Setting) -> Searcher:
    from ray.tune.search.hebo import HEBOSearch

    # HEBO proposes batches of max_concurrent points and waits for the whole batch.
    return HEBOSearch(random_state_seed=s.seed, max_concurrent=s.workers)


def hyperopt(s: Setting) -> Searcher:
    from ray.tune.search.hyperopt import HyperOptSearch

    # TPE with hyperopt's defaults (20 random startup points, 24 EI candidates).
    return HyperOptSearch(random_state_seed=s.seed)


def bayesopt(s: Setting) -> Searcher:
    from ray.tune.search.bayesopt import BayesOptSearch

    return BayesOptSearch(random_state=s.seed)


def ax(s: Setting) -> Searcher:
    from ray.tune.search.ax import AxSearch

    return AxSearch()


def bohb(s: Setting) -> Searcher:
    from ray.tune.search.bohb import TuneBOHB

    return TuneBOHB(seed=s.seed)
