"""Conditional (tree-structured) benchmark problems, each also written flat.

``tree_a`` and ``tree_b`` are trees of the DSL in ``treespace.py`` with synthetic objectives;
``cash`` (scikit-learn model selection) lives in ``cash.py``.  Each problem ``<name>`` is also
registered as ``<name>_flat``, the same objective on the flat twin of its space.

The synthetic trees are offsets plus sums of squares (and a ripple that is zero at its centre)
in unit coordinates, so each branch's minimum is exact by construction.  Every branch has its
own optimum; the global one (f* = 0) sits in a branch with a minority of the volume under Tune's
uniform sampling of options and with more active parameters, while other branches give
good-but-not-best values easily (how the curvatures were set: benchmarks/README.md,
"Conditional spaces").
"""

from __future__ import annotations

import math
from collections.abc import Callable

from benchmarks.cash import cash_problem
from benchmarks.problems import Problem
from benchmarks.treespace import Canon, Cat, Choice, Num, Option, Tree, TreeProblem


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


TREE_PROBLEMS: dict[str, Callable[[], TreeProblem]] = {
    "tree_a": lambda: TreeProblem("tree_a", TREE_A, tree_a_objective, 0.0, _tree_a_argmin(), 0.01),
    "tree_b": lambda: TreeProblem("tree_b", TREE_B, tree_b_objective, 0.0, _tree_b_argmin(), 0.01),
    "cash": cash_problem,
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
