"""The ``raybo`` command before anything runs: option validation, run directories, imports.

Everything here is decided before Ray starts (no test here starts it); runs are in
tests/app/test_cli_run.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from raybo.app.cli import cli_message, main, parse_args
from raybo.app.commands import read_config
from trainables.metrics import METRICS


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["tune", "mlp"], "arch"),
        (["tune", "cnn", "--trials", "0"], "--trials"),
        (["tune", "cnn", "--trials", "-3"], "--trials"),
        (["tune", "cnn", "--concurrent", "0"], "--concurrent"),
        (["tune", "cnn", "--epochs", "0"], "--epochs"),
        (["tune", "cnn", "--cpus-per-trial", "0"], "--cpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "-0.5"], "--gpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "1.5"], "--gpus-per-trial"),
        (["tune", "cnn", "--gpus-per-trial", "nan"], "--gpus-per-trial"),
        (["tune", "cnn", "--searcher", "tpe"], "--searcher"),
        (["tune", "cnn", "--acquisition", "kg"], "--acquisition"),
        (["tune", "cnn", "--seed", "-1"], "--seed"),
        (["tune", "cnn", "--trials", "two"], "--trials"),
        (["tune", "cnn", "--metric", "val_acc"], "--metric"),  # a typo: listed choices follow
        (["tune", "cnn", "--metric", "val_perplexity"], "--metric"),  # token tasks only
        (["tune", "cnn", "--searcher", "random", "--compare-random"], "--compare-random"),
        (["tune", "cnn", "--verbose", "3"], "--verbose"),
        (["train", "cnn"], "--config"),
        (["train", "cnn", "--config", "c.json", "--epochs", "0"], "--epochs"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("raybo ") and ": error:" in last_line and option in last_line


def test_metric_errors_list_the_valid_metrics(capsys):
    with pytest.raises(SystemExit):
        parse_args(["tune", "cnn", "--metric", "val_acc"])
    assert "val_loss, val_accuracy, train_loss" in capsys.readouterr().err
    assert parse_args(["tune", "transformer", "--metric", "val_perplexity"]).mode == "min"


def test_help_lists_the_metrics_and_the_mode_follows_the_metric(capsys):
    with pytest.raises(SystemExit):
        parse_args(["tune", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for metric in METRICS:
        assert metric in help_text
    assert parse_args(["tune", "cnn", "--metric", "val_accuracy"]).mode == "max"
    assert parse_args(["tune", "cnn", "--metric", "val_accuracy", "--mode", "min"]).mode == "min"
    assert parse_args(["tune", "cnn"]).mode == "min"


def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit):
        parse_args(argv)
    return capsys.readouterr().out


def test_help_is_clean_and_shows_defaults_choices_and_the_searched_keys(capsys):
    top = _help(["--help"], capsys)
    description = " ".join(top.split("\n\n")[1].split())
    assert description.endswith(".") and "``" not in top  # a whole sentence, no reST markup
    text = " ".join(_help(["tune", "--help"], capsys).split())
    for default in ("number of trials (default: 12)", "trials running at once (default: 2)",
                    "epochs per trial (default: 5)", "(default: gp)", "(default: logei)",
                    "seeds the searcher and the training (default: 0)",
                    "retries of a crashed trial (default: 1)"):
        assert default in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "random: Tune's random search" in text and "ucb (upper confidence bound)" in text
    for arch in ("cnn", "rnn", "lstm", "gru", "seq2seq", "transformer"):
        assert f" {arch}: model " in text
    assert "cnn: model channels, num_layers, dropout, activation" in text


def test_the_help_names_what_each_default_space_searches():
    from raybo.app.tuning import ARCHS, SEARCHED_MODEL, SEARCHED_OPTIM, _tuned_keys
    from trainables import default_space

    for arch in ARCHS:
        keys = _tuned_keys(default_space(arch))
        assert [k.split("/", 1)[1] for k in keys if k.startswith("model/")] == list(
            SEARCHED_MODEL[arch])
        optim = [k.split("/")[-1] for k in keys if k.startswith("optim/")]
        assert optim == ["name", "momentum", "lr", "weight_decay", "batch_size"]
        assert all(o in SEARCHED_OPTIM for o in ("momentum", "lr", "weight_decay", "batch_size"))


def test_defaults_and_fractional_gpus():
    args = parse_args(["tune", "lstm"])
    assert (args.trials, args.concurrent, args.cpus_per_trial, args.gpus_per_trial) == (12, 2, 1, 0)
    assert (args.searcher, args.acquisition, args.out, args.verbose) == ("gp", "logei", None, 0)
    assert parse_args(["tune", "cnn", "--gpus-per-trial", "0.25"]).gpus_per_trial == 0.25
    assert parse_args(["tune", "cnn", "--gpus-per-trial", "2"]).gpus_per_trial == 2
    assert parse_args(["tune", "cnn", "--verbose"]).verbose == 1


def _run_main(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_out_that_is_a_file_or_unwritable_fails_before_ray_starts(tmp_path, capsys):
    ray = pytest.importorskip("ray")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "--out" in _run_main(["tune", "cnn", "--out", str(a_file)], capsys)
    assert "is a file" in _run_main(["tune", "cnn", "--out", str(a_file)], capsys)
    # /proc refuses new directories even to root (a chmod'ed directory would not stop root)
    line = _run_main(["tune", "cnn", "--out", "/proc/raybo-test/run"], capsys)
    assert "--out /proc/raybo-test/run: cannot write there" in line
    line = _run_main(["tune", "cnn", "--out", str(tmp_path / "o"), "--storage",
                      "/proc/raybo-test/store"], capsys)
    assert "--storage /proc/raybo-test/store: cannot write there" in line
    assert not (tmp_path / "o").exists()  # the run directory made for it was removed again
    assert not ray.is_initialized()


@pytest.mark.parametrize("storage", ["ftp://x/y", "http://host/results", "sftp://h/p"])
def test_a_storage_uri_tune_cannot_write_is_refused_before_anything(storage, tmp_path, capsys):
    out = tmp_path / "o"
    line = _run_main(["tune", "cnn", "--out", str(out), "--storage", storage], capsys)
    scheme = storage.split(":")[0]
    assert f"--storage {storage}: Tune cannot store results at {scheme}://" in line
    assert "s3://" in line and "gs://" in line  # says what works
    assert not out.exists()


@pytest.mark.parametrize("storage", ["s3://bucket/raybo", "gs://b/r", "file:///tmp/r",
                                     "hdfs://nn:8020/r", "abfss://c@a.dfs.core.windows.net/r",
                                     "relative/dir", "/abs/dir", "C:\\runs"])
def test_storage_schemes_tune_supports_pass_the_check(storage):
    from raybo.app.tuning import check_storage

    check_storage(storage)  # no network: decided from the text


def test_an_out_holding_a_run_is_refused_and_left_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{}")
    line = _run_main(["tune", "cnn", "--out", str(out)], capsys)
    assert f"--out {out} already holds a run" in line and f"raybo resume {out}" in line
    assert [p.name for p in out.iterdir()] == ["run.json"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert "already holds" in _run_main(["tune", "cnn", "--out", str(other)], capsys)
    assert "not a raybo run directory" in _run_main(["resume", str(other)], capsys)


def test_resume_of_a_missing_directory_says_it_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "dir"
    assert _run_main(["resume", str(missing)], capsys).endswith(f"{missing} does not exist "
                                                               "(see raybo resume --help)")
    assert not missing.exists()
    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert "is a file" in _run_main(["resume", str(a_file)], capsys)


def test_train_config_is_checked_before_anything_runs(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"optim": {"lr": 0.01}, "optimizer": {}}))
    with pytest.raises(ValueError, match=r"--config .*unknown keys \['optimizer'\]"):
        read_config(str(path))
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="--config .*expected a JSON object"):
        read_config(str(path))
    with pytest.raises(ValueError, match="--config .*cannot read it"):
        read_config(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(("config", "arch", "message"), [
    ({"optim": {"lrr": 0.01}}, "cnn",
     "unknown key optim/lrr; optim takes method, lr, weight_decay, batch_size"),
    ({"model": {"channel": 8}}, "cnn",
     "unknown key model/channel; cnn's model takes channels, num_layers, dropout, activation"),
    ({"model": {"d_model": 32}}, "cnn", "unknown key model/d_model; cnn's model takes channels"),
    ({"model": {"activation": "relu"}}, "lstm",
     "unknown key model/activation; lstm's model takes hidden, num_layers, dropout"),
    ({"optim": {"method": {"name": "sgd", "momentm": 0.5}}}, "cnn",
     "unknown key optim/method/momentm; optim/method takes name, momentum"),
    ({"model": [1]}, "cnn", "model must be a JSON object"),
])
def test_train_config_nested_keys_are_checked_against_the_architecture(
        config, arch, message, tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    line = _run_main(["train", arch, "--config", str(path), "--out", str(tmp_path / "o")],
                     capsys)
    assert f"raybo train: error: --config {path}: {message}" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("config", [
    {"optim": {"lr": 0.01, "method": {"name": "sgd", "momentum": 0.5}}},
    {"optim": {"name": "sgd", "momentum": 0.9, "lr": 0.1}},  # the form before optim/method
    {"model": {"channels": 8, "dropout": 0.2}, "data": {"name": "digits"}},
])
def test_train_configs_with_known_keys_pass(config, tmp_path):
    from raybo.app.commands import check_config_keys

    check_config_keys(config, "cnn", "c.json")


def test_errors_from_below_the_cli_name_the_options():
    assert cli_message("gpus_per_trial=0.5 exceeds the cluster's 0") == (
        "--gpus-per-trial 0.5 exceeds the cluster's 0")
    assert cli_message("cpus_per_trial must be > 0") == "--cpus-per-trial must be > 0"


def test_config_keys_match_the_trainables_defaults():
    from raybo.app.commands import CONFIG_KEYS
    from trainables import default_config

    assert set(CONFIG_KEYS) == set(default_config("cnn"))


def test_the_command_loads_without_torch_or_ray():
    # `raybo --help` and option errors must answer at once: importing raybo.app.cli may not pull
    # in torch, Ray, matplotlib or numpy (3-5 s together).
    code = ("import sys, raybo.app.cli; print(sorted(m for m in ('torch', 'ray', 'matplotlib', "
            "'numpy', 'gpytorch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_module_entry_point_reports_errors():
    proc = subprocess.run(
        [sys.executable, "-m", "raybo", "tune", "cnn", "--concurrent", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--concurrent" in proc.stderr
