"""A suite of real tuning tasks: scikit-learn models on data sets scikit-learn ships offline.

Each task is the 3-fold cross-validated score (fixed folds, fixed model seeds) of one model
on one data set, minimized.  The tasks are built to look like users' problems rather than
test functions:

* divergence: SGD-trained networks and linear models on unscaled features blow up for much
  of the space and score a huge finite value (log-loss 20-35, MAE in the thousands), so the
  values are heavy-tailed and the good region is small;
* plateaus: error rates are discrete, and an RBF kernel too narrow for unscaled features
  predicts one class everywhere;
* crashes: ``logreg_cancer`` raises for solver/penalty pairs scikit-learn does not support,
  as a user's training script would (the protocol records a failed trial);
* mixed spaces: log-scaled floats, integers and categorical choices together.

No optimum is known: every metric is nonnegative, so ``f_star = 0`` and "regret" is the score
itself; ``benchmarks/scoring.py`` normalizes against random search instead.  Rows are
subsampled and iterations capped so an evaluation takes about 0.1 s on one core.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cache

import numpy as np
from ray import tune
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform

from benchmarks.problems import Config, Problem

FOLDS = 3
LOG_LOSS_CAP = 34.54  # log-loss of a confident wrong prediction (sklearn clips p at 1e-15)
PRED_CAP = 1e4  # regression predictions beyond this are clipped: a diverged fit scores ~1e4


@cache
def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw (unscaled) features ``(n, d)`` and targets ``(n,)`` of a shipped or seeded data set."""
    from sklearn import datasets

    if name == "digits":  # pixel intensities 0..16
        X, y = datasets.load_digits(return_X_y=True)
        keep = np.random.default_rng(0).permutation(len(y))[:600]
        return X[keep].astype(float), y[keep]
    if name == "cancer":  # 30 features spanning 1e-3 .. 4e3
        return datasets.load_breast_cancer(return_X_y=True)
    if name == "wine":  # proline ~ 1000 next to hue ~ 1
        return datasets.load_wine(return_X_y=True)
    if name == "diabetes":  # raw clinical units: age in years, blood pressure in mm Hg
        return datasets.load_diabetes(return_X_y=True, scaled=False)
    if name == "friedman":
        return datasets.make_friedman1(n_samples=400, n_features=10, noise=1.0, random_state=0)
    if name == "classif":  # 20 features, 6 informative, 5% label noise, 3 classes
        return datasets.make_classification(n_samples=600, n_features=20, n_informative=6,
                                            n_redundant=4, n_classes=3, flip_y=0.05,
                                            class_sep=0.8, random_state=0)
    if name == "sparse_reg":  # 80 features, 8 informative: regularization matters
        X, y = datasets.make_regression(n_samples=200, n_features=80, n_informative=8,
                                        noise=20.0, random_state=0)
        return X, y
    raise ValueError(f"unknown data set {name!r}")


