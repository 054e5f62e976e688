"""GPSearch.trial_origin: where each suggestion came from (design, given point, GP)."""

from __future__ import annotations

from ray import tune

from raybo import GPSearch

SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(-1.0, 1.0)}


def _drive(searcher: GPSearch, n: int, start: int = 0) -> list[dict]:
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": (config["x"] - 0.3) ** 2 + config["y"] ** 2})
        configs.append(config)
    return configs


def test_origin_of_each_suggestion_is_recorded_and_survives_save_restore():
    searcher = GPSearch(SPACE, metric="loss", mode="min", seed=1, n_initial=3,
                        points_to_evaluate=[{"x": 0.5, "y": 0.0}])
    _drive(searcher, 5)
    assert [searcher.trial_origin(f"t{i}") for i in range(5)] == [
        "given", "design", "design", "gp", "gp"]  # the given point counts toward n_initial
    assert searcher.trial_origin("never-suggested") is None
    restored = GPSearch()
    restored.set_state(searcher.get_state())
    assert restored.trial_origin("t0") == "given" and restored.trial_origin("t4") == "gp"
    _drive(restored, 1, start=5)
    assert restored.trial_origin("t5") == "gp"

