"""Offline search for the CASH problem's optimum; run once, result committed in ``cash.py``.

    nice -n 15 python -m benchmarks.cash_optimum \
        --out benchmarks/results/conditional/cash_optimum.json

Three phases, all evaluations memoized by configuration:
1. ``--tune`` configurations drawn as Tune draws the tree space (each family 1/5);
2. ``--per-leaf`` configurations in each leaf branch (family, and kernel for svc), drawn
   uniformly over the leaf's own parameters;
3. local search from the ``--starts`` best distinct configurations of each of the ``--leaves``
   best leaves: Nelder-Mead on the unit coordinates of the leaf's numeric parameters (integers
   rounded to admissible values), then every value of each categorical parameter, then steps of
   1, 2, 4 and 8 on each integer parameter, repeated while they improve;
4. polish of the ``--polish`` best local results: every admissible value of each integer
   parameter, then Nelder-Mead on the continuous ones, in rounds while they gain.
   ``--polish-only`` runs this phase alone on a finished record and updates it.

The JSON records every phase's count and best, the best per leaf, the overall best
configuration and value (``CASH_F_STAR``/``CASH_ARGMIN``), and the 20 best values found.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as in the benchmark runs

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.cash import CASH_TREE, cash_objective  # noqa: E402
from benchmarks.peers import RandomSearcher  # noqa: E402
from benchmarks.treespace import Canon, Cat, Choice  # noqa: E402

TREE = CASH_TREE
COLUMNS = dict(TREE.columns)  # flat name -> node
NM_MAXFEV = 80  # Nelder-Mead evaluations per start (the leaves have 1-4 numeric parameters)
INT_STEPS = (1, 2, 4, 8)
POLISH_ROUNDS = 4  # rounds of (integer scans, Nelder-Mead) from the best configuration


def leaves() -> list[dict[str, str]]:
    """Every combination of choice labels that is one branch path, e.g.
    ``{"classifier": "svc", "svc_kernel": "rbf"}``."""

    def walk(nodes, prefix: str) -> list[dict[str, str]]:
        out = [{}]
        for node in nodes:
            if not isinstance(node, Choice):
                continue
            sub = []
            for opt in node.options:
                for inner in walk(opt.params, opt.label + "_"):
                    sub += [{**o, prefix + node.key: opt.label, **inner} for o in out]
            out = sub
        return out

    return walk(TREE.root, "")


def leaf_of(c: Canon) -> str:
    """The branch path of a canonical config, e.g. ``"svc/rbf"``."""
    return "/".join(str(c[n]) for n, node in TREE.columns if isinstance(node, Choice) and n in c)


class Memo:
    """Memoized objective with a log of every distinct evaluation."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, Canon]] = {}

    def __call__(self, c: Canon) -> float:
        c = {k: v.item() if isinstance(v, np.generic) else v for k, v in c.items()}
        key = json.dumps(c, sort_keys=True)
        if key not in self.values:
            self.values[key] = (cash_objective(c), c)
        return self.values[key][0]

    def best(self, n: int = 1, leaf: str | None = None) -> list[tuple[float, Canon]]:
        rows = [v for v in self.values.values() if leaf is None or leaf_of(v[1]) == leaf]
        return sorted(rows, key=lambda r: r[0])[:n]


def local_search(f: Memo, start: Canon) -> tuple[float, Canon]:
    from scipy.optimize import minimize

    nums = [n for n in start if n in TREE.nums]
    cats = [n for n, node in TREE.columns if isinstance(node, Cat) and n in start]

    def at(u: np.ndarray, base: Canon) -> Canon:
        c = dict(base)
        for name, ui in zip(nums, np.clip(u, 0.0, 1.0)):
            c[name] = TREE.nums[name].from_unit(float(ui))
        return c

    best = dict(start)
    u0 = np.array([TREE.nums[n].to_unit(start[n]) for n in nums])
    if nums:
        res = minimize(
            lambda u: f(at(u, best)),
            u0,
            method="Nelder-Mead",
            options={
                "maxfev": NM_MAXFEV,
                "xatol": 1e-3,
                "fatol": 1e-6,
                "initial_simplex": _simplex(u0),
            },
        )
        cand = at(res.x, best)
        if f(cand) < f(best):
            best = cand
    improved = True
    while improved:
        improved = False
        moves = [{n: v} for n in cats for v in COLUMNS[n].values]
        for n in nums:
            node = TREE.nums[n]
            if node.kind in ("int", "logint", "qint"):
                step = node.q if node.kind == "qint" else 1
                for s in INT_STEPS:
                    for sign in (-1, 1):
                        v = int(best[n]) + sign * s * step
                        if node.lo <= v <= node.hi:
                            moves.append({n: v})
        for move in moves:
            cand = {**best, **move}
            if f(cand) < f(best) - 1e-12:
                best, improved = cand, True
    return f(best), best