def _scaled(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.preprocessing import StandardScaler

    X, y = _data(name)
    return StandardScaler().fit_transform(X), y


def _cv(model, X: np.ndarray, y: np.ndarray, metric: str, *, crash: bool = False) -> float:
    """Mean ``FOLDS``-fold CV score, lower is better.

    ``metric``: "log_loss", "error" (misclassification rate), "mae" or "mse".  A fit that
    fails to produce finite predictions scores the metric's cap; with ``crash`` an exception
    in a fit propagates instead (the user's script dies).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold, StratifiedKFold

    classify = metric in ("log_loss", "error")
    folds = (StratifiedKFold if classify else KFold)(FOLDS, shuffle=True, random_state=0)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)  # deprecations of sklearn >= 1.8
        for train, test in folds.split(X, y):
            try:
                model.fit(X[train], y[train])
                scores.append(_score(model, X[test], y[test], metric))
            except (ValueError, FloatingPointError, OverflowError):
                if crash:
                    raise
                scores.append(_cap(metric))
    return float(np.mean(scores))


def _cap(metric: str) -> float:
    return {"log_loss": LOG_LOSS_CAP, "error": 1.0, "mae": PRED_CAP, "mse": PRED_CAP**2}[metric]


def _score(model, X: np.ndarray, y: np.ndarray, metric: str) -> float:
    from sklearn.metrics import log_loss

    if metric == "log_loss":
        p = model.predict_proba(X)
        if not np.all(np.isfinite(p)):
            return LOG_LOSS_CAP
        return min(float(log_loss(y, p, labels=model.classes_)), LOG_LOSS_CAP)
    if metric == "error":
        return float(np.mean(model.predict(X) != y))
    pred = np.clip(np.nan_to_num(model.predict(X), nan=PRED_CAP), -PRED_CAP, PRED_CAP)
    err = np.abs(pred - y)
    return float(np.mean(err) if metric == "mae" else np.mean(err**2))


# ---- the tasks ------------------------------------------------------------------------


def mlp_sgd_digits_raw(c: Config) -> float:
    """SGD-trained MLP on unscaled pixels: most learning rates diverge to a log-loss of 20+."""
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(int(c["width"]),), solver="sgd",
                          learning_rate_init=c["lr"], momentum=c["momentum"],
                          nesterovs_momentum=c["nesterov"] == "yes", alpha=c["alpha"],
                          batch_size=int(c["batch_size"]), max_iter=int(c["epochs"]),
                          activation=c["activation"], random_state=0)
    return _cv(model, *_data("digits"), "log_loss")


def mlp_adam_wine_raw(c: Config) -> float:
    """Adam MLP on unscaled wine (proline ~1000 next to hue ~1), 118 training rows per fold."""
    from sklearn.neural_network import MLPClassifier

    width = int(c["width"])
    model = MLPClassifier(hidden_layer_sizes=(width,) * int(c["layers"]), solver="adam",
                          learning_rate_init=c["lr"], alpha=c["alpha"], beta_1=c["beta_1"],
                          batch_size=int(c["batch_size"]), max_iter=int(c["epochs"]),
                          activation=c["activation"], random_state=0)
    return _cv(model, *_data("wine"), "log_loss")


def mlp_adam_diabetes(c: Config) -> float:
    """Adam MLP regressor on scaled features, raw target (25..346): small lr never gets there."""
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=(int(c["width"]),) * int(c["layers"]),
                         solver="adam", learning_rate_init=c["lr"], alpha=c["alpha"],
                         batch_size=int(c["batch_size"]), max_iter=int(c["epochs"]),
                         activation=c["activation"], random_state=0)
    return _cv(model, *_scaled("diabetes"), "mae")


def sgd_diabetes_raw(c: Config) -> float:
    """SGD linear regression on raw clinical units: large steps overflow (MAE ~1e4)."""
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(loss=c["loss"], penalty=c["penalty"], alpha=c["alpha"],
                         l1_ratio=c["l1_ratio"], eta0=c["eta0"], learning_rate=c["schedule"],
                         max_iter=int(c["max_iter"]), tol=None, epsilon=c["epsilon"],
                         random_state=0)
    return _cv(model, *_data("diabetes"), "mae")


def sgd_cancer_raw(c: Config) -> float:
    """Linear SGD classifier on unscaled features (1e-3 .. 4e3): overshooting steps give
    confident wrong predictions, log-loss 5-34 for most of the space."""
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss=c["loss"], penalty=c["penalty"], alpha=c["alpha"],
                          l1_ratio=c["l1_ratio"], eta0=c["eta0"], learning_rate=c["schedule"],
                          max_iter=int(c["max_iter"]), tol=None, average=c["average"] == "yes",
                          random_state=0)
    return _cv(model, *_data("cancer"), "log_loss")


def logreg_cancer(c: Config) -> float:
    """Logistic regression on unscaled features; unsupported solver/penalty pairs RAISE."""
    from sklearn.linear_model import LogisticRegression

    solver, penalty = c["solver"], c["penalty"]
    if (solver, penalty) in (("lbfgs", "l1"), ("lbfgs", "elasticnet"), ("liblinear", "elasticnet")):
        # scikit-learn raises this for these pairs; raised here so every version agrees
        raise ValueError(f"Solver {solver} supports only some penalties, got {penalty}.")
    kwargs = {"l1_ratio": c["l1_ratio"]} if penalty == "elasticnet" else {}
    model = LogisticRegression(C=c["C"], solver=solver, penalty=penalty,
                               max_iter=int(c["max_iter"]), random_state=0, **kwargs)
    return _cv(model, *_data("cancer"), "log_loss", crash=True)


def svc_wine_raw(c: Config) -> float:
    """SVC on unscaled wine, error rate: a narrow RBF predicts one class everywhere (0.6)."""
    from sklearn.svm import SVC

    model = SVC(C=c["C"], gamma=c["gamma"], kernel=c["kernel"], coef0=c["coef0"],
                degree=int(c["degree"]), max_iter=20000)
    return _cv(model, *_data("wine"), "error")


def svr_friedman(c: Config) -> float:
    """RBF support-vector regression on Friedman #1 (scaled), MSE."""
    from sklearn.svm import SVR

    model = SVR(C=c["C"], gamma=c["gamma"], epsilon=c["epsilon"])
    return _cv(model, *_scaled("friedman"), "mse")


def hgb_classif(c: Config) -> float:
    """Histogram gradient boosting on a noisy 3-class problem, log-loss (overfits easily)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        learning_rate=c["lr"], max_iter=int(c["max_iter"]), max_leaf_nodes=int(c["leaves"]),
        min_samples_leaf=int(c["min_leaf"]), l2_regularization=c["l2"],
        max_features=c["max_features"], early_stopping=False, random_state=0)
    return _cv(model, *_data("classif"), "log_loss")


def gbr_diabetes(c: Config) -> float:
    """Gradient-boosted trees on diabetes, MAE, with the loss itself a choice."""
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(
        loss=c["loss"], learning_rate=c["lr"], n_estimators=int(c["n_estimators"]),
        max_depth=int(c["max_depth"]), subsample=c["subsample"],
        min_samples_leaf=int(c["min_leaf"]), random_state=0)
    return _cv(model, *_data("diabetes"), "mae")


def rf_digits(c: Config) -> float:
    """Random forest on digits, log-loss: pure leaves and few trees give p = 0 (log-loss 34)."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(
        n_estimators=int(c["n_estimators"]), max_depth=int(c["max_depth"]),
        max_features=c["max_features"], min_samples_leaf=int(c["min_leaf"]),
        criterion=c["criterion"], bootstrap=c["bootstrap"] == "yes", random_state=0)
    return _cv(model, *_data("digits"), "log_loss")


