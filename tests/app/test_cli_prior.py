"""`raybo tune --prior KEY=VALUE --prior-confidence WORD --warm-start RUN_DIR`: parsing, and
errors that name the option before anything starts."""

from __future__ import annotations

import pytest

from raybo.app.cli import main, parse_args


def test_prior_options_are_parsed_into_the_searcher_s_prior(tmp_path):
    args = parse_args(["tune", "cnn", "--prior", "optim.lr=1e-3", "--prior",
                       "model.channels=32", "--prior", "model.activation=gelu",
                       "--prior-confidence", "high"])
    assert args.prior == {"optim/lr": 1e-3, "model/channels": 32, "model/activation": "gelu"}
    assert args.prior_confidence == "high"
    assert parse_args(["tune", "cnn"]).prior is None
    (tmp_path / "trials.json").write_text("{}")
    assert parse_args(["tune", "cnn", "--warm-start", str(tmp_path)]).warm_start == str(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--prior", "optim.lr"], "--prior 'optim.lr': expected KEY=VALUE"),
    (["--prior", "=3"], "expected KEY=VALUE"),
    (["--prior-confidence", "sure"], "--prior-confidence"),
    (["--prior", "optim.lr=1e-3", "--searcher", "random"], "--prior and --warm-start guide GP"),
    (["--warm-start", "/nonexistent/run"], "--warm-start /nonexistent/run: not a finished"),
])
def test_bad_prior_options_exit_2_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["tune", "cnn", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("prior, message", [
    ("optim.lr=5", "--prior: prior: parameter 'optim/lr': 5.0 is outside"),
    ("model.chanels=32", "--prior: prior has keys that are not in the search space: "
     "['model/chanels']"),
    ("model.activation=swish", "'swish' is not one of the categories"),
])
def test_prior_values_are_checked_against_the_space_before_anything_starts(
        prior, message, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["tune", "cnn", "--prior", prior, "--out", str(out)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
