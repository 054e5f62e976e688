"""GPSearch with intermediate results, driven through the Searcher API as Tune does:
reports kept per trial, stopped trials neither failed nor final, no change without a scheduler,
save/restore with curves. Real Ray runs with schedulers: tests/test_fidelity_tune.py."""

from __future__ import annotations

import math

import pytest
from drive import drive
from ray import tune

from raybo import GPSearch
from raybo.state import DONE, FAILED, PENDING
from trainables.curves import curve_loss

EPOCHS = 9
SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def loss(config: dict, t: int) -> float:
    return curve_loss(config["x"], t, EPOCHS) + 0.3 * (config["y"] - 0.5) ** 2


def run(searcher: GPSearch, n: int, stop_at=lambda i: EPOCHS, workers: int = 3) -> list[dict]:
    """Tune's calls for ``n`` trials, ``workers`` at a time; trial ``i`` ends at ``stop_at(i)``."""
    return drive(searcher, n, loss, workers=workers, epochs=EPOCHS, stop_at=stop_at)


# ----------------------------------------------------------------------------- searcher
def test_without_a_scheduler_suggestions_match_the_plain_gp():
    """Every trial reaches the end: the multi-fidelity model never starts, and the
    suggestions are exactly those of GPSearch(resource_attr=None)."""
    mf = GPSearch(SPACE, "loss", "min", seed=3, n_initial=4)
    plain = GPSearch(SPACE, "loss", "min", seed=3, n_initial=4, resource_attr=None)
    assert run(mf, 10) == run(plain, 10)
    assert mf.strategy == "plain" and mf.last_fit("curve") is None
    assert all(r["reports"][-1][0] == EPOCHS for r in mf.observations().values())


MIXED = {"x": tune.uniform(0.0, 1.0), "lr": tune.loguniform(1e-4, 1e-1),
         "layers": tune.randint(1, 4), "opt": tune.choice(["adam", "sgd"])}


def test_without_a_scheduler_a_mixed_space_suggests_what_the_plain_gp_does():
    """The same equivalence in a mixed space (log float, integer, categorical) over 12 trials,
    3 at a time, each reporting every epoch: reading the reports changes no suggestion. (This
    replaces a stored file of one version's suggestions, which had to be regenerated whenever
    the engine changed; the two searchers here are always today's.)"""
    def mixed_loss(c: dict, t: int) -> float:
        final = (c["x"] - 0.3) ** 2 + 0.1 * c["layers"] + 0.2 * (c["opt"] == "sgd")
        return final + (0.2 + c["x"]) / t

    mf = GPSearch(MIXED, "loss", "min", seed=3, n_initial=4)
    plain = GPSearch(MIXED, "loss", "min", seed=3, n_initial=4, resource_attr=None)
    assert (drive(mf, 12, mixed_loss, workers=3, epochs=5)
            == drive(plain, 12, mixed_loss, workers=3, epochs=5))
    assert mf.last_fit("curve") is None and mf.last_fit("plain") is not None
    assert all(r["reports"][-1][0] == 5 for r in mf.observations().values())


def test_stopped_trials_are_observations_at_their_level_not_failures():
    searcher = GPSearch(SPACE, "loss", "min", seed=0, n_initial=4)
    stops = [EPOCHS, 1, 3, 1, EPOCHS, 1, 3, 1, 1, EPOCHS, 1, 1]
    configs = run(searcher, len(stops), stop_at=lambda i: stops[i])
    recs = [searcher.observations()[f"t{i}"] for i in range(len(stops))]
    assert all(r["status"] == DONE for r in recs)  # not FAILED, and not pending either
    for r, end, config in zip(recs, stops, configs):
        assert r["reports"][-1] == [end, pytest.approx(loss(config, end))]  # the stopping result
        assert [p[0] for p in r["reports"]] == sorted({t for t in (1, 2, 4, 8) if t <= end} | {end})
    assert searcher.strategy == "curve"
    assert searcher.last_fit("curve")["n_fitted"] > 0  # the (x, t) GP ran