def extratrees_friedman(c: Config) -> float:
    """Extremely randomized trees on Friedman #1, MAE."""
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(
        n_estimators=int(c["n_estimators"]), max_depth=int(c["max_depth"]),
        max_features=c["max_features"], min_samples_split=int(c["min_split"]),
        bootstrap=c["bootstrap"] == "yes", random_state=0)
    return _cv(model, *_data("friedman"), "mae")


def knn_cancer(c: Config) -> float:
    """k-nearest neighbours with the preprocessing a choice, error rate (plateaus)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    scaler = {"none": "passthrough", "standard": StandardScaler(), "minmax": MinMaxScaler()}
    model = make_pipeline(scaler[c["scaler"]], KNeighborsClassifier(
        n_neighbors=int(c["k"]), weights=c["weights"], p=c["p"]))
    return _cv(model, *_data("cancer"), "error")


def elasticnet_sparse(c: Config) -> float:
    """Elastic net on 80 features of which 8 matter (200 rows), MSE."""
    from sklearn.linear_model import ElasticNet

    model = ElasticNet(alpha=c["alpha"], l1_ratio=c["l1_ratio"],
                       fit_intercept=c["intercept"] == "yes", max_iter=int(c["max_iter"]),
                       selection=c["selection"], random_state=0)
    return _cv(model, *_data("sparse_reg"), "mse")


def tree_friedman(c: Config) -> float:
    """A single decision tree on Friedman #1, MSE: integer knobs, wide flat regions."""
    from sklearn.tree import DecisionTreeRegressor

    model = DecisionTreeRegressor(
        max_depth=int(c["max_depth"]), min_samples_split=int(c["min_split"]),
        min_samples_leaf=int(c["min_leaf"]), max_features=c["max_features"],
        criterion=c["criterion"], ccp_alpha=c["ccp_alpha"], random_state=0)
    return _cv(model, *_data("friedman"), "mse")


# ---- spaces ---------------------------------------------------------------------------

