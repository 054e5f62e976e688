"""Several objectives and outcome constraints: parsing and the errors raised before any trial
(raybo/outcomes.py, GPSearch's arguments, Tune's metric list)."""

from __future__ import annotations

import warnings

import pytest
from ray import tune

from raybo import GPSearch
from raybo.outcomes import Constraint, Outcomes, outcomes_from, parse_constraint

SPACE = {"x": tune.uniform(0, 1)}


@pytest.mark.parametrize("text, expected", [
    ("peak_memory_mb <= 512", Constraint("peak_memory_mb", "<=", 512.0)),
    ("val_accuracy>=0.9", Constraint("val_accuracy", ">=", 0.9)),
    ("  a/b <= -1e-3 ", Constraint("a/b", "<=", -1e-3)),
])
def test_constraints_parse_in_axs_string_form(text, expected):
    assert parse_constraint(text) == expected
    assert parse_constraint(expected.text()) == expected  # the saved form round-trips


@pytest.mark.parametrize("text, message", [
    ("mem < 5", "unknown operator '<'"),
    ("mem == 5", "unknown operator '=='"),
    ("mem => 5", "unknown operator '=>'"),
    ("mem <= 5%", "not a number"),
    ("mem <= abc", "not a number"),
    ("mem <= inf", "finite"),
    ("a + b <= 5", "expected '<metric> <= <bound>'"),
    ("mem 5", "expected"),
    (5, "must be a string"),
])
def test_bad_constraints_are_errors_naming_the_argument(text, message):
    with pytest.raises(ValueError, match="outcome_constraints") as err:
        parse_constraint(text)
    assert message in str(err.value)


def test_slack_is_negative_exactly_where_the_constraint_holds():
    le, ge = Constraint("m", "<=", 2.0), Constraint("m", ">=", 2.0)
    assert le.slack(1.0) < 0 < le.slack(3.0) and ge.slack(3.0) < 0 < ge.slack(1.0)
    assert le.slack(2.0) == ge.slack(2.0) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": ["a", "b"], "mode": ["min"]}, "mode must have one entry per metric"),
    ({"metric": ["a", "b"], "mode": ["min", "up"]}, "mode must be one of 'min', 'max'"),
    ({"metric": ["a", "a"], "mode": ["min", "min"]}, "metric lists a metric twice"),
    ({"metric": ["a", 3], "mode": ["min", "min"]}, "metric must be a result key"),
    ({"metric": "a", "mode": "min", "outcome_constraints": ["a <= 1"]},
     "outcome_constraints: 'a <= 1' constrains the objective 'a'"),
    ({"metric": "a", "mode": "min", "outcome_constraints": "b <= 1"},
     "outcome_constraints must be a list"),
    ({"metric": "a", "mode": "min", "outcome_constraints": ["b < 1"]}, "unknown operator"),
    ({"metric": ["a", "b"], "mode": ["min", "min"], "reference_point": {"c": 1.0}},
     r"reference_point has keys \['c'\] that are not objectives"),
    ({"metric": ["a", "b"], "mode": ["min", "min"], "reference_point": {"a": "x"}},
     "reference_point\\['a'\\] must be a number"),
    ({"metric": ["a", "b"], "mode": ["min", "min"], "reference_point": [1, 2]},
     "reference_point must be a dict"),
    ({"metric": ["a", "b"]}, "mode is needed"),
])
def test_gpsearch_refuses_bad_outcome_arguments_before_any_trial(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPSearch(SPACE, seed=0, **kwargs)


def test_one_metric_without_constraints_is_the_plain_search():
    assert outcomes_from("a", "min") is None
    s = GPSearch(SPACE, metric="a", mode="min", seed=0)
    assert s.metric == "a" and s.mode == "min" and s.settings()["outcomes"] is None


def test_several_metrics_are_a_list_as_rays_searchers_report_them():
    s = GPSearch(SPACE, metric=["a", "b"], mode=["min", "max"], seed=0,
                 outcome_constraints=["c >= 0.5"])
    assert s.metric == ["a", "b"] and s.mode == ["min", "max"]
    assert s.settings()["outcomes"] == {"metric": ["a", "b"], "mode": ["min", "max"],
                                        "outcome_constraints": ["c >= 0.5"],
                                        "reference_point": None}
    o = Outcomes.from_dict(s.settings()["outcomes"])
    assert o.names == ("a", "b", "c") and o.multi


def test_a_metric_list_and_constraints_can_come_from_tunes_set_search_properties(monkeypatch):
    s = GPSearch(outcome_constraints=["mem <= 1"], seed=0)
    with pytest.warns(UserWarning, match="Ray Tune 2.60 cannot run with a metric list"):
        assert s.set_search_properties(["a", "b"], ["min", "max"], SPACE)
    assert s.metric == ["a", "b"] and s.mode == ["min", "max"]
    assert s.settings()["outcomes"]["outcome_constraints"] == ["mem <= 1.0"]
    s = GPSearch(seed=0)
    monkeypatch.setenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")  # Tune then runs with it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert s.set_search_properties(["a", "b"], "min", SPACE)  # one mode for every metric
    assert s.mode == ["min", "min"]
    # GPSearch's own metric list wins over Tune's, as its single metric does
    s = GPSearch(metric=["a", "b"], mode=["min", "min"], seed=0)
    assert s.set_search_properties("loss", "max", SPACE) and s.metric == ["a", "b"]
    with pytest.raises(ValueError, match="mode must have one entry per metric"):
        GPSearch(seed=0).set_search_properties(["a", "b"], ["min"], SPACE)


def test_constraints_alone_take_tunes_single_metric():
    s = GPSearch(mode="max", outcome_constraints=["mem <= 1"], seed=0)
    assert s.set_search_properties("acc", "min", SPACE)  # GPSearch's mode wins
    assert (s.metric, s.mode) == ("acc", "max")
    assert s.settings()["outcomes"]["metric"] == ["acc"]


def test_a_result_must_carry_every_metric():
    o = outcomes_from(["a", "b"], ["min", "min"], ["c <= 1"])
    assert o.read({"a": 1, "b": 2.0, "c": 0}) == {"a": 1.0, "b": 2.0, "c": 0.0}
    with pytest.warns(UserWarning, match=r"metrics \['c'\] missing"):
        assert o.read({"a": 1, "b": 2}) is None
    assert o.read({"a": 1, "b": float("nan"), "c": 0}) is None
    assert o.read({"a": 1, "b": "x", "c": 0}) is None
    with pytest.raises(ValueError, match="must be a dict"):
        o.known_value(3.0)
    assert o.known_value(None) == (None, None)
    assert o.known_value({"a": 1, "b": float("nan"), "c": 0}) == (None, None)
    with pytest.raises(ValueError, match=r"lacks the metrics \['c'\]"):
        o.known_value({"a": 1, "b": 2})


def test_known_rewards_lacking_a_metric_fail_at_construction():
    with pytest.raises(ValueError, match=r"lacks the metrics \['b'\]"):
        GPSearch(SPACE, metric=["a", "b"], mode=["min", "min"], seed=0,
                 points_to_evaluate=[{"x": 0.5}], evaluated_rewards=[{"a": 1.0}])
