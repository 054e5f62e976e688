"""Combined algorithm selection and hyperparameter tuning (CASH) on scikit-learn's digits.

Choose a classifier family, then its hyperparameters; the value is the 3-fold cross-validated
log-loss (minimized) on a fixed stratified subsample of 600 of the 1797 bundled 8x8 digit images
(pixels / 16).  Folds, subsample and every model's ``random_state`` are fixed, so a config has
one value (cost per evaluation: benchmarks/README.md, "Conditional spaces").

Families (Tune samples each with probability 1/5):
* ``logreg``: ``LogisticRegression(C)``;
* ``kernel_logreg``: ``Nystroem(rbf, gamma, n_components)`` features + ``LogisticRegression(C)``;
* ``svc``: ``SVC(C)`` with a nested kernel choice: rbf (gamma), poly (degree, gamma, coef0) or
  linear; probabilities by sigmoid (Platt) calibration on 3 inner folds;
* ``extra_trees``: 30 trees, ``max_features``, ``min_samples_leaf``, ``bootstrap``;
* ``knn``: ``n_neighbors``, ``weights``, Minkowski ``p``.

f* is not known in closed form: ``CASH_F_STAR`` is the best value of a large offline search
(``python -m benchmarks.cash_optimum``; record in ``results/conditional/cash_optimum.json``).
scikit-learn is imported only when the objective is first evaluated.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from benchmarks.treespace import Canon, Cat, Choice, Num, Option, Tree, TreeProblem

N_SAMPLES = 600  # stratified subsample of digits: keeps one evaluation well under 1 s
N_FOLDS = 3
N_TREES = 30  # extra_trees: fixed, so that its cost stays below 1 s at max_features = 1
MAX_ITER = 1000  # LogisticRegression (lbfgs): converges for C <= 1e3 on these features
LR_TOL = 1e-6  # lbfgs tol: smooth in gamma where the default is not (README "Conditional spaces")
SEED = 0

_SVC_KERNEL = Choice(
    "kernel",
    tag="name",
    options=(
        Option("rbf", (Num("gamma", "log", 1e-4, 1.0),)),
        Option(
            "poly",
            (
                Num("degree", "int", 2, 4),
                Num("gamma", "log", 1e-3, 1.0),
                Num("coef0", "float", 0.0, 2.0),
            ),
        ),
        Option("linear"),
    ),
)
CASH_TREE = Tree(
    [
        Choice(
            "classifier",
            tag="family",
            options=(
                Option("logreg", (Num("C", "log", 1e-3, 1e3),)),
                Option(
                    "kernel_logreg",
                    (
                        Num("gamma", "log", 1e-3, 1.0),
                        Num("C", "log", 1e-2, 1e3),
                        Num("n_components", "int", 20, 400),
                    ),
                ),
                Option("svc", (Num("C", "log", 1e-2, 1e3), _SVC_KERNEL)),
                Option(
                    "extra_trees",
                    (
                        Num("max_features", "log", 0.02, 1.0),
                        Num("min_samples_leaf", "int", 1, 10),
                        Cat("bootstrap", (False, True)),
                    ),
                ),
                Option(
                    "knn",
                    (
                        Num("n_neighbors", "logint", 1, 50),
                        Cat("weights", ("uniform", "distance")),
                        Cat("p", (1, 2)),
                    ),
                ),
            ),
        )
    ]
)

# Best of the offline search (results/conditional/cash_optimum.json; settings in the README);
# regret = value - CASH_F_STAR.
CASH_F_STAR = 0.10522123012835934
CASH_ARGMIN: Canon = {
    "classifier": "kernel_logreg",
    "kernel_logreg_gamma": 0.27967013715050976,
    "kernel_logreg_C": 1000.0,  # the range's upper end
    "kernel_logreg_n_components": 396,
}
CASH_TARGET = 0.01  # log-loss above f*; the best other family is about 0.08 above it


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, train_test_split

    X, y = load_digits(return_X_y=True)
    X, _, y, _ = train_test_split(X / 16.0, y, train_size=N_SAMPLES, stratify=y, random_state=SEED)
    folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(X, y))
    return X, y, folds


def make_model(c: Canon):
    """The scikit-learn estimator of a canonical config."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    family = c["classifier"]
    if family == "logreg":
        return LogisticRegression(C=float(c["logreg_C"]), tol=LR_TOL, max_iter=MAX_ITER)
    if family == "kernel_logreg":
        features = Nystroem(
            kernel="rbf",
            gamma=float(c["kernel_logreg_gamma"]),
            n_components=int(c["kernel_logreg_n_components"]),
            random_state=SEED,
        )
        return make_pipeline(
            features,
            LogisticRegression(C=float(c["kernel_logreg_C"]), tol=LR_TOL, max_iter=MAX_ITER),
        )
    if family == "svc":
        kernel = c["svc_kernel"]
        kw: dict = {}
        if kernel == "rbf":
            kw = {"gamma": float(c["rbf_gamma"])}
        elif kernel == "poly":
            kw = {
                "degree": int(c["poly_degree"]),
                "gamma": float(c["poly_gamma"]),
                "coef0": float(c["poly_coef0"]),
            }
        # Platt scaling on 3 inner folds: scikit-learn 1.9 deprecates SVC(probability=True) in
        # favour of CalibratedClassifierCV(..., ensemble=False), which does the same
        svc = SVC(C=float(c["svc_C"]), kernel=kernel, **kw)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=N_FOLDS, ensemble=False)
    if family == "extra_trees":
        return ExtraTreesClassifier(
            n_estimators=N_TREES,
            max_features=float(c["extra_trees_max_features"]),
            min_samples_leaf=int(c["extra_trees_min_samples_leaf"]),
            bootstrap=bool(c["extra_trees_bootstrap"]),
            random_state=SEED,
            n_jobs=1,
        )
    if family == "knn":
        return KNeighborsClassifier(
            n_neighbors=int(c["knn_n_neighbors"]),
            weights=str(c["knn_weights"]),
            p=int(c["knn_p"]),
        )
    raise ValueError(f"unknown classifier family {family!r}")


def cash_objective(c: Canon) -> float:
    """Mean log-loss over the folds (natural log; predicted probabilities clipped by
    scikit-learn at machine epsilon, so a confident mistake costs about 36)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    X, y, folds = _data()
    losses = []
    for train, test in folds:
        model = make_model(c)
        with warnings.catch_warnings():
            # rare lbfgs non-convergence at large C: the config's value is what it fits
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X[train], y[train])
        losses.append(log_loss(y[test], model.predict_proba(X[test]), labels=np.arange(10)))
    return float(np.mean(losses))


def cash_problem() -> TreeProblem:
    return TreeProblem("cash", CASH_TREE, cash_objective, CASH_F_STAR, CASH_ARGMIN, CASH_TARGET)