_ACT = ["relu", "tanh", "logistic"]
SPACES: dict[str, dict[str, object]] = {
    "mlp_sgd_digits_raw": {
        "lr": tune.loguniform(1e-6, 1.0), "momentum": tune.uniform(0.0, 0.99),
        "nesterov": tune.choice(["yes", "no"]), "alpha": tune.loguniform(1e-6, 1.0),
        "width": tune.lograndint(8, 129), "batch_size": tune.choice([32, 64, 128, 256]),
        "epochs": tune.randint(3, 30), "activation": tune.choice(_ACT)},
    "mlp_adam_wine_raw": {
        "lr": tune.loguniform(1e-5, 1.0), "alpha": tune.loguniform(1e-6, 10.0),
        "beta_1": tune.uniform(0.5, 0.99), "width": tune.lograndint(4, 65),
        "layers": tune.randint(1, 4), "batch_size": tune.choice([8, 16, 32, 64]),
        "epochs": tune.randint(5, 60), "activation": tune.choice(_ACT)},
    "mlp_adam_diabetes": {
        "lr": tune.loguniform(1e-4, 1.0), "alpha": tune.loguniform(1e-6, 10.0),
        "width": tune.lograndint(4, 129), "layers": tune.randint(1, 3),
        "batch_size": tune.choice([16, 32, 64, 128]), "epochs": tune.randint(5, 60),
        "activation": tune.choice(_ACT)},
    "sgd_diabetes_raw": {
        "loss": tune.choice(["squared_error", "huber", "epsilon_insensitive"]),
        "penalty": tune.choice(["l2", "l1", "elasticnet"]),
        "alpha": tune.loguniform(1e-7, 10.0), "l1_ratio": tune.uniform(0.0, 1.0),
        "eta0": tune.loguniform(1e-8, 1e-1),
        "schedule": tune.choice(["constant", "invscaling", "adaptive"]),
        "max_iter": tune.randint(5, 100), "epsilon": tune.loguniform(1e-2, 100.0)},
    "sgd_cancer_raw": {
        "loss": tune.choice(["log_loss", "modified_huber"]),
        "penalty": tune.choice(["l2", "l1", "elasticnet"]),
        "alpha": tune.loguniform(1e-7, 1.0), "l1_ratio": tune.uniform(0.0, 1.0),
        "eta0": tune.loguniform(1e-7, 1.0),
        "schedule": tune.choice(["constant", "invscaling", "adaptive", "optimal"]),
        "max_iter": tune.randint(3, 40), "average": tune.choice(["yes", "no"])},
    "logreg_cancer": {
        "C": tune.loguniform(1e-5, 1e5), "solver": tune.choice(["lbfgs", "liblinear", "saga"]),
        "penalty": tune.choice(["l2", "l1", "elasticnet"]), "l1_ratio": tune.uniform(0.0, 1.0),
        "max_iter": tune.lograndint(10, 1000)},
    "svc_wine_raw": {
        "C": tune.loguniform(1e-3, 1e4), "gamma": tune.loguniform(1e-8, 10.0),
        "kernel": tune.choice(["rbf", "poly", "sigmoid"]), "coef0": tune.uniform(-1.0, 1.0),
        "degree": tune.randint(2, 5)},
    "svr_friedman": {
        "C": tune.loguniform(1e-2, 1e4), "gamma": tune.loguniform(1e-4, 10.0),
        "epsilon": tune.loguniform(1e-3, 3.0)},
    "hgb_classif": {
        "lr": tune.loguniform(1e-3, 1.0), "max_iter": tune.randint(10, 60),
        "leaves": tune.lograndint(2, 64), "min_leaf": tune.lograndint(1, 100),
        "l2": tune.loguniform(1e-6, 10.0), "max_features": tune.uniform(0.1, 1.0)},
    "gbr_diabetes": {
        "loss": tune.choice(["squared_error", "absolute_error", "huber"]),
        "lr": tune.loguniform(1e-3, 1.0), "n_estimators": tune.randint(10, 80),
        "max_depth": tune.randint(1, 6), "subsample": tune.uniform(0.3, 1.0),
        "min_leaf": tune.lograndint(1, 60)},
    "rf_digits": {
        "n_estimators": tune.randint(3, 60), "max_depth": tune.randint(2, 25),
        "max_features": tune.uniform(0.02, 1.0), "min_leaf": tune.lograndint(1, 30),
        "criterion": tune.choice(["gini", "entropy"]), "bootstrap": tune.choice(["yes", "no"])},
    "extratrees_friedman": {
        "n_estimators": tune.randint(5, 80), "max_depth": tune.randint(1, 20),
        "max_features": tune.uniform(0.1, 1.0), "min_split": tune.lograndint(2, 60),
        "bootstrap": tune.choice(["yes", "no"])},
    "knn_cancer": {
        "k": tune.lograndint(1, 120), "weights": tune.choice(["uniform", "distance"]),
        "p": tune.uniform(1.0, 4.0), "scaler": tune.choice(["none", "standard", "minmax"])},
    "elasticnet_sparse": {
        "alpha": tune.loguniform(1e-4, 1e2), "l1_ratio": tune.uniform(0.0, 1.0),
        "intercept": tune.choice(["yes", "no"]), "max_iter": tune.lograndint(5, 1000),
        "selection": tune.choice(["cyclic", "random"])},
    "tree_friedman": {
        "max_depth": tune.randint(1, 20), "min_split": tune.lograndint(2, 100),
        "min_leaf": tune.lograndint(1, 50), "max_features": tune.uniform(0.1, 1.0),
        "criterion": tune.choice(["squared_error", "absolute_error"]),
        "ccp_alpha": tune.loguniform(1e-5, 1.0)},
}

