"""The conditional-space DSL: one tree description gives the nested Tune space, its flat twin and a
canonical form.

A space is a tree of ``Num``/``Cat`` parameters and ``Choice`` branches.  The same tree gives
* the *tree* Tune space: every choice is a ``tune.choice`` whose options hold their own domains
  (dict options carry a constant tag naming the option; ``tag=None`` makes list options), so
  parameters of options not chosen are absent from a config, as in Tune's own sampling;
* the *flat* Tune space (problem name ``<name>_flat``): each choice is a plain categorical of its
  option labels and every parameter of every option is always present (the naive baseline);
  the objective ignores the parameters of options not chosen.

Both are read into one *canonical* form: ``{flat name: value}`` for the active parameters and
choices only.  A flat name is the parameter's key, prefixed with ``<option label>_`` inside an
option (option labels are unique within a problem), and tree configs use the same names as their
keys: Ray 2.60's HyperOptSearch labels a parameter by its path without the option, so two
options of one choice that share a key (sgd's and adam's ``lr``) fail with hyperopt's
``DuplicateLabel``.  The objective, the regret and the ``unit`` vector are functions of the
canonical form, so a tree config and a flat config that choose the same branches and values
score the same, and distances between points mean the same in both.

``unit(config)``: one entry per flat column in depth-first order, in [0, 1]: a number's position
on its (linear or log) scale, a categorical or choice one-hot; inactive columns are all zeros.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray import tune

from benchmarks.problems import Problem

Canon = dict[str, Any]


@dataclass(frozen=True)
class Num:
    """A number: ``kind`` is "float", "log" (log-uniform float), "int", "logint" or "qint"
    (multiples of ``q``); ``lo``/``hi`` are inclusive bounds on the value scale."""

    key: str
    kind: str
    lo: float
    hi: float
    q: int = 1

    def domain(self):
        lo, hi = self.lo, self.hi
        if self.kind == "float":
            return tune.uniform(lo, hi)
        if self.kind == "log":
            return tune.loguniform(lo, hi)
        if self.kind == "int":
            return tune.randint(int(lo), int(hi) + 1)  # randint's upper bound is exclusive
        if self.kind == "logint":
            return tune.lograndint(int(lo), int(hi) + 1)
        if self.kind == "qint":
            return tune.qrandint(int(lo), int(hi), self.q)  # qrandint's upper bound is inclusive
        raise ValueError(f"unknown kind {self.kind!r} of parameter {self.key!r}")

    def to_unit(self, value: Any) -> float:
        """Position of ``value`` in [0, 1] on the parameter's scale."""
        if self.kind in ("log", "logint"):
            return (math.log(float(value)) - math.log(self.lo)) / math.log(self.hi / self.lo)
        return (float(value) - self.lo) / (self.hi - self.lo)

    def from_unit(self, u: float) -> Any:
        """Inverse of ``to_unit`` (integers rounded to admissible values)."""
        if self.kind in ("log", "logint"):
            v = math.exp(math.log(self.lo) + u * math.log(self.hi / self.lo))
        else:
            v = self.lo + u * (self.hi - self.lo)
        if self.kind == "float" or self.kind == "log":
            return min(max(v, self.lo), self.hi)  # exp(log(hi)) may round above hi
        step = self.q if self.kind == "qint" else 1
        return int(min(max(round(v / step) * step, self.lo), self.hi))


@dataclass(frozen=True)
class Cat:
    """A categorical parameter with constant values."""

    key: str
    values: tuple

    def domain(self):
        return tune.choice(list(self.values))


@dataclass(frozen=True)
class Option:
    """One option of a ``Choice``: its label (unique in the problem) and its parameters."""

    label: str
    params: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Choice:
    """A branch.  Dict options hold ``{tag: label, key: domain, ...}``; with ``tag=None`` the
    options are lists of their parameters' domains (told apart by their lengths)."""

    key: str
    options: tuple[Option, ...]
    tag: str | None = "kind"

    def option(self, label: str) -> Option:
        for opt in self.options:
            if opt.label == label:
                return opt
        raise ValueError(f"{self.key}: no option {label!r}")

    def option_of(self, value: Any) -> Option:
        """The option a tree config's value at this choice took."""
        if self.tag is not None:
            return self.option(value[self.tag])
        n = len(_as_list(value))
        matches = [o for o in self.options if len(o.params) == n]
        if len(matches) != 1:
            raise ValueError(f"{self.key}: {n} values match no single option")
        return matches[0]


Node = Num | Cat | Choice


def _as_list(value: Any) -> list:
    """A list option's value as a list.  HyperOptSearch (Ray 2.60) returns list options as
    dicts keyed 0, 1, ... (and JSON makes those keys strings)."""
    if isinstance(value, Mapping):
        return [value[k] for k in sorted(value, key=int)]
    return list(value)


