"""One searched parameter: a Tune domain <-> one column of the unit cube.

Notation: ``x`` in [0, 1] is the value of one column of a point ``x: (d,)``.

* float (``uniform``/``loguniform``, optionally quantized): x is the position on the linear or
  log scale; quantized values are snapped to the grid inside the bounds when decoding.
* int (``randint``/``lograndint``/``qrandint``/``qlograndint``): the ``n`` admissible values split
  [0, 1] into ``n`` cells of equal width on the domain's (linear or log) scale, so every value gets
  the volume Tune's own sampler gives it; a value is encoded at its cell centre.
* categorical (``choice``): ``k`` equal cells, a category encoded at its cell centre. The GP uses
  a Hamming-type kernel on these columns, so their order carries no meaning.

Only this module and ``space.py`` know Tune's domain classes; a ``Param`` itself is plain data
(it survives a save/restore without them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
Path = tuple[Any, ...]  # keys of nested dicts (usually str) and indices into lists/tuples


def path_name(path: Path) -> str:
    """``("model", "layers", 0)`` -> ``"model/layers/0"``: how errors and points name a key."""
    return "/".join(map(str, path))


class MissingParameter(KeyError, ValueError):
    """A config lacks a searched parameter (a ValueError for callers of ``encode``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Param:
    """One searched parameter (one column).

    For ``float``: ``low``/``high`` bounds (on the value scale), ``log`` scale, grid step ``q``.
    For ``int``: admissible values are ``i * q`` for ``i`` in ``[low, high]`` (grid indices,
    inclusive), spaced on a log scale if ``log``. For ``cat``: ``categories``.

    ``path``: where the value sits in a config. ``parent``: ``(column, option)`` when the
    parameter only exists if the choice in that column took that option (None: always active).
    ``branch``: this column selects the option of such a choice; its ``categories`` are then the
    option indices ``0..k-1`` (the options themselves are subtrees of the space).
    """

    path: Path
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    q: float | None = None
    categories: tuple[Any, ...] = ()
    parent: tuple[int, int] | None = None
    branch: bool = False

    @property
    def name(self) -> str:
        return path_name(self.path)

    @property
    def n_levels(self) -> int:
        """Number of distinct values (0 for continuous parameters)."""
        if self.kind == INT:
            return int(self.high - self.low) + 1
        if self.kind == CAT:
            return len(self.categories)
        return 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers, strings, the user's category values)."""
        return {"path": list(self.path), "kind": self.kind, "low": self.low, "high": self.high,
                "log": self.log, "q": self.q, "categories": list(self.categories),
                "parent": None if self.parent is None else list(self.parent),
                "branch": self.branch}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Param:
        return cls(tuple(data["path"]), data["kind"], data["low"], data["high"], data["log"],
                   data["q"], tuple(data["categories"]),
                   None if data["parent"] is None else tuple(data["parent"]), data["branch"])


def unsupported(path: Path, what: str) -> ValueError:
    return ValueError(
        f"space parameter '{path_name(path)}': {what} is not supported by GPSearch; use "
        "tune.uniform, quniform, loguniform, qloguniform, randint, qrandint, lograndint, "
        "qlograndint or choice (constants, nested dicts, lists and choices of dicts or lists "
        "holding such domains are fine)"
    )


def parse_domain(domain: Domain, path: Path, parent: tuple[int, int] | None = None) -> Param:
    """A Tune domain whose values are plain numbers or constant categories -> its ``Param``."""
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q, sampler = sampler.q, sampler.get_sampler()
    log = isinstance(sampler, LogUniform)
    if isinstance(domain, Function):
        raise unsupported(path, "sample_from")
    if isinstance(domain, Categorical):
        if not domain.categories:
            raise ValueError(f"space parameter '{path_name(path)}': choice needs >= 1 category")
        return Param(path, CAT, categories=tuple(domain.categories), parent=parent)
    if not isinstance(sampler, (Uniform, LogUniform)):
        raise unsupported(path, f"{type(sampler).__name__.strip('_')} sampling (e.g. randn)")
    lo, hi = domain.lower, domain.upper
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise unsupported(path, "an unbounded domain")
    if isinstance(domain, Float):
        if q is not None:  # Tune keeps quantized floats inside [ceil(lo/q), floor(hi/q)] * q
            lo, hi = _grid_index(lo, q, math.ceil) * q, _grid_index(hi, q, math.floor) * q
        if not lo <= hi:
            raise ValueError(f"space parameter '{path_name(path)}': empty range [{lo}, {hi}]")
        return Param(path, FLOAT, float(lo), float(hi), log, None if q is None else float(q),
                     parent=parent)
    if isinstance(domain, Integer):
        if q is None or q == 1:  # randint / lograndint / qrandint(q=1): upper bound exclusive
            i_lo, i_hi, q = int(lo), int(hi) - 1, 1
        else:  # quantized with q > 1: multiples of q inside [lo, hi], upper inclusive
            i_lo, i_hi = int(_grid_index(lo, q, math.ceil)), int(_grid_index(hi, q, math.floor))
        if i_hi < i_lo:
            raise ValueError(
                f"space parameter '{path_name(path)}': no admissible integer in [{lo}, {hi}) "
                f"with step {q}"
            )
        return Param(path, INT, float(i_lo), float(i_hi), log, int(q), parent=parent)
    raise unsupported(path, type(domain).__name__)


def _grid_index(bound: float, q: float, round_fn) -> float:
    scaled = bound / q
    return round(scaled) if math.isclose(scaled, round(scaled)) else round_fn(scaled)


# -- per-value encoding --------------------------------------------------------------------
def int_edges(p: Param) -> tuple[float, float]:
    """Scale on which the integer cells [i, i + 1) have equal width: linear or log."""
    lo, hi = p.low, p.high + 1
    return (math.log(lo), math.log(hi)) if p.log else (lo, hi)


def category_index(p: Param, x: float) -> int:
    """Index of the category (or option) whose cell holds ``x``."""
    return min(int(clip01(x) * len(p.categories)), len(p.categories) - 1)


def encode_value(p: Param, value: Any) -> float:
    """A value of the parameter -> its encoding; ValueError naming the parameter if the value is
    not admissible."""
    if p.kind == CAT:
        for i, c in enumerate(p.categories):
            if same(c, value):
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
            return clip01((math.log(max(v, p.low)) - math.log(p.low)) / math.log(p.high / p.low))
        return clip01((v - p.low) / (p.high - p.low))
    i = v / p.q
    if not (p.low - 1e-9 <= i <= p.high + 1e-9) or abs(i - round(i)) > 1e-6:
        raise ValueError(
            f"parameter '{p.name}': {value!r} is not an admissible value "
            f"(multiples of {p.q} in [{p.low * p.q:g}, {p.high * p.q:g}])"
        )
    a, b = int_edges(p)
    i = round(i)
    centre = (math.log(i) + math.log(i + 1)) / 2 if p.log else i + 0.5
    return (centre - a) / (b - a)


def decode_value(p: Param, x: float) -> Any:
    """An encoding in [0, 1] -> the admissible value whose cell (or grid point) holds it."""
    x = clip01(x)
    if p.kind == CAT:
        return p.categories[category_index(p, x)]
    if p.kind == FLOAT:
        v = math.exp(math.log(p.low) + x * math.log(p.high / p.low)) if p.log else (
            p.low + x * (p.high - p.low)
        )
        if p.q is not None:
            v = round(round(v / p.q) * p.q, 12)  # 7 * 0.1 -> 0.7, not 0.7000000000000001
            v = min(max(v, p.low), p.high)  # stays on the grid: both bounds are multiples of q
            return float(v)
        # Tune samples uniform/loguniform in [low, high) and Ray's own bounds tests assert
        # value < high: the top of the cube (and exp/log round-off near it) maps one float below.
        top = math.nextafter(p.high, -math.inf) if p.high > p.low else p.high
        return float(min(max(v, p.low), top))
    a, b = int_edges(p)
    t = a + x * (b - a)
    i = math.floor(math.exp(t) if p.log else t)
    i = int(min(max(i, p.low), p.high))
    return int(i * p.q)


def clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def same(a: Any, b: Any) -> bool:
    """Value equality that survives a save/restore (tuples may come back as lists)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
    try:
        return bool(a == b) and type(a) is type(b) or (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool) and a == b
        )
    except Exception:  # noqa: BLE001 - exotic __eq__ (arrays); fall back to identity
        return a is b