def polish(f: Memo, start: Canon, rounds: int = POLISH_ROUNDS) -> tuple[float, Canon]:
    """Alternate an exhaustive scan of each integer parameter (every admissible value) with
    Nelder-Mead on the continuous ones, until a round gains less than 1e-6."""
    from scipy.optimize import minimize

    best = dict(start)
    ints = [n for n in best if n in TREE.nums and TREE.nums[n].kind in ("int", "logint", "qint")]
    floats = [n for n in best if n in TREE.nums and n not in ints]
    for _ in range(rounds):
        before = f(best)
        for n in ints:
            node = TREE.nums[n]
            step = node.q if node.kind == "qint" else 1
            for v in range(int(node.lo), int(node.hi) + 1, step):
                if f({**best, n: v}) < f(best):
                    best = {**best, n: v}
        if floats:

            def at(u: np.ndarray, base: Canon = best) -> Canon:
                return {
                    **base,
                    **{
                        n: TREE.nums[n].from_unit(float(x))
                        for n, x in zip(floats, np.clip(u, 0.0, 1.0))
                    },
                }

            u0 = np.array([TREE.nums[n].to_unit(best[n]) for n in floats])
            res = minimize(
                lambda u: f(at(u)),
                u0,
                method="Nelder-Mead",
                options={
                    "maxfev": 2 * NM_MAXFEV,
                    "xatol": 1e-4,
                    "fatol": 1e-7,
                    "initial_simplex": _simplex(u0, 0.05),
                },
            )
            if f(at(res.x)) < f(best):
                best = at(res.x)
        print("polish round", before, "->", f(best), flush=True)
        if f(best) > before - 1e-6:
            break
    return f(best), best


def _simplex(u0: np.ndarray, side: float = 0.1) -> np.ndarray:
    """A simplex of the given side around ``u0`` pointing into the unit cube."""
    pts = [u0]
    for i in range(u0.size):
        p = u0.copy()
        p[i] = u0[i] + side if u0[i] <= 1 - side else u0[i] - side
        pts.append(p)
    return np.array(pts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cash_optimum")
    p.add_argument("--tune", type=int, default=1000, help="configs drawn as Tune draws them")
    p.add_argument("--per-leaf", type=int, default=250, help="configs drawn in each leaf")
    p.add_argument("--leaves", type=int, default=3, help="best leaves to search locally")
    p.add_argument("--starts", type=int, default=5, help="local searches per leaf")
    p.add_argument("--polish", type=int, default=3, help="best local results to polish")
    p.add_argument(
        "--polish-only",
        action="store_true",
        help="only polish the best configurations recorded in --out, and update it",
    )
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", default="benchmarks/results/conditional/cash_optimum.json")
    args = p.parse_args(argv)
    out = Path(args.out)
    f = Memo()
    c0, w0 = time.process_time(), time.perf_counter()
    if args.polish_only:
        record = json.loads(out.read_text())
        starts = [record["argmin"]] + [
            r["config"] for r in record["phases"]["local"]["runs"] if "config" in r
        ]
    else:
        record = {
            "how": __doc__.split("\n\n")[0],
            "args": vars(args),
            "evaluations": 0,
            "cpu_s": 0.0,
            "wall_s": 0.0,
            "phases": search(f, args),
        }
        runs = sorted(record["phases"]["local"]["runs"], key=lambda r: r["end"])
        starts = [r["config"] for r in runs]
    distinct = []
    for c in starts:
        if c not in distinct:
            distinct.append(c)
    polished = [
        dict(zip(("start", "end"), (f(c), polish(f, c)[0]))) for c in distinct[: args.polish]
    ]
    record["phases"]["polish"] = {"evaluations": len(f.values), "runs": polished}
    best_value, best_config = f.best()[0]
    if not args.polish_only or best_value < record["f_star"]:
        record["f_star"], record["argmin"] = best_value, best_config
    record["evaluations"] += len(f.values)  # distinct configurations of this invocation
    record["cpu_s"] += time.process_time() - c0
    record["wall_s"] += time.perf_counter() - w0
    if not args.polish_only:
        record["best_per_leaf"] = {}
        for leaf in dict.fromkeys(leaf_of(lf) for lf in leaves()):
            value, config = f.best(1, leaf)[0]
            record["best_per_leaf"][leaf] = {"value": value, "config": config}
        record["top20"] = [v for v, _ in f.best(20)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"f* = {record['f_star']!r} at {record['argmin']} ({len(f.values)} evaluations)")
    return 0


def search(f: Memo, args: argparse.Namespace) -> dict:
    """Phases 1-3 (see the module docstring); returns their records."""
    phases = {}
    tree_rs = RandomSearcher(seed=args.seed)
    tree_rs.set_search_properties("loss", "min", TREE.tree_space())
    for i in range(args.tune):
        f(TREE.from_tree(tree_rs.suggest(str(i))))
    phases["tune"] = {"evaluations": len(f.values), "best": f.best()[0][0]}
    print("tune", phases["tune"], flush=True)

    flat_rs = RandomSearcher(seed=args.seed + 1)
    flat_rs.set_search_properties("loss", "min", TREE.flat_space())
    for leaf in leaves():
        for i in range(args.per_leaf):
            f(TREE.from_flat({**flat_rs.suggest(str(i)), **leaf}))
    phases["per_leaf"] = {"evaluations": len(f.values), "best": f.best()[0][0]}
    print("per_leaf", phases["per_leaf"], flush=True)

    leaf_best = {leaf_of(lf): f.best(1, leaf_of(lf))[0][0] for lf in leaves()}
    ranked = sorted(leaf_best, key=leaf_best.get)
    local = []
    for leaf in ranked[: args.leaves]:
        for _, start in f.best(args.starts, leaf):
            value, config = local_search(f, start)
            local.append({"leaf": leaf, "start": f(start), "end": value, "config": config})
            print("local", local[-1], flush=True)
    phases["local"] = {"evaluations": len(f.values), "best": f.best()[0][0], "runs": local}
    return phases


if __name__ == "__main__":
    raise SystemExit(main())