def test_multi_fidelity_suggestions_differ_from_taking_last_values_as_final():
    """Same history of stopped trials: the (x, t) model and the plain GP (which reads epoch-1
    losses as final values) propose different points."""
    stops = [EPOCHS, 1, 1, 3, 1, 1, EPOCHS, 1, 3]
    mf = GPSearch(SPACE, "loss", "min", seed=1, n_initial=4)
    plain = GPSearch(SPACE, "loss", "min", seed=1, n_initial=4, resource_attr=None)
    a = run(mf, len(stops) + 4, stop_at=lambda i: stops[i] if i < len(stops) else 1)
    b = run(plain, len(stops) + 4, stop_at=lambda i: stops[i] if i < len(stops) else 1)
    assert a[:6] == b[:6]  # the design, and the plain GP before any trial had stopped early
    assert a != b


def test_pending_trials_with_reports_are_fantasized_and_state_survives_restore(tmp_path):
    searcher = GPSearch(SPACE, "loss", "min", seed=2, n_initial=4, max_resource=EPOCHS)
    stops = [1, 3, 1, EPOCHS, 1, 1, 3]
    run(searcher, len(stops), stop_at=lambda i: stops[i])
    for k in range(3):  # three running trials, at epochs 1, 2 and 4
        c = searcher.suggest(f"r{k}")
        for t in range(1, (1, 2, 4)[k] + 1):
            searcher.on_trial_result(f"r{k}", {"loss": loss(c, t), "training_iteration": t})
    assert searcher.n_pending == 3
    searcher.save(str(tmp_path / "ckpt"))
    restored = GPSearch()
    restored.restore(str(tmp_path / "ckpt"))
    assert restored.observations() == searcher.observations()
    assert restored.settings() == searcher.settings()
    assert restored.settings()["max_resource"] == EPOCHS
    searcher.set_state(searcher.get_state())  # restore refits from the priors; so does this one
    assert restored.suggest("next") == searcher.suggest("next")  # same data, same fantasies
    # Tune resumes a restored trial from its checkpoint: its next report continues the curve
    restored.on_trial_result("r2", {"loss": 0.5, "training_iteration": 5})
    assert [p[0] for p in restored.observations()["r2"]["reports"]] == [1, 2, 4, 5]


def test_failed_and_nan_trials_stay_failures_with_curves():
    searcher = GPSearch(SPACE, "loss", "min", seed=4, n_initial=3)
    run(searcher, 5, stop_at=lambda i: (EPOCHS, 1, 2, EPOCHS, 1)[i])
    c = searcher.suggest("bad")
    searcher.on_trial_result("bad", {"loss": 1.0, "training_iteration": 1})
    searcher.on_trial_complete("bad", {"loss": math.nan, "training_iteration": 2})
    c2 = searcher.suggest("err")
    searcher.on_trial_complete("err", error=True)
    assert searcher.observations()["bad"]["status"] == FAILED
    assert searcher.observations()["err"]["status"] == FAILED
    x = searcher.suggest("after")  # the (x, t) GP fits with failures imputed at r = 1
    assert x is not None and x not in (c, c2)
    assert searcher.observations()["after"]["status"] == PENDING


@pytest.mark.parametrize("kwargs, message", [
    ({"resource_attr": 3}, "resource_attr"),
    ({"max_resource": 0}, "max_resource"),
    ({"max_resource": "9"}, "max_resource"),
    ({"max_resource": math.inf}, "max_resource must be a positive number"),
    ({"max_resource": True}, "max_resource must be a positive number"),
    ({"resource_attr": ""}, "resource_attr"),
    ({"resource_attr": None, "max_resource": 9}, "max_resource needs resource_attr"),
])
def test_bad_fidelity_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPSearch(SPACE, "loss", "min", **kwargs)


