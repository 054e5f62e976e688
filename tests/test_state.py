"""Trial records and the arrays derived from them (raybo/state.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raybo.state import TrialState


def _state() -> TrialState:
    s = TrialState()
    for i, y in enumerate([1.0, math.nan, None, 2.0]):
        s.add_pending(f"t{i}", {"a": i}, np.array([i / 10, 0.5]))
        if i < 3:
            s.complete(f"t{i}", y)
    return s


def test_arrays_split_by_status():
    X_obs, y, X_failed, X_pending = _state().arrays(2)
    assert X_obs.tolist() == [[0.0, 0.5]] and y.tolist() == [1.0]
    assert X_failed.tolist() == [[0.1, 0.5], [0.2, 0.5]]  # NaN and missing both count as failed
    assert X_pending.tolist() == [[0.3, 0.5]]


def test_unknown_ids_change_nothing():
    s = _state()
    assert s.complete("never-issued", 3.0) is False
    assert len(s.records) == 4 and s.n_pending == 1 and s.n_finished == 3


@pytest.mark.parametrize("y", [math.inf, -math.inf, math.nan])
def test_non_finite_results_are_failures(y):
    s = TrialState()
    s.add_observation("a", {}, np.zeros(1), y)
    assert s.records["a"].status == "failed" and s.records["a"].y is None


def test_round_trip_and_version_check():
    s = _state()
    again = TrialState.from_dict(s.to_dict())
    assert again == s
    with pytest.raises(ValueError, match="version"):
        TrialState.from_dict({**s.to_dict(), "version": 99})


def test_empty_state_has_empty_arrays():
    X_obs, y, X_failed, X_pending = TrialState().arrays(3)
    assert X_obs.shape == (0, 3) and y.shape == (0,) and X_pending.shape == (0, 3)


def test_origin_is_kept_and_version_1_records_still_load():
    s = TrialState()
    s.add_pending("a", {"u": 1}, np.zeros(1), origin="gp")
    s.add_observation("k", {"u": 2}, np.ones(1), 0.5)
    data = s.to_dict()
    assert data["version"] == 4 and data["records"]["a"]["origin"] == "gp"
    assert TrialState.from_dict(data) == s and data["records"]["k"]["origin"] is None
    old = {"version": 1, "records": {"a": {"config": {"u": 1}, "x": [0.0], "status": "pending",
                                           "y": None}}}
    assert TrialState.from_dict(old).records["a"].origin is None


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("origin"), "trial 'a' has keys"),
    (lambda r: r.update(extra=1), "trial 'a' has keys"),
    (lambda r: r.update(origin="random"), "trial 'a' has origin 'random'"),
    (lambda r: r.pop("reports"), "trial 'a' has keys"),
])
def test_records_with_missing_or_unknown_keys_are_refused(change, message):
    s = TrialState()
    s.add_pending("a", {}, np.zeros(1), origin="design")
    data = s.to_dict()
    change(data["records"]["a"])
    with pytest.raises(ValueError, match=message):
        TrialState.from_dict(data)


# -- intermediate results ---------------------------------------------------------
def test_reports_are_thinned_and_a_restart_drops_the_old_run():
    s = TrialState()
    s.add_pending("a", {}, np.zeros(1))
    for t in range(1, 101):
        assert s.report("a", t, 1.0 / t)
    assert [p[0] for p in s.records["a"].reports] == [1, 2, 4, 8, 16, 32, 64, 100]
    s.report("a", 5, 0.5)  # restarted from a checkpoint at epoch 4
    assert [p[0] for p in s.records["a"].reports] == [1, 2, 4, 5]
    assert s.report("a", 6, math.nan)  # ignored, but the id is known
    assert [p[0] for p in s.records["a"].reports] == [1, 2, 4, 5]
    assert not s.report("unknown", 1, 1.0)
    assert s.max_resource() == 5


def test_reports_round_trip_and_older_records_load_without_them():
    s = TrialState()
    s.add_pending("a", {"x": 1}, np.zeros(1), origin="gp")
    s.report("a", 1, 2.0)
    s.report("a", 3, 1.0)
    s.complete("a", 1.0)
    back = TrialState.from_dict(s.to_dict())
    assert back == s and back.records["a"].reports == [[1.0, 2.0], [3.0, 1.0]]
    for version, drop in ((3, {"outcomes"}), (2, {"reports", "outcomes"}),
                          (1, {"reports", "origin", "outcomes"})):
        old = s.to_dict()
        old["version"] = version
        old["records"]["a"] = {k: v for k, v in old["records"]["a"].items() if k not in drop}
        rec = TrialState.from_dict(old).records["a"]
        assert rec.reports == ([] if "reports" in drop else back.records["a"].reports)
        assert rec.outcomes is None and (rec.status, rec.y) == ("done", 1.0)


@pytest.mark.parametrize("reports", [
    [[1.0, math.nan]], [[1.0]], [[1, 2.0], [1, 1.0]], [[2, 1.0], [1, 2.0]], [["1", 2.0]],
    [[True, 2.0]], "1,2",
])
def test_malformed_reports_are_refused(reports):
    s = TrialState()
    s.add_pending("a", {}, np.zeros(1))
    data = s.to_dict()
    data["records"]["a"]["reports"] = reports
    with pytest.raises(ValueError, match="trial 'a' has malformed reports"):
        TrialState.from_dict(data)


def test_one_rule_for_known_configs():
    from raybo.state import SAME_POINT_TOL, is_known

    X = np.array([[0.25, 0.5], [0.75, 0.1]])
    assert is_known(np.array([0.25, 0.5 + SAME_POINT_TOL / 2]), X)
    assert not is_known(np.array([0.25, 0.5 + 10 * SAME_POINT_TOL]), X)
    assert not is_known(np.array([0.25, 0.5]), np.empty((0, 2)))
    assert not is_known(np.array([0.25, 0.5]), None)
