"""Tune search spaces <-> the unit cube: the one boundary where Tune's domain classes are known.

Notation: a space has ``d`` searched parameters (``Param``); a point is ``x: (d,)`` in [0, 1]^d.

* float (``uniform``/``loguniform``, optionally quantized): x is the position on the linear or
  log scale; quantized values are snapped to the grid inside the bounds when decoding.
* int (``randint``/``lograndint``/``qrandint``/``qlograndint``): the ``n`` admissible values split
  [0, 1] into ``n`` cells of equal width on the domain's (linear or log) scale, so every value gets
  the volume Tune's own sampler gives it; a value is encoded at its cell centre.
* categorical (``choice``): ``k`` equal cells, a category encoded at its cell centre. The GP uses
  a Hamming-type kernel on these columns, so their order carries no meaning.

Constants (and Tune placeholders for non-primitive values) pass through untouched; nested dicts
are flattened to key paths and rebuilt on decode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray.tune.search.sample import (
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    LogUniform,
    Quantized,
    Uniform,
)

FLOAT, INT, CAT = "float", "int", "cat"
Path = tuple[str, ...]


class MissingParameter(KeyError, ValueError):
    """A config lacks a searched parameter (a ValueError for callers of ``encode``)."""


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    For ``float``: ``low``/``high`` bounds (on the value scale), ``log`` scale, grid step ``q``.
    For ``int``: admissible values are ``i * q`` for ``i`` in ``[low, high]`` (grid indices,
    inclusive), spaced on a log scale if ``log``. For ``cat``: ``categories``.
    """

    path: Path
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    q: float | None = None
    categories: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return "/".join(self.path)

    @property
    def n_levels(self) -> int:
        """Number of distinct values (0 for continuous parameters)."""
        if self.kind == INT:
            return int(self.high - self.low) + 1
        if self.kind == CAT:
            return len(self.categories)
        return 0


