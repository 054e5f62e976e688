"""benchmarks/: problem optima, the asynchronous protocol driver, and the quick CLI profile."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.peers import RandomSearcher
from benchmarks.problems import PROBLEMS
from benchmarks.protocol import run_protocol
from benchmarks.registry import get_problem, make_searcher
from benchmarks.run import main
from benchmarks.store import RunStore

HARTMANN6_KEYS = [f"x{i}" for i in range(6)]
HARTMANN6_ARGMIN = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
# (problem, a known minimizer)
OPTIMA = [
    ("branin", {"x0": math.pi, "x1": 2.275}),
    ("branin", {"x0": -math.pi, "x1": 12.275}),
    ("hartmann6", dict(zip(HARTMANN6_KEYS, HARTMANN6_ARGMIN))),
    ("rosenbrock", {f"x{i}": 1.0 for i in range(4)}),
    ("ackley", {f"x{i}": 0.0 for i in range(5)}),
    ("levy", {f"x{i}": 1.0 for i in range(8)}),
    ("mixed", {"lr": 10**-3.35, "layers": 5, "units": 128, "optimizer": "adam", "dropout": 0.25}),
]


@pytest.mark.parametrize(("name", "argmin"), OPTIMA)
def test_known_optimum_has_zero_regret(name, argmin):
    problem = get_problem(name)
    assert problem.regret(problem(argmin)) < 1e-5


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_random_points_are_worse_than_optimum_and_inside_unit_cube(name):
    problem = get_problem(name)
    searcher = RandomSearcher(seed=1)
    searcher.set_search_properties("loss", "min", problem.space)
    for i in range(200):
        config = searcher.suggest(str(i))
        assert problem(config) >= problem.f_star - 1e-9
        x = problem.unit(config)
        assert np.all(x >= 0.0) and np.all(x <= 1.0)


def test_unknown_problem_is_rejected_by_name():
    with pytest.raises(ValueError, match="problem must be one of"):
        get_problem("sphere")


class _EveryOtherNone(RandomSearcher):
    """Declines every other suggest, like a batch searcher waiting for its batch."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.calls = 0

    def suggest(self, trial_id):
        self.calls += 1
        return None if self.calls % 2 == 0 else super().suggest(trial_id)


@pytest.mark.parametrize("workers", [1, 3])
def test_protocol_keeps_at_most_w_minus_1_pending_and_survives_none(workers):
    problem = get_problem("branin")
    searcher = _EveryOtherNone(seed=0)
    searcher.set_search_properties("loss", "min", problem.space)
    result = run_protocol(searcher, problem, workers=workers, budget=15, seed=0)
    evals = result.evaluations
    assert len(evals) == 15 and not result.truncated
    assert result.none_suggestions > 0
    assert max(e.n_pending_at_suggest for e in evals) <= workers - 1
    best = [e.best_regret for e in evals]
    assert best == list(np.minimum.accumulate([e.regret for e in evals]))
    for e in evals:
        assert e.regret == pytest.approx(max(e.value - problem.f_star, 0.0))


def test_completions_interleave_with_several_workers():
    problem = get_problem("hartmann6")
    searcher = make_searcher("random", problem, seed=0, workers=4)
    evals = run_protocol(searcher, problem, workers=4, budget=30, seed=3).evaluations
    starts = [int(e.trial_id.split("_")[1]) for e in evals]
    assert starts != sorted(starts)  # completion order differs from start order
    assert all(e.end >= e.start for e in evals)


def test_quick_profile_writes_results_tables_and_plots(tmp_path):
    out = tmp_path / "quick"
    assert main(["--profile", "quick", "--out", str(out)]) == 0
    runs = RunStore(out).records()
    names = {f"{r['problem']}__{r['searcher']}" for r in runs}
    assert len(runs) == 4 and not (out / "raw").exists()
    assert names == {"branin__random", "branin__gp", "mixed__random", "mixed__gp"}
    for run in runs:
        regrets = [e["best_regret"] for e in run["evaluations"]]
        assert len(regrets) == run["budget"] == 12
        assert all(math.isfinite(r) and r >= 0.0 for r in regrets)
        assert all(e["suggest_cpu_s"] >= 0.0 for e in run["evaluations"])
    summary = (out / "summary.md").read_text()
    assert "| branin | gp | 2 | 1 |" in summary
    for plot in ("trajectory.png", "regret_box.png", "suggest_time.png"):
        assert (out / plot).stat().st_size > 1000


def test_trainables_bench_trials_to_target_and_default_target():
    from benchmarks import trainables_bench as tb

    assert tb.trials_to_reach([None, 0.5, 0.3, 0.3], 0.3) == 3
    assert tb.trials_to_reach([0.5, 0.4], 0.3) is None
    args = tb.parse_args(["--archs", "cnn", "--seeds", "3", "--trials", "2"])
    records = [
        {"arch": "cnn", "searcher": s, "best": b, "curve": [b + 0.1, b]}
        for s, bs in (("random", (0.2, 0.4, 0.3)), ("gp", (0.1, 0.5, 0.2)))
        for b in bs
    ]
    assert tb.targets(records, args) == {"cnn": pytest.approx(0.3)}  # random's median best
    assert tb.targets(records, tb.parse_args(["--archs", "cnn", "--target", "cnn=0.15"])) == {
        "cnn": 0.15
    }
    # a miss counts as budget + 1: gp reaches 0.3 at trials [1, miss, 1] -> median 1
    assert tb._median_trials([1, None, 1], 2) == "1"
    assert tb._median_trials([None, None, 1], 2) == "> 2"
    with pytest.raises(SystemExit):
        tb.parse_args(["--target", "cnn:0.1"])
