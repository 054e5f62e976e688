"""A user's belief about where the optimum lies (piBO, Hvarfner et al. 2022): parsing, its
density over the unit cube, the acquisition weight and draws for the initial design.

Notation: the space has ``d`` columns; ``x: (d,)`` and candidates ``Xc: (b, d)`` lie in
[0, 1]^d, in each column's own coordinates (log scale for ``loguniform``/``lograndint``).

The density ``pi(x) = prod_j p_j(x_j)`` over the columns active at ``x``, each ``p_j`` integrating
to 1 over [0, 1] (so a column the user did not name has ``p_j = 1``, uniform):

* float: a normal ``N(c_j, s^2)`` truncated to [0, 1], ``c_j`` the believed value's encoding and
  ``s = CONFIDENCE_SIGMA[confidence]``; a log-uniform parameter thus gets a log-normal belief.
* int: that normal's mass over each value's cell, spread evenly over the cell (the design draws
  each value with exactly this mass).
* categorical (and the branch column of a conditional choice): the believed category has weight
  ``w = CONFIDENCE_WEIGHT[confidence]``, every other one weight 1, so its probability is
  ``w / (w + k - 1)``; the density is ``k`` times the probability on the category's cell.

The acquisition is weighted by ``pi(x) ** (beta / n)`` after ``n`` finished trials (added as
``(beta / n) * log pi(x)`` to log-EI): a good belief pays at once, a wrong one fades as data
arrive. ``beta`` and the share of the initial design drawn from the prior are engine options
(``EngineOptions.prior_beta``, ``prior_design_every``); the widths and those choices were measured
in benchmarks/README.md, "Priors and warm starts".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr
from scipy.stats import truncnorm

from raybo.params import CAT, FLOAT, INT, Param, encode_value, int_edges
from raybo.space import SearchSpace
from raybo.state import is_known
from raybo.surrogate import DTYPE

CONFIDENCES = ("low", "medium", "high")
# Standard deviation of a numeric belief in unit-cube coordinates (the column's whole range is
# 1): "low" barely prefers half the range, "high" a tenth of it (NePS uses 0.5 / 0.25 / 0.125).
CONFIDENCE_SIGMA = {"low": 0.5, "medium": 0.25, "high": 0.1}
# Weight of the believed category against 1 for each other one (NePS: 2 / 4 / 6).
CONFIDENCE_WEIGHT = {"low": 2.0, "medium": 4.0, "high": 8.0}
MAX_DRAWS = 16  # prior draws tried before a repeated config falls back to Sobol


@dataclass(frozen=True)
class Belief:
    """Column ``column`` is believed best at encoding ``centre`` in [0, 1], with ``confidence``."""

    column: int
    centre: float
    confidence: str


@dataclass(frozen=True)
class Prior:
    """The parsed belief over a space's columns (columns not listed are uniform)."""

    beliefs: tuple[Belief, ...]

    def columns(self) -> list[int]:
        return [b.column for b in self.beliefs]


# -- parsing the user's prior ------------------------------------------------------------------
def check_confidence(confidence: Any) -> None:
    """Refuse a confidence that is not a word of ``CONFIDENCES`` or a dict of them (the error
    names the parameter), before the space is known."""
    if isinstance(confidence, dict):
        for name, word in flatten(confidence).items():
            if word not in CONFIDENCES:
                raise ValueError(f"prior_confidence for '{name}' must be one of "
                                 f"{', '.join(map(repr, CONFIDENCES))}; got {word!r}")
    elif confidence not in CONFIDENCES:
        raise ValueError(f"prior_confidence must be one of {', '.join(map(repr, CONFIDENCES))} "
                         f"or a dict of them per parameter; got {confidence!r}")


