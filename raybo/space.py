"""Tune search spaces <-> the unit cube, nested and conditional spaces included: the one boundary
where Tune's domain classes are known (per-column encodings: ``params.py``).

Notation: a space has ``d`` searched parameters (columns, ``Param``); a point is ``x: (d,)`` in
[0, 1]^d, a batch ``X: (n, d)``.

The space is a tree parsed from Tune's config, resolving what Tune itself resolves:
* dicts are walked by key, lists and tuples by index; a list or tuple without domains, and any
  other value, is a constant passed through untouched (Tune's placeholders for non-primitive
  values and for ``sample_from`` included: Tune resolves those after the searcher);
* a Tune domain is one column;
* a ``tune.choice`` whose options hold domains (dict-, list- or domain-valued options, at any
  depth) is a *conditional choice*: one categorical "branch" column selects the option, and the
  option is a subtree whose columns have ``parent = (branch column, option index)``. A choice whose
  options are all constants stays one ordinary categorical column.

Columns are numbered depth first in the config's order, a branch column before its options'
columns, so a flat space has exactly the columns (and encodings) it had before nesting existed.

A column is *active* when its parent column is active and selects its option (``active(X)``).
Values of options not chosen are absent from a decoded config, as with Tune's own sampling; their
columns hold ``INACTIVE`` after ``encode``/``encode_partial``/``snap``, so each config has one
encoding and a GP that ignores the tree sees a constant there (Ax's "flatten with inactive
dimensions fixed" baseline; masking them in the kernel is the surrogate's business).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from ray.tune.search.sample import Categorical, Domain

from raybo.params import (
    CAT,
    FLOAT,
    INT,
    MissingParameter,
    Param,
    Path,
    category_index,
    decode_value,
    encode_value,
    int_edges,
    parse_domain,
    path_name,
    same,
    unsupported,
)

__all__ = ["CAT", "FLOAT", "INACTIVE", "INT", "Condition", "ConditionalStructure",
           "MissingParameter", "Param", "SearchSpace"]

INACTIVE = 0.5  # encoding of an inactive column: the centre, equally far from every value
_MISSING = object()  # "this config does not give a value here"

# Tree nodes are plain tuples (they are saved with the searcher's state):
#   ("const", path, value)  ("param", path, column)  ("dict", path, ((key, node), ...))
#   ("list" | "tuple", path, (node, ...))  ("choice", path, column, (option node, ...))
Node = tuple


class Condition(NamedTuple):
    """Column ``column`` is active when its branch column ``branch`` is active and selects
    ``option`` (of ``n_options``)."""

    column: int
    branch: int
    option: int
    n_options: int


@dataclass(frozen=True)
class ConditionalStructure:
    """Which columns of a conditional space are active when: one ``Condition`` per conditional
    column, parents before children (so one pass in order computes every column's activity).
    What the surrogate's kernels need of the space (``kernels.active_mask``)."""

    conditions: tuple[Condition, ...]

    def __iter__(self):
        return iter(self.conditions)

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def columns(self) -> set[int]:
        """The conditional columns."""
        return {c.column for c in self.conditions}


class SearchSpace:
    """A parsed Tune space: the searched ``params`` (columns) and the tree that places them."""

    def __init__(self, config: dict[str, Any]):
        if not isinstance(config, dict):
            raise ValueError(
                "space must be a dict of Tune domains (e.g. {'lr': tune.loguniform(1e-4, 0.1)}), "
                f"got {type(config).__name__}"
            )
        self.params: list[Param] = []
        self._root = self._parse(config, (), None, False)
        if not self.params:
            raise ValueError(
                "space has no searchable parameter: give at least one Tune domain such as "
                "tune.uniform, tune.loguniform, tune.randint or tune.choice"
            )
        self._index_tree()

    # -- plain-data form ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (no Tune classes): ``{"params": [...], "tree": ...}``; constants and
        category values are the user's own objects."""
        return {"params": [p.to_dict() for p in self.params], "tree": self._root}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        if set(data) != {"params", "tree"}:
            raise ValueError(f"not a saved search space: keys {sorted(data)}")
        space = cls.__new__(cls)
        space.params = [Param.from_dict(p) for p in data["params"]]
        space._root = _as_tuples(data["tree"])
        space._index_tree()
        return space

    def _index_tree(self) -> None:
        # (column, parent column, option) in column order: parents precede their children
        self._children = [(j, p.parent[0], p.parent[1]) for j, p in enumerate(self.params)
                          if p.parent is not None]

    # -- parsing ---------------------------------------------------------------------------
    def _parse(self, node: Any, path: Path, parent: tuple[int, int] | None,
               in_choice: bool) -> Node:
        if _is_grid(node):
            raise unsupported(path, "grid_search inside a choice" if in_choice else "grid_search")
        if isinstance(node, Domain):
            if isinstance(node, Categorical) and any(map(_holds_domain, node.categories)):
                return self._parse_choice(node, path, parent)
            return ("param", path, self._add(parse_domain(node, path, parent)))
        if isinstance(node, dict) and (node or not path):  # an empty nested dict is a constant
            return ("dict", path, tuple((k, self._parse(v, path + (k,), parent, in_choice))
                                        for k, v in node.items()))
        if isinstance(node, (list, tuple)) and _holds_domain(node):
            return ("tuple" if isinstance(node, tuple) else "list", path,
                    tuple(self._parse(v, path + (i,), parent, in_choice)
                          for i, v in enumerate(node)))
        return ("const", path, node)

    def _parse_choice(self, domain: Categorical, path: Path,
                      parent: tuple[int, int] | None) -> Node:
        k = len(domain.categories)
        j = self._add(Param(path, CAT, categories=tuple(range(k)), parent=parent, branch=True))
        options = tuple(self._parse(c, path, (j, i), True) for i, c in enumerate(domain.categories))
        return ("choice", path, j, options)

    def _add(self, p: Param) -> int:
        self.params.append(p)
        return len(self.params) - 1

    # -- description -------------------------------------------------------------------------
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

    @property
    def conditional(self) -> bool:
        """True if some column exists only under some option of a choice."""
        return bool(self._children)

    @property
    def structure(self) -> ConditionalStructure | None:
        """The conditional structure (None for a space without conditional columns)."""
        if not self._children:
            return None
        return ConditionalStructure(tuple(Condition(j, pj, option, self.params[pj].n_levels)
                                          for j, pj, option in self._children))

    def levels(self) -> list[np.ndarray | None]:
        """Per column: the sorted encodings of all admissible values of a discrete column
        (``None`` for continuous and quantized-float columns)."""
        out: list[np.ndarray | None] = []
        for p in self.params:
            if p.kind == CAT:
                out.append((np.arange(p.n_levels) + 0.5) / p.n_levels)
            elif p.kind == INT:
                a, b = int_edges(p)
                i = np.arange(p.low, p.high + 1)
                centre = (np.log(i) + np.log(i + 1)) / 2 if p.log else i + 0.5
                out.append((centre - a) / (b - a))
            else:
                out.append(None)
        return out

    def active(self, X: np.ndarray) -> np.ndarray:
        """``(n, d)`` bool: which columns of each row of ``X: (n, d)`` are active, i.e. every
        choice above them (their branch columns, read as option indices) selects their option."""
        X = np.asarray(X, dtype=float).reshape(-1, self.dim)
        A = np.ones(X.shape, dtype=bool)
        for j, pj, option in self._children:
            k = self.params[pj].n_levels
            chosen = np.minimum((np.clip(X[:, pj], 0.0, 1.0) * k).astype(int), k - 1)
            A[:, j] = A[:, pj] & (chosen == option)
        return A

    # -- encoding --------------------------------------------------------------------------
    def encode(self, config: dict[str, Any]) -> np.ndarray:
        """Nested (or '/'-flattened) config -> ``x: (d,)``; raises ValueError if a value is missing
        or outside its domain, or if a choice's value matches none of its options."""
        x = np.full(self.dim, INACTIVE)
        self._encode(self._root, config, x, None, strict=False)
        return x

    def encode_partial(self, config: dict[str, Any], fill: np.ndarray) -> np.ndarray:
        """Like ``encode``, but parameters missing from ``config`` take their value from
        ``fill: (d,)`` (a choice whose value is missing takes its option from ``fill`` too, and
        when a partial value fits several options, ``fill``'s option wins if it is one of them);
        the result is snapped onto admissible encodings."""
        x = np.array(fill, dtype=float)
        self._encode(self._root, config, x, x.copy(), strict=False)
        return self.snap(x[None])[0]

    def decode(self, x: np.ndarray, exact: dict[str, Any] | None = None) -> dict[str, Any]:
        """``x: (d,)`` in [0, 1]^d -> nested config with constants; each value inside its domain
        (uniform/loguniform floats strictly below their exclusive upper bound, as Tune samples
        them), values of options not chosen absent.

        Float parameters given in ``exact`` (a user's point, nested or '/'-flattened) keep the
        user's value where ``x`` encodes it: the log round trip would turn 0.003 into
        0.002999999999999999, and grid rounding Tune's 0.30000000000000004 into 0.3.
        """
        x = np.asarray(x, dtype=float)
        return self._decode(self._root, x, _MISSING if exact is None else exact)

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Move each point of ``X: (n, d)`` to the encoding of the config it decodes to (discrete
        columns to cell centres, quantized floats onto their grid, inactive columns to
        ``INACTIVE``), so that two points decoding to the same config have the same encoding."""
        X = np.clip(np.array(X, dtype=float), 0.0, 1.0)
        for j, p in enumerate(self.params):
            if p.kind != FLOAT or p.q is not None:
                X[:, j] = [encode_value(p, decode_value(p, v)) for v in X[:, j]]
        if self._children:
            X[~self.active(X)] = INACTIVE
        return X

    # -- checking user points ------------------------------------------------------------
    def key_names(self) -> list[str]:
        """Names of the space's keys outside choices: parameters, choices, lists, constants."""
        names: list[str] = []

        def walk(node: Node) -> None:
            if node[0] == "dict":
                for _, child in node[2]:
                    walk(child)
            else:
                names.append(path_name(node[1]))

        walk(self._root)
        return names

    def unknown_keys(self, config: dict[str, Any]) -> list[str]:
        """Keys of a (nested or '/'-flattened) config that the space does not have, outside
        choices (a choice's value is checked against its options by ``encode``)."""
        unknown: list[str] = []

        def walk(node: Node, value: Any, prefix: str) -> None:
            if node[0] != "dict" or not isinstance(value, dict):
                return
            children = dict(node[2])
            for key, sub in value.items():
                head, rest = key, None
                if key not in children and isinstance(key, str) and "/" in key:
                    head, rest = key.split("/", 1)
                if head not in children:
                    unknown.append(f"{prefix}{key}")
                else:
                    walk(children[head], sub if rest is None else {rest: sub}, f"{prefix}{head}/")

        walk(self._root, config, "")
        return unknown

    # -- tree walks ------------------------------------------------------------------------
    def _encode(self, node: Node, value: Any, x: np.ndarray, fill: np.ndarray | None,
                strict: bool) -> None:
        """Write the encoding of ``value`` (the config's value at ``node``) into ``x``. Missing
        values are an error unless ``fill`` is given (then ``x`` keeps its value). ``strict``
        (inside a choice's options): constants must match and a dict may have no other keys,
        so that the value identifies the option."""
        tag, path = node[0], node[1]
        if tag == "const":
            if strict and value is not _MISSING and not same(value, node[2]):
                raise ValueError(f"'{path_name(path)}' is {value!r}, not {node[2]!r}")
        elif tag == "param":
            j = node[2]
            if value is not _MISSING:
                x[j] = encode_value(self.params[j], value)
            elif fill is None:
                raise MissingParameter(
                    f"parameter '{path_name(path)}' is missing from the given config")
        elif tag == "dict":
            if value is not _MISSING and not isinstance(value, dict):
                raise ValueError(f"'{path_name(path)}' should be a dict, got {value!r}")
            if strict and value is not _MISSING:
                keys = {k for k, _ in node[2]}
                extra = [k for k in value if k not in keys and not (
                    isinstance(k, str) and k.split("/", 1)[0] in keys)]
                if extra:
                    raise ValueError(f"'{path_name(path)}' has no keys {extra}")
            for key, child in node[2]:
                self._encode(child, _child(value, key), x, fill, strict)
        elif tag in ("list", "tuple"):
            items = node[2]
            if value is not _MISSING and not (
                    isinstance(value, (list, tuple)) and len(value) == len(items)):
                raise ValueError(
                    f"'{path_name(path)}' should be a {tag} of {len(items)} items, got {value!r}")
            for i, child in enumerate(items):
                self._encode(child, _MISSING if value is _MISSING else value[i], x, fill, strict)
        else:
            self._encode_choice(node, value, x, fill)

    def _encode_choice(self, node: Node, value: Any, x: np.ndarray,
                       fill: np.ndarray | None) -> None:
        _, path, j, options = node
        p = self.params[j]
        wanted = None if fill is None else category_index(p, fill[j])
        if value is _MISSING:
            if fill is None:
                raise MissingParameter(
                    f"parameter '{path_name(path)}' is missing from the given config")
            fits, errors = [(wanted, x.copy())], []
            self._encode(options[wanted], value, fits[0][1], fill, strict=True)
        else:
            fits, errors = [], []
            for i, option in enumerate(options):
                trial = x.copy()
                try:
                    self._encode(option, value, trial, fill, strict=True)
                except ValueError as err:
                    errors.append(f"option {i}: {err}")
                else:
                    fits.append((i, trial))
            if not fits:
                raise ValueError(
                    f"choice '{path_name(path)}': {value!r} matches none of its {len(options)} "
                    f"options ({'; '.join(errors)})")
        i, trial = next((f for f in fits if f[0] == wanted), fits[0])
        x[:] = trial
        x[j] = (i + 0.5) / len(options)

    def _decode(self, node: Node, x: np.ndarray, exact: Any) -> Any:
        tag = node[0]
        if tag == "const":
            return node[2]
        if tag == "param":
            j = node[2]
            p = self.params[j]
            value = decode_value(p, float(x[j]))
            if exact is not _MISSING and p.kind == FLOAT and _encodes_to(p, exact, float(x[j])):
                value = float(exact)
            return value
        if tag == "dict":
            return {key: self._decode(child, x, _child(exact, key)) for key, child in node[2]}
        if tag in ("list", "tuple"):
            items = [self._decode(child, x, _item(exact, i)) for i, child in enumerate(node[2])]
            return tuple(items) if tag == "tuple" else items
        _, _, j, options = node
        return self._decode(options[category_index(self.params[j], x[j])], x, exact)


# -- helpers -------------------------------------------------------------------------------
def _is_grid(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and "grid_search" in node


def _holds_domain(value: Any) -> bool:
    """True if Tune would resolve something inside ``value`` (a domain or a grid search)."""
    if isinstance(value, Domain) or _is_grid(value):
        return True
    if isinstance(value, dict):
        return any(map(_holds_domain, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(_holds_domain, value))
    return False


def _child(config: Any, key: Any) -> Any:
    """The value under ``key`` of a nested or '/'-flattened dict (``_MISSING`` if absent)."""
    if not isinstance(config, dict):
        return _MISSING
    if key in config:
        return config[key]
    prefix = f"{key}/"
    sub = {k[len(prefix):]: v for k, v in config.items()
           if isinstance(k, str) and k.startswith(prefix)}
    return sub if sub else _MISSING


def _item(config: Any, i: int) -> Any:
    if isinstance(config, (list, tuple)) and i < len(config):
        return config[i]
    return _MISSING


def _encodes_to(p: Param, value: Any, x: float) -> bool:
    try:
        return abs(encode_value(p, value) - x) <= 1e-12
    except ValueError:
        return False


def _as_tuples(node: Any) -> Node:
    """A saved tree whose tuples may have become lists -> the tuple form (constants untouched)."""
    tag, path = node[0], tuple(node[1])
    if tag in ("const", "param"):
        return (tag, path, node[2])
    if tag == "dict":
        return (tag, path, tuple((k, _as_tuples(c)) for k, c in node[2]))
    if tag in ("list", "tuple"):
        return (tag, path, tuple(map(_as_tuples, node[2])))
    if tag == "choice":
        return (tag, path, node[2], tuple(map(_as_tuples, node[3])))
    raise ValueError(f"not a saved search-space node: {tag!r}")
