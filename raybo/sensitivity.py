"""Which hyperparameters mattered, read from the GP: Sobol indices of its mean, and slices.

Notation: ``d`` columns of the search space (one per searched parameter, a conditional choice's
branch included), ``X_obs: (n, d)`` observed encodings in [0, 1]^d, ``y: (n,)`` their metric.

``f(x)``: the posterior mean of the GP that ``GPSearch.diagnostics`` fits (the searcher's output
transform and kernel, successful trials only), mapped back to metric units (the transform
inverted and clipped to the observed range widened by its span, as the diagnostics do). ``x`` is
drawn as Tune samples the space: each column uniform on [0, 1] through the space's encoding
(categories equally likely; log domains uniform in the log), snapped to admissible values, with
the columns of options not chosen inactive. Then for each parameter ``i``:

- first order ``S_i = Var(E[f | x_i]) / Var(f)``: the share of the variance ``x_i`` explains on
  its own (the estimator of Saltelli et al. 2010, Comput. Phys. Commun. 181);
- total ``T_i = E[Var(f | x_~i)] / Var(f)``: its share including every interaction (Jansen
  1999), and the variance left when every other parameter is fixed;
- ``importance_i = T_i / sum_j T_j``: the totals normalized to sum to 1, for ranking.

``N`` scrambled Sobol base points in [0, 1]^(2d) give the matrices ``A`` and ``B``, and ``AB_i``
is ``A`` with column ``i`` from ``B``: ``N (d + 2)`` GP means. This is a decomposition of the
surrogate, not of lengthscales (which ignore the output's scale and the parameter's range); it
is only as good as the GP's fit (``GPSearch.diagnostics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import qmc

from raybo.params import CAT, FLOAT, decode_value, encode_value
from raybo.space import INACTIVE, SearchSpace
from raybo.strategies.plain import cat_columns
from raybo.surrogate import DTYPE, Posterior, build_posterior, fit_gp
from raybo.targets import OutputTransform, to_minimize

N_BASE = 2048  # Sobol base points; at 1024 the tests' closed-form indices come back within 0.02
MIN_TRIALS = 3  # successful trials needed to fit a GP
SLICE_POINTS = 101  # grid points along a continuous parameter in a slice
BAND_Z = 1.96  # half-width of the slices' 95% band, in the GP's standard deviations
_CHUNK = 8192  # GP means predicted per call (memory: _CHUNK x n kernel entries)


@dataclass
class Importance:
    """Sobol indices of the GP mean, one entry per parameter (see the module docstring);
    ``variance``: Var(f) in squared metric units."""

    names: list[str]
    first_order: np.ndarray  # (d,)
    total: np.ndarray  # (d,)
    variance: float
    n_trials: int

    @property
    def importance(self) -> np.ndarray:
        """Totals clipped at 0 and normalized to sum to 1 (all 0 for a flat mean)."""
        t = np.clip(self.total, 0.0, None)
        return t / t.sum() if t.sum() > 0 else t

    def rows(self) -> list[dict[str, Any]]:
        """One dict per parameter, most important first: ``parameter``, ``importance``,
        ``first_order``, ``total``."""
        order = np.argsort(-self.importance, kind="stable")
        return [{"parameter": self.names[i], "importance": float(self.importance[i]),
                 "first_order": float(self.first_order[i]), "total": float(self.total[i])}
                for i in order]


class _Surrogate:
    """The GP of the successful trials, predicting in metric units."""

    def __init__(self, space: SearchSpace, X_obs: np.ndarray, y: np.ndarray, mode: str) -> None:
        self.sign = -1.0 if mode == "max" else 1.0
        y_min = to_minimize(y, mode)
        self.tf = OutputTransform.fit(y_min)
        Xt = torch.as_tensor(X_obs, dtype=DTYPE)
        zt = torch.as_tensor(self.tf(y_min), dtype=DTYPE)
        model = fit_gp(Xt, zt, cat_columns(space), structure=space.structure)
        self.post: Posterior = build_posterior(model, Xt, zt[:, None])
        lo, hi = float(y_min.min()), float(y_min.max())
        span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
        self.clip = (lo - span, hi + span)

    def _metric(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            v = np.nan_to_num(self.tf.inverse(z), nan=self.clip[1], posinf=self.clip[1],
                              neginf=self.clip[0])
        return self.sign * np.clip(v, *self.clip)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and the ends of the 95% band at ``X: (b, d)``, each ``(b,)``, in metric units
        (the band's ends are the transform of the GP's band, so it may be asymmetric)."""
        mus, sds = [], []
        with torch.no_grad():
            for start in range(0, len(X), _CHUNK):
                mu, var = self.post.predict(torch.as_tensor(X[start:start + _CHUNK], dtype=DTYPE))
                mus.append(mu[0].numpy())
                sds.append(np.sqrt(var.numpy()))  # the mean's uncertainty, noise left out
        mu, sd = np.concatenate(mus), np.concatenate(sds)
        a, b = self._metric(mu - BAND_Z * sd), self._metric(mu + BAND_Z * sd)
        return self._metric(mu), np.minimum(a, b), np.maximum(a, b)