class Tree:
    """A conditional space: ``root`` are the top-level parameters and choices."""

    def __init__(self, root: Sequence[Node]):
        self.root = tuple(root)
        self.columns: list[tuple[str, Node]] = []  # (flat name, node), depth first
        self._walk_columns(self.root, "")
        self.nums = {name: node for name, node in self.columns if isinstance(node, Num)}

    def _walk_columns(self, nodes: Sequence[Node], prefix: str) -> None:
        for node in nodes:
            self.columns.append((prefix + node.key, node))
            if isinstance(node, Choice):
                for opt in node.options:
                    self._walk_columns(opt.params, opt.label + "_")

    # -- Tune spaces ---------------------------------------------------------------------------
    def tree_space(self) -> dict[str, Any]:
        """The conditional Tune space (fresh domain objects on every call)."""
        return self._build(self.root, "", as_list=False)

    def _build(self, nodes: Sequence[Node], prefix: str, as_list: bool):
        values = [self._domain(node) for node in nodes]
        return values if as_list else {prefix + n.key: v for n, v in zip(nodes, values)}

    def _domain(self, node: Node):
        if not isinstance(node, Choice):
            return node.domain()
        options = []
        for opt in node.options:
            inner = self._build(opt.params, opt.label + "_", as_list=node.tag is None)
            options.append(inner if node.tag is None else {node.tag: opt.label, **inner})
        return tune.choice(options)

    def flat_space(self) -> dict[str, Any]:
        """Every column always present; each choice a categorical of its option labels."""
        return {
            name: tune.choice([o.label for o in node.options])
            if isinstance(node, Choice)
            else node.domain()
            for name, node in self.columns
        }

    # -- canonical form ------------------------------------------------------------------------
    def from_tree(self, config: Mapping[str, Any]) -> Canon:
        out: Canon = {}
        self._read_tree(self.root, config, "", out)
        return out

    def _read_tree(self, nodes: Sequence[Node], value: Any, prefix: str, out: Canon) -> None:
        items = _as_list(value) if not isinstance(value, Mapping) or _int_keyed(value) else None
        for i, node in enumerate(nodes):
            v = items[i] if items is not None else value[prefix + node.key]
            if isinstance(node, Choice):
                opt = node.option_of(v)
                out[prefix + node.key] = opt.label
                self._read_tree(opt.params, v, opt.label + "_", out)
            else:
                out[prefix + node.key] = v

    def from_flat(self, config: Mapping[str, Any]) -> Canon:
        out: Canon = {}
        self._read_flat(self.root, config, "", out)
        return out

    def _read_flat(self, nodes: Sequence[Node], config: Mapping, prefix: str, out: Canon) -> None:
        for node in nodes:
            name = prefix + node.key
            out[name] = config[name]
            if isinstance(node, Choice):
                self._read_flat(node.option(config[name]).params, config, config[name] + "_", out)

    def to_tree(self, canon: Canon) -> dict[str, Any]:
        """The tree config of a canonical point (inverse of ``from_tree``)."""
        return self._write(self.root, canon, "", as_list=False)

    def _write(self, nodes: Sequence[Node], canon: Canon, prefix: str, as_list: bool):
        values = []
        for node in nodes:
            v = canon[prefix + node.key]
            if isinstance(node, Choice):
                opt = node.option(v)
                inner = self._write(opt.params, canon, opt.label + "_", node.tag is None)
                v = inner if node.tag is None else {node.tag: opt.label, **inner}
            values.append(v)
        return values if as_list else {prefix + n.key: v for n, v in zip(nodes, values)}

    def to_flat(self, canon: Canon, fill: Mapping[str, Any]) -> dict[str, Any]:
        """The flat config of a canonical point, inactive columns taken from ``fill``."""
        return {name: canon[name] if name in canon else fill[name] for name, _ in self.columns}

    def unit(self, canon: Canon) -> np.ndarray:
        """``(k,)`` vector in [0, 1]: scaled numbers, one-hot categories, zeros when inactive."""
        out: list[float] = []
        for name, node in self.columns:
            if isinstance(node, Num):
                out.append(node.to_unit(canon[name]) if name in canon else 0.0)
            else:
                labels = (
                    [o.label for o in node.options] if isinstance(node, Choice) else node.values
                )
                out += [1.0 if name in canon and canon[name] == v else 0.0 for v in labels]
        return np.asarray(out, dtype=np.float64)

    def u(self, canon: Canon, name: str) -> float:
        """Unit coordinate of the numeric parameter ``name`` (flat name) of a canonical point."""
        return self.nums[name].to_unit(canon[name])


def _int_keyed(value: Mapping) -> bool:
    return bool(value) and all(isinstance(k, int) or str(k).isdigit() for k in value)


# A conditional problem: its tree, objective on canonical points, optimum, regret target.
@dataclass(frozen=True)
class TreeProblem:
    name: str
    tree: Tree
    objective: Callable[[Canon], float]
    f_star: float
    argmin: Canon
    target: float

    def problem(self, flat: bool) -> Problem:
        tree = self.tree
        read = tree.from_flat if flat else tree.from_tree
        return Problem(
            name=self.name + ("_flat" if flat else ""),
            dim=len(tree.columns),
            space=tree.flat_space() if flat else tree.tree_space(),
            f_star=self.f_star,
            target=self.target,
            func=lambda c: self.objective(read(c)),
            unit=lambda c: tree.unit(read(c)),
            float_only=False,
        )
