"""Every benchmark problem and every searcher, by name: the one table all entry points read.

Problems come in kinds, each a ``{name: factory}`` table in its own module (``PROBLEM_SOURCES``):
``synthetic`` (``problems.py``), ``conditional`` (tree problems and their ``_flat`` twins,
``conditional.py``, including ``cash``), ``real`` (scikit-learn tasks, ``realtasks.py``); each
factory returns a ``problems.Problem``.  The learning-curve problems (``curves.py``) and the
bundled PyTorch trainables are the scheduler benchmark's problems: ``CURVE_PROBLEMS`` and
``TRAINABLE_PROBLEMS``.

Searchers (``SEARCHERS``): raybo's ``gp`` with each acquisition, the engine's timing modes
(``gp[fit]``, ``gp[nofit]``), the multi-fidelity and last-value GPs of the scheduler arms, every
Ray Tune peer, and ``gp~VARIANT`` for each engine variant of ``ablations.VARIANTS``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from ray.tune.search import Searcher
from ray.tune.search.sample import Categorical, Domain

from benchmarks import peers
from benchmarks.ablations import VARIANTS
from benchmarks.curves import CURVE_PROBLEMS, CurveProblem, get_curve_problem
from benchmarks.peers import METRIC, MODE, Setting
from benchmarks.problems import Problem

# kind -> "module:attribute" of a {name: () -> Problem} table, imported on first use.
# A new suite of Problem factories is one more line here.
PROBLEM_SOURCES: dict[str, str] = {
    "synthetic": "benchmarks.problems:PROBLEMS",
    "conditional": "benchmarks.conditional:CONDITIONAL_PROBLEMS",
    "real": "benchmarks.realtasks:REAL_TASKS",
    "real_suite": "benchmarks.realsuite:REAL_SUITE",
    "failures": "benchmarks.failures:FAILURE_PROBLEMS",
    "mixed_suite": "benchmarks.mixed:MIXED_PROBLEMS",  # synthetic too: more mixed spaces
}
TRAINABLE_PROBLEMS = ("cnn", "gru", "transformer")  # trainables.get_trainable, for schedulers


@cache
def problem_tables() -> dict[str, dict[str, Callable[[], Problem]]]:
    """kind -> {name: factory}; raises if two kinds register one name."""
    tables: dict[str, dict[str, Callable[[], Problem]]] = {}
    seen: dict[str, str] = {}
    for kind, where in PROBLEM_SOURCES.items():
        module, _, attr = where.partition(":")
        table = getattr(importlib.import_module(module), attr)
        for name in table:
            if name in seen:
                raise ValueError(f"problem {name!r} is registered by {seen[name]} and {kind}")
            seen[name] = kind
        tables[kind] = dict(table)
    return tables


def problem_names(kind: str | None = None) -> list[str]:
    """Registered ``Problem`` names, of one kind or all, in registration order."""
    tables = problem_tables()
    return [n for k, t in tables.items() if kind in (None, k) for n in t]


def get_problem(name: str) -> Problem:
    """Build problem ``name``; raises ValueError naming the known problems."""
    for table in problem_tables().values():
        if name in table:
            return table[name]()
    raise ValueError(f"problem must be one of {problem_names()}, got {name!r}")


def get_curve(name: str) -> CurveProblem:
    """A learning-curve problem (``curves.CURVE_PROBLEMS``)."""
    return get_curve_problem(name)


# ---------------------------------------------------------------------------------- searchers
@dataclass(frozen=True)
class SearcherSpec:
    """A searcher: its factory, the modules it needs, whether it takes float parameters only,
    and whether it resolves domains inside ``tune.choice`` options (conditional spaces)."""

    build: peers.Factory
    needs: tuple[str, ...] = ()
    float_only: bool = False
    nested_ok: bool = False


_RAYBO = ("raybo",)
# gp timing modes of benchmarks.latency: refit at every suggest / never refit
GP_TIMING_MODES = {"gp[fit]": {"refit_growth": 0.0},
                   "gp[nofit]": {"refit_growth": 1e9, "refit_always": 0}}

# Ray 2.60's OptunaSearch accepts a nested space but suggests the inner domains unresolved;
# HEBO, BayesOpt and Ax convert flat spaces only: none of them is nested_ok.
SEARCHERS: dict[str, SearcherSpec] = {
    "gp": SearcherSpec(peers.gp(), _RAYBO, nested_ok=True),
    "gp-ei": SearcherSpec(peers.gp("ei"), _RAYBO, nested_ok=True),
    "gp-pi": SearcherSpec(peers.gp("pi"), _RAYBO, nested_ok=True),
    "gp-ucb": SearcherSpec(peers.gp("ucb"), _RAYBO, nested_ok=True),
    **{name: SearcherSpec(peers.gp(engine=opts), _RAYBO, nested_ok=True)
       for name, opts in GP_TIMING_MODES.items()},
    "gp-mf": SearcherSpec(peers.gp_multi_fidelity, _RAYBO, nested_ok=True),
    # a trial's last report is its result, whatever its epoch
    "gp-lastvalue": SearcherSpec(peers.gp(resource_attr=None), _RAYBO, nested_ok=True),
    "random": SearcherSpec(peers.random_search, nested_ok=True),
    "optuna-tpe": SearcherSpec(peers.optuna_tpe, ("optuna",)),
    "hyperopt": SearcherSpec(peers.hyperopt, ("hyperopt",), nested_ok=True),
    "optuna-gp": SearcherSpec(peers.optuna_gp, ("optuna", "greenlet")),
    "hebo": SearcherSpec(peers.hebo, ("hebo", "pymoo")),
    "bayesopt": SearcherSpec(peers.bayesopt, ("bayes_opt",), float_only=True),
    "ax": SearcherSpec(peers.ax, ("ax",)),
    "bohb": SearcherSpec(peers.bohb, ("hpbandster", "ConfigSpace")),
}
VARIANT_PREFIX = "gp~"  # gp~NAME: raybo with EngineOptions(**ablations.VARIANTS[NAME])


def searcher_names() -> list[str]:
    return list(SEARCHERS) + [VARIANT_PREFIX + v for v in VARIANTS]


def searcher_spec(name: str) -> SearcherSpec:
    """``SEARCHERS[name]``, or for ``gp~VARIANT`` an engine variant (an ablation arm)."""
    if name.startswith(VARIANT_PREFIX):
        variant = name[len(VARIANT_PREFIX):]
        if variant not in VARIANTS:
            raise ValueError(f"unknown engine variant {variant!r}; known: {sorted(VARIANTS)}")
        return SearcherSpec(peers.gp(engine=VARIANTS[variant]), _RAYBO, nested_ok=True)
    if name not in SEARCHERS:
        raise ValueError(f"searcher must be one of {sorted(SEARCHERS)}, got {name!r}")
    return SEARCHERS[name]


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


def available(name: str, problem: Problem | None = None) -> str | None:
    """None if searcher ``name`` can run (on ``problem``) here, else the reason it is skipped."""
    spec = searcher_spec(name)
    if problem is not None:
        if spec.float_only and not problem.float_only:
            return f"{name} supports float parameters only"
        if not spec.nested_ok and nested(problem.space):
            return (f"{name} cannot search domains inside tune.choice options "
                    f"(use {problem.name}_flat)")
    missing = [m for m in spec.needs if importlib.util.find_spec(m) is None]
    if missing:
        return f"{name} needs {', '.join(missing)} (pip install -e '.[bench]')"
    if "raybo" in spec.needs:
        try:
            from raybo import GPSearch  # noqa: F401
        except ImportError as exc:
            return f"{name}: raybo.GPSearch not importable ({exc})"
    return None


def make_searcher(name: str, problem: Problem | None, seed: int, workers: int = 1, *,
                  set_space: bool = True, metric: str = METRIC,
                  max_t: int | None = None) -> Searcher:
    """Build searcher ``name``; with ``set_space`` sets metric/mode/``problem.space`` as Tune
    would (leave it False when Tune itself will pass the space)."""
    searcher = searcher_spec(name).build(Setting(seed, workers, metric, max_t))
    if set_space and not searcher.set_search_properties(metric, MODE, problem.space):
        raise RuntimeError(f"{name}: set_search_properties refused the problem's space")
    return searcher


__all__ = ["CURVE_PROBLEMS", "METRIC", "MODE", "PROBLEM_SOURCES", "SEARCHERS", "SearcherSpec",
           "TRAINABLE_PROBLEMS", "available", "get_curve", "get_problem", "make_searcher",
           "problem_names", "searcher_names", "searcher_spec"]