def parse_prior(space: SearchSpace, values: dict[str, Any],
                confidence: str | dict[str, Any] = "medium") -> Prior:
    """The ``Prior`` of ``values`` (believed-best values of some parameters, nested or
    '/'-flattened keys; for a conditional space values inside the believed option) in
    ``space``. ValueError before any trial for an unknown key, a value outside its domain or an
    unknown confidence word, naming the parameter."""
    if not isinstance(values, dict):
        raise ValueError(f"prior must be a dict of believed-best values, e.g. "
                         f"{{'lr': 1e-3}}; got {type(values).__name__}")
    check_confidence(confidence)
    unknown = space.unknown_keys(values)
    if unknown:
        raise ValueError(f"prior has keys that are not in the search space: {unknown}; the "
                         f"space has {sorted(space.key_names())}")
    # Two encodings with every unnamed column filled differently: a column the prior fixes
    # (a value, or the option of a choice it determines) is the same and active in both.
    try:
        xa = space.encode_partial(values, fill=np.full(space.dim, 0.2))
        xb = space.encode_partial(values, fill=np.full(space.dim, 0.8))
    except ValueError as err:
        raise ValueError(f"prior: {err}") from None
    active = space.active(np.stack([xa, xb])).all(axis=0)
    named = _named_values(space, values)
    conf = flatten(confidence) if isinstance(confidence, dict) else {}
    unmatched = sorted(k for k in conf if not any(_under(k, n) or _under(n, k) for n in named))
    if unmatched:
        raise ValueError(f"prior_confidence has keys that the prior does not name: {unmatched}")
    beliefs = []
    for j, p in enumerate(space.params):
        centre = None
        if p.branch:
            if active[j] and xa[j] == xb[j]:
                centre = float(xa[j])
        elif p.name in named:
            centre = _encoding(p, named[p.name])
        if centre is not None:
            word = confidence if isinstance(confidence, str) else _confidence_of(p.name, conf)
            beliefs.append(Belief(j, centre, word))
    return Prior(tuple(beliefs))


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"a/b": value}`` (values that are not dicts are leaves)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, name + "/"))
        else:
            out[name] = v
    return out


