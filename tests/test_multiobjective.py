"""GPSearch with several objectives and outcome constraints, driven in-process as Tune would
(raybo/strategies/multi.py through the searcher); one real Tune run is marked slow."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from ray import tune

from raybo import GPSearch, pareto_front
from tests.drive import drive

SPACE = {"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)}


def branin_currin(config: dict) -> dict:
    """Both minimized on [0, 1]^2 (BoTorch's BraninCurrin, negated back), plus ``s = x + y``."""
    u, v = 15 * config["x"] - 5, 15 * config["y"]
    branin = ((v - 5.1 / (4 * math.pi**2) * u**2 + 5 / math.pi * u - 6) ** 2
              + 10 * (1 - 1 / (8 * math.pi)) * math.cos(u) + 10)
    x, y = config["x"], max(config["y"], 1e-9)
    currin = (1 - math.exp(-1 / (2 * y))) * (2300 * x**3 + 1900 * x**2 + 2092 * x + 60) / (
        100 * x**3 + 500 * x**2 + 4 * x + 20)
    return {"branin": branin, "currin": currin, "s": config["x"] + config["y"]}


def two_objectives(**kwargs) -> GPSearch:
    return GPSearch(SPACE, metric=["branin", "currin"], mode=["min", "min"], seed=0,
                    n_initial=6, **kwargs)


def test_pending_trials_get_distinct_points_from_fantasies():
    s = two_objectives()
    drive(s, 10, branin_currin, workers=1)
    X = np.array([[c["x"], c["y"]] for c in [s.suggest(f"p{i}") for i in range(4)]])
    gaps = [np.abs(X[i] - X[j]).max() for i in range(4) for j in range(i)]
    assert min(gaps) > 1e-3
    assert set(s.trial_origins()[f"p{i}"] for i in range(4)) == {"gp"}


def test_front_improves_on_the_design_and_matches_pareto_front_of_the_results():
    s = two_objectives()
    results = []
    drive(s, 24, lambda c: results.append(branin_currin(c)) or results[-1], workers=3)
    front = s.pareto_front()
    again = pareto_front(results, metric=["branin", "currin"], mode=["min", "min"])
    assert [(f["branin"], f["currin"]) for f in front] == [
        (r["branin"], r["currin"]) for r in again]
    assert len(front) >= 4
    # GP trials reach the front: not only the design's points are non-dominated
    gp_ids = {k for k, v in s.trial_origins().items() if v == "gp"}
    assert any(f["trial_id"] in gp_ids for f in front)


def test_constrained_single_objective_mostly_feasible_after_the_design():
    s = GPSearch(SPACE, metric="branin", mode="min", outcome_constraints=["s <= 0.7"],
                 n_initial=6, seed=1)
    drive(s, 26, branin_currin, workers=2)
    obs = s.observations()
    after = [v for k, v in obs.items() if s.trial_origin(k) == "gp"]
    feasible = [sum(v["config"].values()) <= 0.7 for v in after]
    assert len(after) >= 18 and np.mean(feasible) >= 0.8
    (best,) = s.pareto_front()
    assert best["s"] <= 0.7 and best["branin"] < 2.0  # constrained optimum ~0.5 at (0.54, 0.15)


def test_infeasible_history_first_reduces_the_violation():
    s = GPSearch(SPACE, metric="branin", mode="min", outcome_constraints=["s <= 0.1"],
                 points_to_evaluate=[{"x": 0.6 + 0.07 * i, "y": 0.5} for i in range(5)],
                 n_initial=5, seed=0)
    drive(s, 13, branin_currin)
    gp = [sum(v["config"].values()) for k, v in s.observations().items()
          if s.trial_origin(k) == "gp"]
    assert min(gp) <= 0.1 + 1e-9 and np.mean(np.array(gp) <= 0.4) >= 0.5


def test_a_result_missing_a_metric_fails_its_trial():
    s = two_objectives()
    with pytest.warns(UserWarning, match=r"metrics \['currin'\] missing"):
        drive(s, 8, lambda c: {"branin": 1.0} if c["x"] < 0.3 else branin_currin(c))
    obs = s.observations()
    assert all((v["status"] == "failed") == (v["config"]["x"] < 0.3) for v in obs.values())


def test_save_restore_round_trip_continues_identically(tmp_path):
    a = two_objectives(outcome_constraints=["s <= 1.2"], reference_point={"currin": 14.0})
    drive(a, 12, branin_currin, workers=2, drain=False)
    a.save(tmp_path / "s.pkl")
    b = GPSearch()
    b.restore(tmp_path / "s.pkl")
    assert b.metric == ["branin", "currin"] and b.get_state() == a.get_state()
    assert b.pareto_front() == a.pareto_front()
    twin = pickle.loads(pickle.dumps(a))  # no torch state travels: both fit from scratch
    assert b.suggest("n") == twin.suggest("n")
    b.on_trial_complete("n", branin_currin(b.observations()["n"]["config"]))
    assert b.n_pending == 1 and b.suggest("m") is not None


def test_known_points_with_per_metric_rewards_and_add_evaluated_point():
    pts = [{"x": 0.1 * i, "y": 0.5} for i in range(1, 6)]
    s = GPSearch(SPACE, metric=["branin", "currin"], mode=["min", "min"], seed=0, n_initial=5,
                 points_to_evaluate=pts, evaluated_rewards=[branin_currin(p) for p in pts])
    assert len(s.observations()) == 5 and s.suggest("t0") is not None  # GP from the start
    assert s.trial_origin("t0") == "gp"
    s.add_evaluated_point({"x": 0.9, "y": 0.9}, branin_currin({"x": 0.9, "y": 0.9}))
    s.add_evaluated_point({"x": 0.8, "y": 0.9}, None, error=True)
    assert [v["status"] for v in s.observations().values()][-2:] == ["done", "failed"]
    with pytest.raises(ValueError, match="must be a dict"):
        s.add_evaluated_point({"x": 0.5, "y": 0.5}, 3.0)


def test_conditional_space_with_two_objectives():
    space = {"model": tune.choice([{"kind": "a", "x": tune.uniform(0, 1)},
                                   {"kind": "b", "y": tune.uniform(0, 1)}])}

    def f(c):
        m = c["model"]
        v = m.get("x", m.get("y"))
        return {"f1": v + (0.3 if m["kind"] == "b" else 0.0), "f2": (1 - v) ** 2}

    s = GPSearch(space, metric=["f1", "f2"], mode=["min", "min"], seed=0, n_initial=4)
    configs = drive(s, 14, f, workers=2)
    assert {c["model"]["kind"] for c in configs} == {"a", "b"}
    assert len(s.pareto_front()) >= 3


def test_three_objectives_and_max_mode():
    def f(c):  # DTLZ2's front with g = 0; "b" is reported negated and maximized
        u, v = math.pi / 2 * c["x"], math.pi / 2 * c["y"]
        return {"a": math.cos(u) * math.cos(v), "b": -math.cos(u) * math.sin(v),
                "c": math.sin(u) + 0.2 * (c["y"] - 0.5) ** 2}

    s = GPSearch(SPACE, metric=["a", "b", "c"], mode=["min", "max", "min"], seed=0, n_initial=6)
    drive(s, 14, f, workers=2)
    assert s.strategy == "outcomes" and len(s.pareto_front()) >= 5


@pytest.mark.slow
@pytest.mark.ray
def test_tuner_with_two_workers_and_a_metric_list(ray_local):
    def trainable(config):  # self-contained: Ray's workers cannot import this test module
        x, y = config["x"], config["y"]
        tune.report({"f1": x, "f2": (1 - x) ** 2 + y, "s": x + y})

    searcher = GPSearch(metric=["f1", "f2"], mode=["min", "min"], seed=0, n_initial=4,
                        outcome_constraints=["s <= 1.5"])
    tuner = tune.Tuner(trainable, param_space=SPACE,
                       tune_config=tune.TuneConfig(search_alg=searcher, num_samples=10,
                                                   max_concurrent_trials=2))
    grid = tuner.fit()
    front = pareto_front(grid, metric=["f1", "f2"], mode=["min", "min"],
                         outcome_constraints=["s <= 1.5"])
    assert len(grid) == 10 and not grid.errors and len(front) >= 2
    assert all(r.metrics["s"] <= 1.5 for r in front)
    assert [r.metrics["f1"] for r in front] == [f["f1"] for f in searcher_view(grid)]


def searcher_view(grid) -> list[dict]:
    """The front of the grid's results, by ``raybo.pareto_front`` on the plain dicts."""
    return pareto_front([r.metrics for r in grid], metric=["f1", "f2"], mode=["min", "min"],
                        outcome_constraints=["s <= 1.5"])


def test_four_objectives_use_a_random_scalarization_and_still_spread():
    space = {f"x{i}": tune.uniform(0, 1) for i in range(4)}

    def f(c):  # squared distances to the four corners e_j: the front is their hull
        x = np.array([c[f"x{i}"] for i in range(4)])
        return {f"f{j}": float(((x - np.eye(4)[j]) ** 2).sum()) for j in range(4)}

    s = GPSearch(space, metric=[f"f{j}" for j in range(4)], mode=["min"] * 4, seed=0,
                 n_initial=6)
    configs = drive(s, 14, f, workers=3)
    gp = [c for k, c in zip(s.trial_origins(), configs) if s.trial_origin(k) == "gp"]
    assert len(gp) >= 6 and len(s.pareto_front()) >= 4
    X = np.array([[c[f"x{i}"] for i in range(4)] for c in gp])
    assert np.ptp(X.argmax(1)) > 0  # different weights favour different corners
