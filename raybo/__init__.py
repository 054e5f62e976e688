"""raybo: Gaussian-process Bayesian optimization for Ray Tune.

>>> from raybo import GPSearch
>>> tune.run(train, config=space, search_alg=GPSearch(metric="val_loss", mode="min", seed=0))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["EngineOptions", "GPSearch", "__version__", "importance", "pareto_front"]

from raybo.options import EngineOptions  # plain dataclass, no heavy imports

if TYPE_CHECKING:
    from raybo.pareto import pareto_front
    from raybo.searcher import GPSearch
    from raybo.sensitivity import importance


def __getattr__(name: str) -> Any:
    # GPSearch pulls in Ray Tune, torch and GPyTorch (~3 s). Importing it on first use (PEP 562)
    # keeps `raybo --help` and argument errors instant; `from raybo import GPSearch` is unchanged.
    if name == "GPSearch":
        from raybo.searcher import GPSearch

        return GPSearch
    if name == "importance":  # Sobol indices of a fitted searcher's GP (raybo/sensitivity.py)
        from raybo.sensitivity import importance

        return importance
    if name == "pareto_front":
        from raybo.pareto import pareto_front

        return pareto_front
    raise AttributeError(f"module 'raybo' has no attribute {name!r}")
