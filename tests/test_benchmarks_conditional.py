"""benchmarks/conditional.py, treespace.py and cash.py: optima where stated, tree and flat
variants agree, random search resolves nested spaces as Tune does, and peers that cannot nest
are skipped."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ray.tune.search.sample import Domain

from benchmarks.cash import CASH_ARGMIN, CASH_F_STAR
from benchmarks.conditional import TREE_PROBLEMS, get_tree_problem
from benchmarks.peers import RandomSearcher
from benchmarks.protocol import run_protocol
from benchmarks.registry import available, get_problem, make_searcher
from benchmarks.store import RunStore
from benchmarks.treespace import Choice

SYNTHETIC = ["tree_a", "tree_b"]
# the branch holding the optimum and its share of Tune's sampling, by construction
BEST_LEAF = {"tree_a": (("net", "adam"), 1 / 8), "tree_b": (("mlp", "mlp3"), 1 / 9)}


def _random_configs(space: dict, n: int, seed: int) -> list[dict]:
    searcher = RandomSearcher(seed=seed)
    searcher.set_search_properties("loss", "min", space)
    return [searcher.suggest(str(i)) for i in range(n)]


def _leaf(tp, canon: dict) -> tuple:
    return tuple(canon[n] for n, node in tp.tree.columns if isinstance(node, Choice) and n in canon)


def _has_domain(value) -> bool:
    if isinstance(value, Domain):
        return True
    if isinstance(value, dict):
        return any(_has_domain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_domain(v) for v in value)
    return False


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_optimum_is_f_star_in_both_variants(name):
    tp = get_tree_problem(name)
    tree, flat = get_problem(name), get_problem(name + "_flat")
    assert tree(tp.tree.to_tree(tp.argmin)) == pytest.approx(tp.f_star, abs=1e-12)
    for fill in _random_configs(flat.space, 5, seed=3):  # inactive columns must not matter
        assert flat(tp.tree.to_flat(tp.argmin, fill)) == pytest.approx(tp.f_star, abs=1e-12)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_random_configs_stay_above_f_star_and_the_best_branch_is_a_minority(name):
    tp = get_tree_problem(name)
    problem = get_problem(name)
    configs = _random_configs(problem.space, 2000, seed=1)
    leaves: list[tuple] = []
    values = []
    for config in configs:
        assert not _has_domain(config)  # fully resolved, as Tune's own sampling leaves it
        values.append(problem(config))
        assert values[-1] > tp.f_star
        leaves.append(_leaf(tp, tp.tree.from_tree(config)))
        x = problem.unit(config)
        assert np.all((x >= 0.0) & (x <= 1.0))
    best_leaf, share = BEST_LEAF[name]
    counts = {leaf: leaves.count(leaf) for leaf in set(leaves)}
    # Tune's uniform choice gives the best branch its share (4 binomial s.d. at n = 2000) ...
    assert abs(counts[best_leaf] / len(configs) - share) < 4 * math.sqrt(share / len(configs))
    assert counts[best_leaf] < max(counts.values())  # ... less than the most common branch
    # other branches give good values more easily: the best of 100 random configs lies in the
    # best branch in few of 20 such batches (by construction ~14% for tree_a, ~2% for tree_b)
    in_best = [
        leaves[b + int(np.argmin(values[b : b + 100]))] == best_leaf for b in range(0, 2000, 100)
    ]
    assert sum(in_best) <= 6


# each branch's own optimum (its offset), as the module states
LEAF_OPTIMA = {
    "tree_a": {
        ("linear",): 0.12,
        ("kernel",): 0.08,
        ("trees",): 0.05,
        ("net", "sgd"): 0.10,
        ("net", "adam"): 0.0,
    },
    "tree_b": {
        ("linear",): 0.15,
        ("cnn",): 0.04,
        ("mlp", "mlp1"): 0.12,
        ("mlp", "mlp2"): 0.07,
        ("mlp", "mlp3"): 0.0,
    },
}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_each_branch_has_its_stated_optimum(name):
    from scipy.optimize import minimize

    tp = get_tree_problem(name)
    tree = tp.tree
    flat = get_problem(name + "_flat")
    choices = [n for n, node in tree.columns if isinstance(node, Choice)]
    for leaf, offset in LEAF_OPTIMA[name].items():
        # random configs of this branch: flat draws with the branch columns set to its path
        canons = []
        for fill in _random_configs(flat.space, 300, seed=7):
            config = dict(fill)
            for label in leaf:
                column = next(n for n in choices if label in _labels(tree, n))
                config[column] = label
            canons.append(tree.from_flat(config))
        assert {_leaf(tp, c) for c in canons} == {leaf}
        values = [tp.objective(c) for c in canons]
        assert min(values) >= offset
        # a local search from the best of them gets down to the offset (integers rounded)
        start = canons[int(np.argmin(values))]
        nums = [n for n in start if n in tree.nums]

        def f(u, start=start, nums=nums):
            c = dict(start)
            for n, ui in zip(nums, np.clip(u, 0.0, 1.0)):
                c[n] = tree.nums[n].from_unit(float(ui))
            return tp.objective(c)

        u0 = np.array([tree.u(start, n) for n in nums])
        res = minimize(f, u0, method="Nelder-Mead", options={"maxfev": 3000, "xatol": 1e-6})
        best = min(res.fun, min(values))
        for n, node in tree.columns:  # categorical parameters: try every value
            if n in start and n not in nums and n not in choices:
                for v in node.values:
                    best = min(best, f(res.x, start={**start, n: v}))
        assert offset <= best < offset + 0.005


def _labels(tree, column: str) -> list[str]:
    return [o.label for o in dict(tree.columns)[column].options]


@pytest.mark.parametrize("name", SYNTHETIC + ["cash"])
def test_tree_and_flat_variants_agree_for_configs_valid_in_both(name):
    tp = get_tree_problem(name)
    tree, flat = get_problem(name), get_problem(name + "_flat")
    n = 4 if name == "cash" else 300
    trees = _random_configs(tree.space, n, seed=5)
    fills = _random_configs(flat.space, n, seed=6)
    for config, fill in zip(trees, fills):
        canon = tp.tree.from_tree(config)
        flat_config = tp.tree.to_flat(canon, fill)
        assert set(flat_config) == set(flat.space)  # every flat column present
        assert tp.tree.from_flat(flat_config) == canon
        assert tp.tree.to_tree(canon) == config  # the tree config round-trips
        np.testing.assert_array_equal(tree.unit(config), flat.unit(flat_config))
        assert flat(flat_config) == tree(config)
    # a flat config whose branch columns select the same options reads the same, whatever the
    # other branches' values; different options read differently
    a, b = fills[0], {**fills[1], **{k: fills[0][k] for k in tp.tree.from_flat(fills[0])}}
    assert tp.tree.from_flat(a) == tp.tree.from_flat(b)


def test_list_options_read_the_same_from_hyperopt_style_dicts():
    # HyperOptSearch (Ray 2.60) returns list-valued options as {0: .., 1: ..} (str keys in JSON)
    tp = get_tree_problem("tree_b")
    config = tp.tree.to_tree(tp.argmin)
    widths = config["net"]["mlp_widths"]
    for as_dict in (
        {i: w for i, w in enumerate(widths)},
        {str(i): w for i, w in enumerate(widths)},
    ):
        other = {**config, "net": {**config["net"], "mlp_widths": as_dict}}
        assert tp.tree.from_tree(other) == tp.argmin


def test_random_searcher_draws_flat_spaces_as_before_nesting():
    # independent computation: one pass of the domains in Ray's order with the same Generator
    problem = get_problem("mixed")
    rng = np.random.default_rng(11)
    expected = []
    for _ in range(20):
        expected.append({k: problem.space[k].sample(random_state=rng) for k in problem.space})
    assert _random_configs(problem.space, 20, seed=11) == expected


def test_cash_optimum_is_reproduced_and_random_configs_stay_above_it():
    pytest.importorskip("sklearn")
    tp = get_tree_problem("cash")
    problem = get_problem("cash")
    assert math.isfinite(CASH_F_STAR) and tp.f_star == CASH_F_STAR
    assert problem(tp.tree.to_tree(CASH_ARGMIN)) == pytest.approx(CASH_F_STAR, abs=1e-9)
    for config in _random_configs(problem.space, 8, seed=2):
        assert problem(config) >= CASH_F_STAR


def test_peers_that_cannot_nest_are_skipped_on_tree_spaces_only():
    tree, flat = get_problem("tree_a"), get_problem("tree_a_flat")
    assert "tree_a_flat" in (available("optuna-tpe", tree) or "")
    for name in ("random", "gp"):
        assert available(name, tree) is None
    if available("optuna-tpe", flat) is None:  # optuna installed
        assert "optuna" in str(type(make_searcher("optuna-tpe", flat, 0, 4))).lower()


@pytest.mark.parametrize("searcher", ["random", "hyperopt"])
def test_protocol_runs_nested_peers_on_tree_b(searcher):
    problem = get_problem("tree_b")
    if available(searcher, problem):
        pytest.skip(available(searcher, problem))
    alg = make_searcher(searcher, problem, seed=0, workers=3)
    result = run_protocol(alg, problem, workers=3, budget=12, seed=0)
    assert len(result.evaluations) == 12
    tp = get_tree_problem("tree_b")
    for e in result.evaluations:
        assert e.value == pytest.approx(tp.objective(tp.tree.from_tree(e.config)), abs=1e-15)
        assert e.regret >= 0.0


def test_every_tree_problem_is_registered_with_its_flat_twin():
    for name in TREE_PROBLEMS:
        for variant in (name, name + "_flat"):
            assert get_problem(variant).name == variant


def test_cli_runs_tree_and_flat_problems_and_the_report_pairs_them(tmp_path):
    from benchmarks import conditional_report
    from benchmarks.run import main

    out = tmp_path / "cond"
    args = ["--problems", "tree_a,tree_a_flat", "--searchers", "random,optuna-tpe"]
    assert main([*args, "--workers", "4", "--seeds", "2", "--budget", "8", "--out", str(out)]) == 0
    def runs() -> dict[tuple, dict]:
        return {(r["problem"], r["searcher"], r["seed"]): r for r in RunStore(out).records()}

    expected = {("tree_a", "random", s) for s in (0, 1)}
    expected |= {("tree_a_flat", "random", s) for s in (0, 1)}
    if available("optuna-tpe", get_problem("tree_a_flat")) is None:  # skipped on the tree
        expected |= {("tree_a_flat", "optuna-tpe", s) for s in (0, 1)}
    assert set(runs()) == expected
    # a copy keeps the tree problem's runs under another searcher name, flat runs untouched
    assert conditional_report.main(["--out", str(out), "--copy", "random=random-copy"]) == 0
    copied = runs()[("tree_a", "random-copy", 1)]
    original = runs()[("tree_a", "random", 1)]
    assert copied["evaluations"] == original["evaluations"]
    assert ("tree_a_flat", "random-copy", 0) not in runs()
    table = (out / "targets.md").read_text()
    for row in ("| random | 2 |", "| random (flat) | 2 |", "| random-copy | 2 |"):
        assert row in table
    assert (out / "trajectory_by_problem.png").stat().st_size > 1000