_FUNCS: dict[str, Callable[[Config], float]] = {
    "mlp_sgd_digits_raw": mlp_sgd_digits_raw, "mlp_adam_wine_raw": mlp_adam_wine_raw,
    "mlp_adam_diabetes": mlp_adam_diabetes, "sgd_diabetes_raw": sgd_diabetes_raw,
    "sgd_cancer_raw": sgd_cancer_raw, "logreg_cancer": logreg_cancer,
    "svc_wine_raw": svc_wine_raw, "svr_friedman": svr_friedman,
    "hgb_classif": hgb_classif, "gbr_diabetes": gbr_diabetes, "rf_digits": rf_digits,
    "extratrees_friedman": extratrees_friedman, "knn_cancer": knn_cancer,
    "elasticnet_sparse": elasticnet_sparse, "tree_friedman": tree_friedman,
}

# "solved" thresholds for the evaluations-to-target table: roughly the best 5% of a
# random sample of the task (benchmarks/results/realsuite/random_pool.json)
TARGETS: dict[str, float] = {
    "mlp_sgd_digits_raw": 0.2, "mlp_adam_wine_raw": 0.15, "mlp_adam_diabetes": 46.0,
    "sgd_diabetes_raw": 50.0, "sgd_cancer_raw": 0.15, "logreg_cancer": 0.1, "svc_wine_raw": 0.05,
    "svr_friedman": 2.0, "hgb_classif": 0.5, "gbr_diabetes": 45.0, "rf_digits": 0.3,
    "extratrees_friedman": 1.5, "knn_cancer": 0.03, "elasticnet_sparse": 500.0,
    "tree_friedman": 8.0,
}


def space_unit(space: dict[str, object]) -> Callable[[Config], np.ndarray]:
    """Map a config of a flat Tune space into [0, 1]^k: floats and integers scaled to their
    bounds (log-scaled when sampled log-uniformly), categoricals one-hot."""

    def unit(c: Config) -> np.ndarray:
        out: list[float] = []
        for name, dom in space.items():
            v = c[name]
            if isinstance(dom, Categorical):
                out.extend(1.0 if v == cat else 0.0 for cat in dom.categories)
            elif isinstance(dom, (Float, Integer)):
                lo, hi = float(dom.lower), float(dom.upper)
                if isinstance(dom.get_sampler(), LogUniform):
                    lo, hi, v = math.log(lo), math.log(hi), math.log(float(v))
                out.append((float(v) - lo) / (hi - lo))
        return np.array(out, dtype=float)

    return unit


def _problem(name: str) -> Problem:
    space = SPACES[name]
    return Problem(name=name, dim=len(space), space=space, f_star=0.0, target=TARGETS[name],
                   func=_FUNCS[name], unit=space_unit(space), float_only=False)


REAL_SUITE: dict[str, Callable[[], Problem]] = {
    name: (lambda name=name: _problem(name)) for name in SPACES
}