class SearchSpace:
    """A parsed Tune space: searched ``params`` plus ``constants`` that pass through."""

    def __init__(self, config: dict[str, Any]):
        if not isinstance(config, dict):
            raise ValueError(
                "space must be a dict of Tune domains (e.g. {'lr': tune.loguniform(1e-4, 0.1)}), "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.params: list[Param] = []
        self.constants: list[tuple[Path, Any]] = []
        self._walk(config, ())
        if not self.params:
            raise ValueError(
                "space has no searchable parameter: give at least one Tune domain such as "
                "tune.uniform, tune.loguniform, tune.randint or tune.choice"
            )

    # -- parsing ---------------------------------------------------------------------------
    def _walk(self, node: Any, path: Path) -> None:
        if isinstance(node, dict) and not _is_grid(node) and (node or not path):
            for key, value in node.items():  # an empty nested dict is a constant, kept as is
                self._walk(value, path + (str(key),))
        elif _is_grid(node):
            raise _unsupported(path, "grid_search")
        elif isinstance(node, Domain):
            self.params.append(_parse_domain(node, path))
        else:
            self.constants.append((path, node))

    @property
    def dim(self) -> int:
        return len(self.params)

    @property
    def kinds(self) -> list[str]:
        return [p.kind for p in self.params]

    @property
    def n_levels(self) -> list[int]:
        """Per column: number of discrete levels, 0 for continuous columns."""
        return [p.n_levels for p in self.params]

    # -- encoding --------------------------------------------------------------------------
    def encode(self, config: dict[str, Any]) -> np.ndarray:
        """Nested (or '/'-flattened) config -> ``x: (d,)``; raises ValueError if a value is missing
        or outside its domain."""
        return np.array([_encode_value(p, _lookup(config, p)) for p in self.params])

    def encode_partial(self, config: dict[str, Any], fill: np.ndarray) -> np.ndarray:
        """Like ``encode``, but parameters missing from ``config`` take their value from
        ``fill: (d,)``; the result is snapped onto admissible encodings."""
        x = np.array(fill, dtype=float)
        for j, p in enumerate(self.params):
            try:
                value = _lookup(config, p)
            except KeyError:
                continue
            x[j] = _encode_value(p, value)
        return self.snap(x[None])[0]

    def decode(self, x: np.ndarray, exact: dict[str, Any] | None = None) -> dict[str, Any]:
        """``x: (d,)`` in [0, 1]^d -> nested config with constants; each value inside its domain.

        Float parameters given in ``exact`` (a user's point, nested or '/'-flattened) keep the
        user's value: the log round trip would turn 0.003 into 0.002999999999999999.
        """
        out: dict[str, Any] = {}
        for path, value in self.constants:
            _assign(out, path, value)
        for p, xi in zip(self.params, np.asarray(x, dtype=float)):
            value = _decode_value(p, float(xi))
            if exact is not None and p.kind == FLOAT and p.q is None:
                try:
                    value = float(_lookup(exact, p))
                except MissingParameter:
                    pass
            _assign(out, p.path, value)
        return out

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Move each point of ``X: (n, d)`` to the encoding of the config it decodes to (discrete
        columns to cell centres, quantized floats onto their grid), so that two points decoding
        to the same config have the same encoding."""
        X = np.clip(np.array(X, dtype=float), 0.0, 1.0)
        for j, p in enumerate(self.params):
            if p.kind != FLOAT or p.q is not None:
                X[:, j] = [_encode_value(p, _decode_value(p, v)) for v in X[:, j]]
        return X

    def levels(self) -> list[np.ndarray | None]:
        """Per column: the sorted encodings of all admissible values of a discrete column
        (``None`` for continuous and quantized-float columns)."""
        out: list[np.ndarray | None] = []
        for p in self.params:
            if p.kind == CAT:
                out.append((np.arange(p.n_levels) + 0.5) / p.n_levels)
            elif p.kind == INT:
                a, b = _int_edges(p)
                i = np.arange(p.low, p.high + 1)
                centre = (np.log(i) + np.log(i + 1)) / 2 if p.log else i + 0.5
                out.append((centre - a) / (b - a))
            else:
                out.append(None)
        return out


# -- domain parsing ------------------------------------------------------------------------
def _is_grid(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and "grid_search" in node


def _unsupported(path: Path, what: str) -> ValueError:
    return ValueError(
        f"space parameter '{'/'.join(path)}': {what} is not supported by GPSearch; use "
        "tune.uniform, quniform, loguniform, qloguniform, randint, qrandint, lograndint, "
        "qlograndint or choice (constants and nested dicts pass through)"
    )


def _parse_domain(domain: Domain, path: Path) -> Param:
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
    log = isinstance(sampler, LogUniform)
    if isinstance(domain, Function):
        raise _unsupported(path, "sample_from")
    if isinstance(domain, Categorical):
        if not domain.categories:
            raise ValueError(f"space parameter '{'/'.join(path)}': choice needs >= 1 category")
        return Param(path, CAT, categories=tuple(domain.categories))
    if not isinstance(sampler, (Uniform, LogUniform)):
        raise _unsupported(path, f"{type(sampler).__name__.strip('_')} sampling (e.g. randn)")
    lo, hi = domain.lower, domain.upper
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise _unsupported(path, "an unbounded domain")
    if isinstance(domain, Float):
        if q is not None:  # Tune keeps quantized floats inside [ceil(lo/q), floor(hi/q)] * q
            lo, hi = _grid_index(lo, q, math.ceil) * q, _grid_index(hi, q, math.floor) * q
        if not lo <= hi:
            raise ValueError(f"space parameter '{'/'.join(path)}': empty range [{lo}, {hi}]")
        return Param(path, FLOAT, float(lo), float(hi), log, None if q is None else float(q))
    if isinstance(domain, Integer):
        if q is None or q == 1:  # randint / lograndint / qrandint(q=1): upper bound exclusive
            i_lo, i_hi, q = int(lo), int(hi) - 1, 1
        else:  # quantized with q > 1: multiples of q inside [lo, hi], upper inclusive
            i_lo, i_hi = int(_grid_index(lo, q, math.ceil)), int(_grid_index(hi, q, math.floor))
        if i_hi < i_lo:
            raise ValueError(
                f"space parameter '{'/'.join(path)}': no admissible integer in [{lo}, {hi}) "
                f"with step {q}"
            )
        return Param(path, INT, float(i_lo), float(i_hi), log, int(q))
    raise _unsupported(path, type(domain).__name__)


def _grid_index(bound: float, q: float, round_fn) -> float:
    scaled = bound / q
    return round(scaled) if math.isclose(scaled, round(scaled)) else round_fn(scaled)


# -- per-value encoding --------------------------------------------------------------------
def _int_edges(p: Param) -> tuple[float, float]:
    """Scale on which the integer cells [i, i + 1) have equal width: linear or log."""
    lo, hi = p.low, p.high + 1
    return (math.log(lo), math.log(hi)) if p.log else (lo, hi)


def _encode_value(p: Param, value: Any) -> float:
    if p.kind == CAT:
        for i, c in enumerate(p.categories):
            if _same(c, value):
                return (i + 0.5) / len(p.categories)
        raise ValueError(
            f"parameter '{p.name}': {value!r} is not one of the categories {list(p.categories)}"
        )
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{p.name}': expected a number, got {value!r}") from None
    if p.kind == FLOAT:
        tol = 1e-9 * max(1.0, abs(p.high))
        if not p.low - tol <= v <= p.high + tol:
            raise ValueError(f"parameter '{p.name}': {v} is outside [{p.low}, {p.high}]")
        if p.high == p.low:
            return 0.5
        if p.log:
            return _clip01((math.log(max(v, p.low)) - math.log(p.low)) / math.log(p.high / p.low))
        return _clip01((v - p.low) / (p.high - p.low))
    i = v / p.q
    if not (p.low - 1e-9 <= i <= p.high + 1e-9) or abs(i - round(i)) > 1e-6:
        raise ValueError(
            f"parameter '{p.name}': {value!r} is not an admissible value "
            f"(multiples of {p.q} in [{p.low * p.q:g}, {p.high * p.q:g}])"
        )
    a, b = _int_edges(p)
    i = round(i)
    centre = (math.log(i) + math.log(i + 1)) / 2 if p.log else i + 0.5
    return (centre - a) / (b - a)


def _decode_value(p: Param, x: float) -> Any:
    x = _clip01(x)
    if p.kind == CAT:
        return p.categories[min(int(x * len(p.categories)), len(p.categories) - 1)]
    if p.kind == FLOAT:
        v = math.exp(math.log(p.low) + x * math.log(p.high / p.low)) if p.log else (
            p.low + x * (p.high - p.low)
        )
        if p.q is not None:
            v = round(round(v / p.q) * p.q, 12)  # 7 * 0.1 -> 0.7, not 0.7000000000000001
            v = min(max(v, p.low), p.high)  # stays on the grid: both bounds are multiples of q
        return float(min(max(v, p.low), p.high))
    a, b = _int_edges(p)
    t = a + x * (b - a)
    i = math.floor(math.exp(t) if p.log else t)
    i = int(min(max(i, p.low), p.high))
    return int(i * p.q)


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _same(a: Any, b: Any) -> bool:
    """Category equality that survives a save/restore (tuples may come back as lists)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    try:
        return bool(a == b) and type(a) is type(b) or (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool) and a == b
        )
    except Exception:  # noqa: BLE001 - exotic __eq__ (arrays); fall back to identity
        return a is b


# -- nested dict helpers -------------------------------------------------------------------
def _lookup(config: dict[str, Any], p: Param) -> Any:
    if p.name in config:
        return config[p.name]
    node: Any = config
    for key in p.path:
        if not isinstance(node, dict) or key not in node:
            raise MissingParameter(f"parameter '{p.name}' is missing from the given config")
        node = node[key]
    return node


def _assign(out: dict[str, Any], path: Path, value: Any) -> None:
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
