"""Conditional (tree-structured) benchmark problems, each also written flat (issue 13).

A problem is a tree of ``Num``/``Cat`` parameters and ``Choice`` branches.  The same tree gives
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

The synthetic trees (``tree_a``, ``tree_b``) are offsets plus sums of squares (and a ripple
that is zero at its centre) in unit coordinates, so each branch's minimum is exact by
construction.  Every branch has its own optimum; the global one (f* = 0) sits in a branch with
a minority of the volume under Tune's uniform sampling of options (1/8 and 1/9) and with more
active parameters, while other branches give good-but-not-best values easily.  The curvatures
were set (against random search only, before any other searcher ran) so that the best branch's
median value is like its siblings' while the best of 100 random configurations lies in it in
only 14% (tree_a) and 2% (tree_b) of draws; random search's median best-of-100 regret is then
0.08 and 0.075.  The scikit-learn task lives in ``cash.py``.
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


def _sq(a: float, b: float) -> float:
    return (a - b) ** 2


def _ripple(r: float, freq: float) -> float:
    """Zero at r = 0 and non-negative: local minima along a parameter."""
    return 1.0 - math.cos(2.0 * math.pi * freq * r)


# ---- tree_a: "model family", 4-way, the net family with a nested optimizer choice -------------
# Tune's sampling: each family 1/4, net/sgd and net/adam 1/8 each.  Best: net/adam (f* = 0,
# 4 active parameters, the best lr moving with weight decay, a ripple along lr); trees 0.05,
# kernel 0.08, sgd 0.10, linear 0.12.
_A_OPT = Choice(
    "opt",
    tag="name",
    options=(
        Option("sgd", (Num("lr", "log", 1e-4, 1.0), Num("momentum", "float", 0.0, 0.99))),
        Option(
            "adam",
            (
                Num("lr", "log", 1e-5, 1e-1),
                Num("beta1", "float", 0.5, 0.999),
                Num("wd", "log", 1e-6, 1e-2),
            ),
        ),
    ),
)
TREE_A = Tree(
    [
        Choice(
            "model",
            tag="family",
            options=(
                Option("linear", (Num("reg", "log", 1e-4, 1e2),)),
                Option("kernel", (Num("gamma", "log", 1e-3, 1e1), Num("c", "log", 1e-2, 1e3))),
                Option(
                    "trees",
                    (
                        Num("depth", "int", 1, 12),
                        Num("lr", "log", 1e-3, 1.0),
                        Num("subsample", "float", 0.3, 1.0),
                    ),
                ),
                Option("net", (Num("width", "qint", 16, 512, 16), _A_OPT)),
            ),
        )
    ]
)
_A_DEPTH = 6  # trees' best depth
_A_WIDTH = {"sgd": 256, "adam": 128}  # net's best width per optimizer (multiples of 16)
_A_NET = {"sgd": 0.6, "adam": 0.3}  # curvature along the width
_A_ADAM = (2.0, 0.05, 1.0, 1.0)  # adam's curvatures: lr, lr ripple amplitude, beta1, wd


def tree_a_objective(c: Canon) -> float:
    t, u = TREE_A, TREE_A.u
    family = c["model"]
    if family == "linear":
        return 0.12 + 0.8 * _sq(u(c, "linear_reg"), 0.62)
    if family == "kernel":
        g = u(c, "kernel_gamma") - 0.38
        return 0.08 + 1.2 * g**2 + 1.2 * _sq(u(c, "kernel_c"), 0.57 + 0.4 * g)
    if family == "trees":
        d = u(c, "trees_depth") - t.nums["trees_depth"].to_unit(_A_DEPTH)
        return (
            0.05
            + 0.9 * d**2
            + 1.0 * _sq(u(c, "trees_lr"), 0.41 - 0.25 * d)
            + 0.5 * _sq(u(c, "trees_subsample"), 0.83)
        )
    opt = c["net_opt"]
    w = _A_NET[opt] * _sq(u(c, "net_width"), t.nums["net_width"].to_unit(_A_WIDTH[opt]))
    if opt == "sgd":
        return 0.10 + w + 1.5 * _sq(u(c, "sgd_lr"), 0.66) + 1.0 * _sq(u(c, "sgd_momentum"), 0.91)
    wd = u(c, "adam_wd") - 0.27
    r = u(c, "adam_lr") - (0.44 + 0.3 * wd)  # the best lr moves with weight decay
    beta = u(c, "adam_beta1") - 0.81
    k_lr, k_ripple, k_beta, k_wd = _A_ADAM
    return w + k_lr * r**2 + k_ripple * _ripple(r, 4.0) + k_beta * beta**2 + k_wd * wd**2


def _tree_a_argmin() -> Canon:
    n = TREE_A.nums
    return {
        "model": "net",
        "net_width": _A_WIDTH["adam"],
        "net_opt": "adam",
        "adam_lr": n["adam_lr"].from_unit(0.44),
        "adam_beta1": n["adam_beta1"].from_unit(0.81),
        "adam_wd": n["adam_wd"].from_unit(0.27),
    }


# ---- tree_b: shared lr and dropout, a network kind, an mlp's depth as a list-valued choice -----
# Tune's sampling: linear, cnn, mlp 1/3 each; mlp depths 1, 2, 3 1/9 each.  Best: 3-layer mlp
# (f* = 0, 5 active parameters: lr, dropout and three widths, best widths 256-128-64); cnn 0.04,
# 2-layer mlp 0.07, 1-layer mlp 0.12, linear 0.15.  The shared lr's and dropout's best values
# differ by branch.
def _width(key: str) -> Num:
    return Num(key, "qint", 16, 512, 16)


TREE_B = Tree(
    [
        Num("lr", "log", 1e-4, 1e-1),
        Num("dropout", "float", 0.0, 0.5),
        Choice(
            "net",
            tag="kind",
            options=(
                Option("linear"),
                Option("cnn", (Num("channels", "qint", 8, 128, 8), Cat("kernel", (3, 5, 7)))),
                Option(
                    "mlp",
                    (
                        Choice(
                            "widths",
                            tag=None,
                            options=(
                                Option("mlp1", (_width("w0"),)),
                                Option("mlp2", (_width("w0"), _width("w1"))),
                                Option("mlp3", (_width("w0"), _width("w1"), _width("w2"))),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ]
)
_B_WIDTHS = (256, 128, 64)  # the best widths of the i-th layer
_B_CHANNELS = 64
_B_KERNEL = {3: 0.04, 5: 0.0, 7: 0.02}
# per branch: offset, best u(lr), best u(dropout), curvature of lr/dropout, width curvature
_B_SHAPE = {
    "linear": (0.15, 0.78, 0.06, 0.6, 0.0),
    "cnn": (0.04, 0.52, 0.42, 0.8, 0.5),
    "mlp1": (0.12, 0.45, 0.30, 0.8, 0.6),
    "mlp2": (0.07, 0.40, 0.44, 1.2, 0.8),
    "mlp3": (0.00, 0.36, 0.54, 1.2, 0.5),
}


def tree_b_objective(c: Canon) -> float:
    t, u = TREE_B, TREE_B.u
    branch = c["net"] if c["net"] != "mlp" else c["mlp_widths"]
    offset, lr0, d0, curv, wcurv = _B_SHAPE[branch]
    r = u(c, "lr") - lr0
    f = offset + curv * (r**2 + _sq(u(c, "dropout"), d0))
    if branch == "cnn":
        ch = t.nums["cnn_channels"]
        return (
            f
            + wcurv * _sq(u(c, "cnn_channels"), ch.to_unit(_B_CHANNELS))
            + _B_KERNEL[int(c["cnn_kernel"])]
        )
    if branch == "mlp3":
        f += 0.05 * _ripple(r, 3.0)
    depth = int(branch[3:]) if branch.startswith("mlp") else 0
    for i in range(depth):
        name = f"{branch}_w{i}"
        f += wcurv * _sq(u(c, name), t.nums[name].to_unit(_B_WIDTHS[i]))
    return f


def _tree_b_argmin() -> Canon:
    n = TREE_B.nums
    return {
        "lr": n["lr"].from_unit(0.36),
        "dropout": n["dropout"].from_unit(0.54),
        "net": "mlp",
        "mlp_widths": "mlp3",
        **{f"mlp3_w{i}": w for i, w in enumerate(_B_WIDTHS)},
    }


def _cash() -> TreeProblem:
    from benchmarks.cash import cash_problem

    return cash_problem()


TREE_PROBLEMS: dict[str, Callable[[], TreeProblem]] = {
    "tree_a": lambda: TreeProblem("tree_a", TREE_A, tree_a_objective, 0.0, _tree_a_argmin(), 0.01),
    "tree_b": lambda: TreeProblem("tree_b", TREE_B, tree_b_objective, 0.0, _tree_b_argmin(), 0.01),
    "cash": _cash,
}


def get_tree_problem(name: str) -> TreeProblem:
    """The ``TreeProblem`` behind problem ``name`` (with or without the ``_flat`` suffix)."""
    base = name.removesuffix("_flat")
    if base not in TREE_PROBLEMS:
        known = sorted(TREE_PROBLEMS)
        raise ValueError(f"conditional problem must be one of {known}, got {name!r}")
    return TREE_PROBLEMS[base]()


# name -> factory, in the style of problems.PROBLEMS: the tree and the flat variant of each
CONDITIONAL_PROBLEMS: dict[str, Callable[[], Problem]] = {
    name + suffix: (lambda n=name, f=bool(suffix): TREE_PROBLEMS[n]().problem(flat=f))
    for name in TREE_PROBLEMS
    for suffix in ("", "_flat")
}