def _searcher_data(searcher: Any) -> tuple[SearchSpace, np.ndarray, np.ndarray, str]:
    space = searcher._require_ready()
    done = [r for r in searcher.observations().values() if r["status"] == "done"]
    X = np.array([r["x"] for r in done], dtype=float).reshape(len(done), space.dim)
    y = np.array([r["y"] for r in done], dtype=float)
    return space, X, y, searcher.mode


def _snap_discrete(space: SearchSpace, U: np.ndarray) -> np.ndarray:
    """Discrete and quantized columns of ``U: (m, d)`` moved to the encoding of the value their
    cell decodes to; inactive columns are left alone (``_mask`` sets them)."""
    X = np.array(U, dtype=float)
    for j, p in enumerate(space.params):
        if p.kind != FLOAT or p.q is not None:
            X[:, j] = [encode_value(p, decode_value(p, v)) for v in X[:, j]]
    return X


def _mask(space: SearchSpace, X: np.ndarray) -> np.ndarray:
    if space.conditional:
        X = X.copy()
        X[~space.active(X)] = INACTIVE
    return X


def sobol_indices(f: Any, space: SearchSpace, n_base: int = N_BASE, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(first_order (d,), total (d,), Var(f))`` of ``f: (m, d) -> (m,)`` over the space's
    sampling distribution (module docstring); ``n_base (d + 2)`` evaluations of ``f``."""
    d = space.dim
    U = qmc.Sobol(2 * d, scramble=True, seed=seed).random(n_base)
    A_raw, B_raw = _snap_discrete(space, U[:, :d]), _snap_discrete(space, U[:, d:])
    mixed = []
    for i in range(d):
        AB = A_raw.copy()
        AB[:, i] = B_raw[:, i]
        mixed.append(_mask(space, AB))
    values = f(np.vstack([_mask(space, A_raw), _mask(space, B_raw), *mixed]))
    fA, fB = values[:n_base], values[n_base:2 * n_base]
    fAB = values[2 * n_base:].reshape(d, n_base)
    var = float(np.var(np.concatenate([fA, fB])))
    if not var > 0:
        return np.zeros(d), np.zeros(d), 0.0
    first = np.mean(fB * (fAB - fA), axis=1) / var  # Saltelli et al. 2010
    total = 0.5 * np.mean((fA - fAB) ** 2, axis=1) / var  # Jansen 1999
    return first, total, var


def importance(searcher: Any, n_base: int = N_BASE, seed: int = 0) -> Importance:
    """Sobol indices of a fitted ``GPSearch``'s surrogate over its search space (see the
    module docstring). Needs ``MIN_TRIALS`` successful trials (ValueError otherwise); a GP that
    cannot be fitted raises ``raybo.surrogate.FitError``."""
    space, X, y, mode = _searcher_data(searcher)
    return importance_of(space, X, y, mode, n_base, seed)


def importance_of(space: SearchSpace, X_obs: np.ndarray, y: np.ndarray, mode: str,
                  n_base: int = N_BASE, seed: int = 0) -> Importance:
    """``importance`` from the space and the successful observations directly."""
    return _importance(_fit(space, X_obs, y, mode), space, len(y), n_base, seed)


def slices(searcher: Any, names: list[str] | None = None, n_points: int = SLICE_POINTS
           ) -> list[dict[str, Any]]:
    """The GP mean and its 95% band along each parameter in ``names`` (default: all, in space
    order), the others held at the best trial's configuration. One dict per parameter:
    ``parameter``, ``values`` (along the slice: numbers, categories, or for a conditional
    choice its options' labels), ``mean``, ``lower``, ``upper`` (metric units), ``log`` (a log
    domain), ``categorical``, ``best`` (the best trial's value; None where inactive) and
    ``observed`` (``[value, metric]`` of every successful trial where the parameter exists)."""
    space, X, y, mode = _searcher_data(searcher)
    gp = _fit(space, X, y, mode)
    return _slices(gp, space, X, y, mode, names, n_points)


def what_mattered(searcher: Any, top: int = 3, n_base: int = N_BASE, seed: int = 0
                  ) -> tuple[Importance, list[dict[str, Any]]]:
    """``importance`` and the ``slices`` of the ``top`` most important parameters, from one
    GP fit (what a run directory's importance and slice plots show)."""
    space, X, y, mode = _searcher_data(searcher)
    gp = _fit(space, X, y, mode)
    imp = _importance(gp, space, len(y), n_base, seed)
    names = [r["parameter"] for r in imp.rows()[:top]]
    return imp, _slices(gp, space, X, y, mode, names, SLICE_POINTS)


def _fit(space: SearchSpace, X: np.ndarray, y: np.ndarray, mode: str) -> _Surrogate:
    if len(y) < MIN_TRIALS:
        raise ValueError(f"importance needs {MIN_TRIALS} successful trials, got {len(y)}")
    return _Surrogate(space, X, y, mode)


def _importance(gp: _Surrogate, space: SearchSpace, n: int, n_base: int, seed: int
                ) -> Importance:
    first, total, var = sobol_indices(lambda X: gp.predict(X)[0], space, n_base, seed)
    return Importance(param_names(space), first, total, var, n)


def param_names(space: SearchSpace) -> list[str]:
    """One name per column: its key path, and where two options of a choice hold the same key
    (SGD's and RMSprop's ``momentum``) the option's label too: ``optim/method/momentum (sgd)``."""
    keys = [p.name for p in space.params]
    names = list(keys)
    centre = np.full(space.dim, INACTIVE)
    for c in space.structure or ():
        if keys.count(keys[c.column]) > 1:
            label = _labels(space, c.branch, centre)(c.option)
            names[c.column] = f"{space.params[c.column].name} ({label})"
    return names


def _slices(gp: _Surrogate, space: SearchSpace, X: np.ndarray, y: np.ndarray, mode: str,
            names: list[str] | None, n_points: int) -> list[dict[str, Any]]:
    best = _snap_discrete(space, X[int(np.argmin(to_minimize(y, mode)))][None])[0]
    active_obs, best_active = space.active(X), space.active(best[None])[0]
    out = []
    for j, (p, name) in enumerate(zip(space.params, param_names(space))):
        if names is not None and name not in names:
            continue
        levels = space.levels()[j]
        grid = levels if levels is not None else np.linspace(0.0, 1.0, n_points)
        if p.q is not None and p.kind == FLOAT:  # a quantized float: its grid values only
            grid = np.unique(_snap_discrete(space, np.tile(grid[:, None], (1, space.dim)))[:, j])
        Xs = np.tile(best, (len(grid), 1))
        Xs[:, j] = grid
        mean, lower, upper = gp.predict(_mask(space, Xs))
        label = _labels(space, j, best) if p.branch else (lambda v: v)
        out.append({
            "parameter": name, "values": [label(decode_value(p, v)) for v in grid],
            "mean": mean.tolist(), "lower": lower.tolist(), "upper": upper.tolist(),
            "log": bool(p.log), "categorical": p.kind == CAT,
            "best": label(decode_value(p, best[j])) if best_active[j] else None,
            "observed": [[label(decode_value(p, X[i, j])), float(y[i])] for i in range(len(y))
                         if active_obs[i, j]],
        })
    if names is not None:
        out.sort(key=lambda s: names.index(s["parameter"]))
    return out


def _labels(space: SearchSpace, j: int, x: np.ndarray) -> Any:
    """Option index of branch column ``j`` -> a short label: the option's constant strings
    (``{"name": "sgd", "momentum": ...}`` -> ``"sgd"``), else ``"option k"``."""
    p = space.params[j]
    names = {}
    for k, level in enumerate(space.levels()[j]):
        xk = x.copy()
        xk[j] = level
        value: Any = space.decode(_mask(space, xk[None])[0])
        for key in p.path:
            value = value[key]
        words = [str(v) for v in (value.values() if isinstance(value, dict) else [value])
                 if isinstance(v, str)]
        names[k] = "/".join(words) or f"option {k}"
    return lambda k: names.get(k, f"option {k}")
