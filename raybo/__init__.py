"""raybo: Gaussian-process Bayesian optimization for Ray Tune.

>>> from raybo import GPSearch
>>> tune.run(train, config=space, search_alg=GPSearch(metric="val_loss", mode="min", seed=0))
"""

from raybo.options import EngineOptions
from raybo.searcher import GPSearch

__version__ = "0.1.0"
__all__ = ["EngineOptions", "GPSearch", "__version__"]
