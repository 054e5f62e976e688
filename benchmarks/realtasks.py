"""Real tuning tasks: scikit-learn models on bundled data, scored by cross-validated log-loss.

They complement the synthetic suite where it is weakest: log-loss is heavy-tailed (a diverging
SGD run scores 20+, a good model 0.1), the objective has mild noise-like roughness, and nothing
in the engine was tuned on them (README, "A real tuning task"). No optimum is known:
``f_star = 0`` (log-loss >= 0), so "regret" is the log-loss itself, and searchers are compared
on the same seeds.

Each evaluation takes well under a second on one core (small models, 3-fold CV, fixed folds).
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
from ray import tune

from benchmarks.problems import Config, Problem

FOLDS = 3
SUBSAMPLE = 900  # rows kept (digits has 1797): an evaluation stays well under a second
CAP = 35.0  # log-loss of a hard 0/1 prediction that is wrong (sklearn clips at 1e-15)


@cache
def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = (load_digits if name == "digits" else load_breast_cancer)(return_X_y=True)
    keep = np.random.default_rng(0).permutation(len(y))[:SUBSAMPLE]
    return StandardScaler().fit_transform(X[keep]), y[keep]


def _cv_log_loss(model, data: str) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = cross_val_score(model, X, y, scoring="neg_log_loss", error_score=np.nan,
                                 cv=StratifiedKFold(FOLDS, shuffle=True, random_state=0))
    value = float(-np.mean(scores))
    return value if math.isfinite(value) else CAP


def sgd_digits(c: Config) -> float:
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", alpha=c["alpha"], eta0=c["eta0"],
                          learning_rate=c["schedule"], penalty=c["penalty"],
                          l1_ratio=c["l1_ratio"], max_iter=int(c["max_iter"]), tol=None,
                          random_state=0)
    return _cv_log_loss(model, "digits")


def mlp_cancer(c: Config) -> float:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(int(c["width"]),) * int(c["layers"]),
                          alpha=c["alpha"], learning_rate_init=c["lr"],
                          batch_size=int(c["batch_size"]), max_iter=int(c["epochs"]),
                          activation=c["activation"], random_state=0)
    return _cv_log_loss(model, "cancer")


def _unit(names: list[str]):
    def unit(c: Config) -> np.ndarray:  # only for the protocol's pending-distance record
        out = []
        for n in names:
            v = c[n]
            out.append(math.log10(v) if isinstance(v, float) and v > 0 else
                       (float(v) if isinstance(v, (int, float)) else float(hash(v) % 7)))
        return np.array(out, dtype=float)

    return unit


REAL_TASKS = {
    "sgd_digits": lambda: Problem(
        name="sgd_digits", dim=6, f_star=0.0, target=0.15, func=sgd_digits, float_only=False,
        space={"alpha": tune.loguniform(1e-7, 1.0), "eta0": tune.loguniform(1e-5, 10.0),
               "schedule": tune.choice(["constant", "invscaling", "adaptive"]),
               "penalty": tune.choice(["l2", "l1", "elasticnet"]),
               "l1_ratio": tune.uniform(0.0, 1.0), "max_iter": tune.randint(3, 30)},
        unit=_unit(["alpha", "eta0", "schedule", "penalty", "l1_ratio", "max_iter"])),
    "mlp_cancer": lambda: Problem(
        name="mlp_cancer", dim=7, f_star=0.0, target=0.08, func=mlp_cancer, float_only=False,
        space={"lr": tune.loguniform(1e-5, 1.0), "alpha": tune.loguniform(1e-7, 10.0),
               "width": tune.lograndint(2, 65), "layers": tune.randint(1, 3),
               "batch_size": tune.choice([16, 32, 64, 128]), "epochs": tune.randint(3, 40),
               "activation": tune.choice(["relu", "tanh", "logistic"])},
        unit=_unit(["lr", "alpha", "width", "layers", "batch_size", "epochs", "activation"])),
}
