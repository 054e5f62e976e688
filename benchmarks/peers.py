"""Searcher factories: raybo's GPSearch variants and the Ray Tune peers, one seed each.

Every factory returns a ``Searcher`` whose search properties are already set the way Tune
sets them (``set_search_properties(metric, mode, space)``).  Peers are optional
dependencies: ``available(name)`` says whether one can be built here, and why not.
Each peer runs at its documented recommended settings (see benchmarks/README.md).
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable

import numpy as np
from ray.tune.search import Searcher
from ray.tune.search.sample import Categorical, Domain
from ray.tune.search.variant_generator import assign_value, parse_spec_vars

from benchmarks.problems import Problem

METRIC = "loss"
MODE = "min"
MAX_NESTING = 50  # RandomSearcher passes over a nested space: a guard, far above real depths


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


def _gp(acquisition: str | None, variant: str | None = None
        ) -> Callable[[Problem, int, int], Searcher]:
    def build(problem: Problem, seed: int, workers: int) -> Searcher:
        from raybo import EngineOptions, GPSearch

        kwargs = {} if acquisition is None else {"acquisition": acquisition}
        if variant is not None:
            from benchmarks.ablations import VARIANTS

            kwargs["engine"] = EngineOptions(**VARIANTS[variant])
        return GPSearch(seed=seed, **kwargs)

    return build


def _random(problem: Problem, seed: int, workers: int) -> Searcher:
    return RandomSearcher(seed=seed)


def _optuna_tpe(problem: Problem, seed: int, workers: int) -> Searcher:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna >= 4: multivariate TPE with constant_liar (running trials) is the default.
    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=seed), seed=seed)


def _optuna_gp(problem: Problem, seed: int, workers: int) -> Searcher:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The benchmark objectives are noise-free, which GPSampler's docs say to declare.
    sampler = optuna.samplers.GPSampler(seed=seed, deterministic_objective=True)
    return OptunaSearch(sampler=sampler, seed=seed)


def _hebo(problem: Problem, seed: int, workers: int) -> Searcher:
    from ray.tune.search.hebo import HEBOSearch

    # HEBO proposes batches of max_concurrent points and waits for the whole batch.
    return HEBOSearch(random_state_seed=seed, max_concurrent=workers)


def _hyperopt(problem: Problem, seed: int, workers: int) -> Searcher:
    from ray.tune.search.hyperopt import HyperOptSearch

    # TPE with hyperopt's defaults (20 random startup points, 24 EI candidates).
    return HyperOptSearch(random_state_seed=seed)


def _bayesopt(problem: Problem, seed: int, workers: int) -> Searcher:
    from ray.tune.search.bayesopt import BayesOptSearch

    return BayesOptSearch(random_state=seed)


def _ax(problem: Problem, seed: int, workers: int) -> Searcher:
    from ray.tune.search.ax import AxSearch

    return AxSearch()


# name -> (factory, modules it needs, float-only)
PEERS: dict[str, tuple[Callable[[Problem, int, int], Searcher], tuple[str, ...], bool]] = {
    "gp": (_gp(None), ("raybo",), False),
    "gp-ei": (_gp("ei"), ("raybo",), False),
    "gp-pi": (_gp("pi"), ("raybo",), False),
    "gp-ucb": (_gp("ucb"), ("raybo",), False),
    "random": (_random, (), False),
    "optuna-tpe": (_optuna_tpe, ("optuna",), False),
    "hyperopt": (_hyperopt, ("hyperopt",), False),
    "optuna-gp": (_optuna_gp, ("optuna", "greenlet"), False),
    "hebo": (_hebo, ("hebo", "pymoo"), False),
    "bayesopt": (_bayesopt, ("bayes_opt",), True),
    "ax": (_ax, ("ax",), False),
}


def _lookup(name: str):
    """``PEERS[name]``, or for ``gp~VARIANT`` raybo with the engine options of
    ``benchmarks.ablations.VARIANTS[VARIANT]`` (an ablation arm)."""
    if name.startswith("gp~"):
        from benchmarks.ablations import VARIANTS

        variant = name[3:]
        if variant not in VARIANTS:
            raise ValueError(f"unknown engine variant {variant!r}; known: {sorted(VARIANTS)}")
        return _gp(None, variant), ("raybo",), False
    return PEERS[name]


# Searchers whose handling of a Tune space resolves domains inside `tune.choice` options
# (conditional spaces).  Ray 2.60's OptunaSearch accepts such a space but suggests the inner
# domains unresolved (checked by hand); HEBO, BayesOpt and Ax convert flat spaces only.
NESTED_OK = {"gp", "gp-ei", "gp-pi", "gp-ucb", "random", "hyperopt"}


def nested(space: object) -> bool:
    """True if some ``tune.choice`` in ``space`` has an option holding a Tune domain."""
    if isinstance(space, Categorical):
        return any(_holds_domain(c) for c in space.categories)
    if isinstance(space, dict):
        return any(nested(v) for v in space.values())
    if isinstance(space, (list, tuple)):
        return any(nested(v) for v in space)
    return False


def _holds_domain(value: object) -> bool:
    if isinstance(value, Domain):
        return True
    if isinstance(value, dict):
        return any(_holds_domain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_domain(v) for v in value)
    return False


def available(name: str, problem: Problem) -> str | None:
    """None if ``name`` can run on ``problem`` here, else the reason it is skipped."""
    if name not in PEERS and not name.startswith("gp~"):
        raise ValueError(f"searcher must be one of {sorted(PEERS)}, got {name!r}")
    _, modules, float_only = _lookup(name)
    if float_only and not problem.float_only:
        return f"{name} supports float parameters only"
    if name.split("~")[0] not in NESTED_OK and nested(problem.space):
        return f"{name} cannot search domains inside tune.choice options (use {problem.name}_flat)"
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"{name} needs {', '.join(missing)} (pip install -e '.[bench]')"
    if name.startswith("gp"):
        try:
            from raybo import GPSearch  # noqa: F401
        except ImportError as exc:
            return f"{name}: raybo.GPSearch not importable ({exc})"
    return None


def make_searcher(
    name: str, problem: Problem, seed: int, workers: int, *, set_space: bool = True
) -> Searcher:
    """Build searcher ``name`` for ``problem``; with ``set_space`` sets metric/mode/space as
    Tune would (leave it False when Tune itself will pass the space)."""
    factory = _lookup(name)[0]
    searcher = factory(problem, seed, workers)
    if set_space and not searcher.set_search_properties(METRIC, MODE, problem.space):
        raise RuntimeError(f"{name}: set_search_properties refused the problem's space")
    return searcher