def test_paused_trial_stopped_without_a_result_ends_at_its_last_report():
    """HyperBandScheduler stops a paused trial with on_trial_complete(trial_id) and no result;
    it used to count as failed. With its curve recorded, it ended at its last report."""
    searcher = GPSearch(SPACE, "loss", "min", seed=5, n_initial=3)
    c = searcher.suggest("p")
    for t in (1, 2, 3):
        searcher.on_trial_result("p", {"loss": loss(c, t), "training_iteration": t})
    searcher.on_trial_complete("p")
    rec = searcher.observations()["p"]
    assert rec["status"] == DONE and rec["y"] == pytest.approx(loss(c, 3))
    searcher.suggest("q")
    searcher.on_trial_complete("q")  # no report at all: still a failure
    assert searcher.observations()["q"]["status"] == FAILED


def test_mixed_space_with_stopped_trials_stays_in_domain():
    space = {"x": tune.uniform(0.0, 1.0), "opt": tune.choice(["adam", "sgd", "rms"]),
             "layers": tune.randint(1, 5), "lr": tune.loguniform(1e-4, 1e-1)}
    searcher = GPSearch(space, "loss", "min", seed=6, n_initial=4)
    bonus = {"adam": 0.0, "sgd": 0.2, "rms": 0.1}
    seen = []
    for i in range(14):
        tid = f"m{i}"
        c = searcher.suggest(tid)
        seen.append(c)
        assert c["opt"] in bonus and c["layers"] in (1, 2, 3, 4) and 1e-4 <= c["lr"] <= 1e-1
        end = EPOCHS if i % 4 == 0 else 1 + i % 3
        for t in range(1, end + 1):
            y = curve_loss(c["x"], t, EPOCHS) + bonus[c["opt"]] + 0.05 * c["layers"]
            if t < end:
                searcher.on_trial_result(tid, {"loss": y, "training_iteration": t})
        searcher.on_trial_complete(tid, {"loss": y, "training_iteration": end})
    assert searcher.last_fit("curve")["n_fitted"] > 0
    assert len({repr(sorted(c.items())) for c in seen}) == len(seen)  # no repeats


def test_conditional_space_with_stopped_trials_uses_the_curve_model():
    """A conditional space (branches with their own parameters) with trials stopped early:
    the (x, t) GP with the conditional kernels proposes (origin "gp", not a quasi-random
    fallback), every config is one Tune could sample from the space, and none repeats."""
    from tune_semantics import why_not

    space = {"a": tune.choice([{"k": tune.uniform(0.0, 1.0)},
                               {"m": tune.uniform(0.0, 1.0), "c": tune.choice(["p", "q"])},
                               "none"]),
             "x": tune.uniform(0.0, 1.0)}

    def branch(c):
        a = c["a"]
        return 0.3 if a == "none" else (a["k"] - 0.5) ** 2 if "k" in a else 0.1 + 0.2 * a["m"]

    searcher = GPSearch(space, "loss", "min", seed=7, n_initial=4)
    configs = []
    for i in range(14):
        tid = f"c{i}"
        c = searcher.suggest(tid)
        configs.append(c)
        end = EPOCHS if i % 4 == 0 else 1 + i % 3
        for t in range(1, end + 1):
            y = curve_loss(c["x"], t, EPOCHS) + branch(c)
            if t < end:
                searcher.on_trial_result(tid, {"loss": y, "training_iteration": t})
        searcher.on_trial_complete(tid, {"loss": y, "training_iteration": end})
    assert all(why_not(space, c) is None for c in configs), [why_not(space, c) for c in configs]
    assert len({repr(c) for c in configs}) == len(configs)
    assert searcher.last_fit("curve")["n_fitted"] > 0
    origins = list(searcher.trial_origins().values())
    assert origins[:4] == ["design"] * 4 and origins.count("gp") >= 8, origins