def _named_values(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    """``{column name: value}`` of the prior, walking nested dicts down to the column names (a
    categorical whose categories are dicts takes its dict value whole; a conditional choice's
    dict is walked into, to its option's parameters)."""
    columns = {p.name for p in space.params if not p.branch}
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            name = f"{prefix}{k}"
            if name in columns or not isinstance(v, dict):
                out[name] = v
            else:
                walk(v, name + "/")

    walk(values, "")
    return out


def _encoding(p: Param, value: Any) -> float | None:
    """The encoding of ``value`` in column ``p``; None where the value is not one of its values
    (a name shared by columns of several options of a choice, the value fitting only some)."""
    try:
        return encode_value(p, value)
    except ValueError:
        return None


def _under(name: str, key: str) -> bool:
    return name == key or name.startswith(key + "/")


def _confidence_of(name: str, conf: dict[str, str]) -> str:
    """The word of the most specific key at or above ``name`` (default "medium")."""
    keys = [k for k in conf if _under(name, k)]
    return conf[max(keys, key=len)] if keys else "medium"


# -- the density -------------------------------------------------------------------------------
class PriorDensity:
    """``log pi`` of a ``Prior`` in a space, as a torch function of candidates (see the module
    docstring), and draws from it."""

    def __init__(self, prior: Prior, space: SearchSpace):
        self.prior, self.space = prior, space
        floats, self._cells = [], []  # cells: (j, inner edges, log p per cell) per column
        for b in prior.beliefs:
            p = space.params[b.column]
            if p.kind == FLOAT:
                s = CONFIDENCE_SIGMA[b.confidence]
                z = float(ndtr((1 - b.centre) / s) - ndtr(-b.centre / s))
                floats.append((b.column, b.centre, s, math.log(s * math.sqrt(2 * math.pi) * z)))
            else:
                edges = cell_edges(p)
                logp = np.log(cell_mass(p, b, edges) / np.diff(edges))
                self._cells.append((b.column, torch.as_tensor(edges[1:-1], dtype=DTYPE),
                                    torch.as_tensor(logp, dtype=DTYPE)))
        # the float columns at once: (k,) columns, centres, widths, log normalizers
        f = np.array(floats, dtype=float).reshape(-1, 4)
        self._fj = torch.as_tensor(f[:, 0].astype(int))
        self._fc, self._fs, self._fk = (torch.as_tensor(f[:, i], dtype=DTYPE) for i in (1, 2, 3))

    def log_density(self, Xc: torch.Tensor) -> torch.Tensor:
        """``log pi(Xc)``: ``(b,)`` for ``Xc: (b, d)``, differentiable in the float columns."""
        X = Xc.clamp(0.0, 1.0)
        active = None
        if self.space.conditional:
            active = torch.as_tensor(self.space.active(X.detach().numpy()), dtype=X.dtype)
        u = (X[:, self._fj] - self._fc) / self._fs
        terms = -0.5 * u * u - self._fk
        if active is not None:
            terms = terms * active[:, self._fj]
        out = terms.sum(-1)
        for j, inner, logp in self._cells:
            t = logp[torch.searchsorted(inner, X[:, j].detach().contiguous(), right=True)]
            out = out + (t if active is None else t * active[:, j])
        return out

    def mode(self, base: np.ndarray) -> np.ndarray:
        """``base: (d,)`` with every believed column at its believed value, snapped."""
        x = np.array(base, dtype=float)
        for b in self.prior.beliefs:
            x[b.column] = b.centre
        return self.space.snap(x[None])[0]

    def sample(self, rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
        """A draw from the prior: believed columns drawn from their beliefs, the others from
        ``base: (d,)`` (uniform draws), snapped (an int lands in a cell with its mass)."""
        x = np.array(base, dtype=float)
        for b in self.prior.beliefs:
            p = self.space.params[b.column]
            if p.kind == CAT:
                probs = category_probabilities(p.n_levels, int(b.centre * p.n_levels),
                                               b.confidence)
                x[b.column] = (rng.choice(p.n_levels, p=probs) + 0.5) / p.n_levels
            else:
                s = CONFIDENCE_SIGMA[b.confidence]
                x[b.column] = truncnorm.rvs(-b.centre / s, (1 - b.centre) / s, loc=b.centre,
                                            scale=s, random_state=rng)
        return self.space.snap(x[None])[0]


def cell_edges(p: Param) -> np.ndarray:
    """``(n + 1,)`` edges in [0, 1] of the cells of a discrete column's ``n`` values."""
    if p.kind == CAT:
        return np.linspace(0.0, 1.0, p.n_levels + 1)
    a, b = int_edges(p)
    i = np.arange(p.low, p.high + 2)
    e = np.log(i) if p.log else i
    return np.clip((e - a) / (b - a), 0.0, 1.0)


def category_probabilities(k: int, believed: int, confidence: str) -> np.ndarray:
    """``(k,)``: weight ``CONFIDENCE_WEIGHT[confidence]`` on ``believed``, 1 on the others."""
    w = np.ones(k)
    w[believed] = CONFIDENCE_WEIGHT[confidence]
    return w / w.sum()


def cell_mass(p: Param, b: Belief, edges: np.ndarray) -> np.ndarray:
    """Prior probability of each value of discrete column ``p`` (cells ``edges``)."""
    if p.kind == CAT:
        return category_probabilities(p.n_levels, int(b.centre * p.n_levels), b.confidence)
    assert p.kind == INT
    s = CONFIDENCE_SIGMA[b.confidence]
    cdf = ndtr((edges - b.centre) / s)
    mass = np.diff(cdf) / (cdf[-1] - cdf[0])
    return np.maximum(mass, 1e-300)  # far cells of a sharp belief: tiny, never log(0)


# -- what the searcher uses --------------------------------------------------------------------
def log_weight(prior: Prior, space: SearchSpace, n: int, beta: float
               ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``Xc: (b, d) -> (b,)``: piBO's log weight ``(beta / n) * log pi(Xc)`` after ``n``
    finished trials (n < 1 counts as 1; ``beta``: ``EngineOptions.prior_beta``)."""
    density, power = PriorDensity(prior, space), beta / max(n, 1)

    def f(Xc: torch.Tensor) -> torch.Tensor:
        return power * density.log_density(Xc)

    return f


def design_point(prior: Prior, space: SearchSpace, seed: int, k: int, every: int,
                 X_avoid: np.ndarray) -> np.ndarray | None:
    """The ``k``-th design point (0-based) if the prior draws it (``k % every == 0``, ``every``:
    ``EngineOptions.prior_design_every``, 0: never; ``k = 0``: the prior's mode), else None (a
    Sobol point). None too when every draw repeats a config of ``X_avoid: (m, d)``."""
    if not every or k % every:
        return None
    density = PriorDensity(prior, space)
    rng = np.random.default_rng([seed, k, 7])
    for i in range(MAX_DRAWS):
        base = rng.random(space.dim)
        x = density.mode(base) if k == 0 and i == 0 else density.sample(rng, base)
        if not is_known(x, X_avoid):
            return x
    return None


def prior_state(values: dict[str, Any] | None, confidence: Any) -> dict[str, Any] | None:
    """The saved form of the user's prior (plain data; parsed again against the space)."""
    return None if values is None else {"values": values, "confidence": confidence}
