"""``raybo tune ARCH --data NAME [--data-path FILE | --data-root DIR]``: every data set the
trainables load, checked before Ray starts; one real run on the generated ``reviews`` set.

Errors are decided in ``parse_args`` (no Ray); the run at the end starts a local Ray.
"""

from __future__ import annotations

import csv
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from raybo.app.cli import main, parse_args


def _mnist(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        for kind, shape in (("images-idx3", (4, 28, 28)), ("labels-idx1", (4,))):
            raw = struct.pack(">BBBB", 0, 0, 8, len(shape)) + struct.pack(f">{len(shape)}i", *shape)
            (root / f"{prefix}-{kind}-ubyte").write_bytes(raw + bytes(int(np.prod(shape))))
    return root


def _cifar(root: Path) -> Path:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
    for name in ("data_batch_1", "test_batch"):
        (base / name).write_bytes(pickle.dumps(batch))
    return root


def _files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "corpus.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("hello\tbonjour\ncat\tchat\n")
    table = tmp_path / "sst2.tsv"
    with open(table, "w", newline="") as fh:
        csv.writer(fh, delimiter="\t").writerows([["sentence", "label"], ["good", 1], ["bad", 0]])
    return {"text": text, "tsv": tsv, "csv": table, "mnist": _mnist(tmp_path / "mnist"),
            "cifar10": _cifar(tmp_path / "cifar")}


@pytest.mark.parametrize(("arch", "name", "option"), [
    ("lstm", "reviews", None), ("gru", "digits", None), ("transformer", "reverse", None),
    ("rnn", "text", "--data-path"), ("seq2seq", "tsv", "--data-path"),
    ("lstm", "csv", "--data-path"), ("cnn", "mnist", "--data-root"),
    ("cnn", "cifar10", "--data-root"),
])
def test_every_data_set_becomes_the_trials_data_spec(tmp_path, arch, name, option):
    where = _files(tmp_path).get(name)
    argv = ["tune", arch, "--data", name] + ([option, str(where)] if option else [])
    spec = parse_args(argv).data_spec
    key = {"--data-path": "path", "--data-root": "root"}.get(option)
    assert spec == {"name": name, **({key: str(where.resolve())} if key else {})}


def test_relative_paths_are_made_absolute_and_csv_columns_pass_through(tmp_path, monkeypatch):
    table = _files(tmp_path)["csv"]
    monkeypatch.chdir(tmp_path)
    args = parse_args(["tune", "lstm", "--data", "csv", "--data-path", table.name,
                       "--text-column", "sentence", "--label-column", "label",
                       "--metric", "val_accuracy"])
    assert args.data_spec == {"name": "csv", "path": str(table), "text_column": "sentence",
                              "label_column": "label"}
    assert args.mode == "max"
    assert parse_args(["tune", "lstm"]).data_spec is None  # default data untouched


@pytest.mark.parametrize(("argv", "says"), [
    (["lstm", "--data", "csv"], "--data csv: data 'csv' needs --data-path"),
    (["lstm", "--data", "csv", "--data-path", "{tmp}/missing.csv"],
     "--data-path {tmp}/missing.csv: no such file"),
    (["rnn", "--data", "text", "--data-path", "{tmp}/none.txt"],
     "--data-path {tmp}/none.txt: no such file"),
    (["seq2seq", "--data", "tsv"], "needs --data-path"),
    (["cnn", "--data", "mnist"], "needs --data-root"),
    (["cnn", "--data", "mnist", "--data-root", "{tmp}/empty"],
     "--data-root {tmp}/empty: no train-images-idx3-ubyte"),
    (["cnn", "--data", "cifar10", "--data-root", "{tmp}/empty"],
     "--data-root {tmp}/empty: no cifar-10-batches-py/test_batch"),
    (["cnn", "--data", "mnist", "--data-path", "{tmp}/corpus.txt"], "takes no --data-path"),
    (["lstm", "--data", "reviews", "--data-root", "{tmp}"], "takes no --data-root"),
    (["cnn", "--data", "reviews"], "--data reviews (generated sentiment sentences) trains rnn, "
                                   "lstm, gru, not cnn"),
    (["transformer", "--data", "csv", "--data-path", "{tmp}/sst2.tsv"], "not transformer"),
    (["lstm", "--data-path", "{tmp}/sst2.tsv"], "--data-path needs --data NAME"),
    (["lstm", "--data", "reviews", "--text-column", "t"], "--text-column is for --data csv"),
    (["lstm", "--data", "csv", "--data-path", "{tmp}/sst2.tsv", "--text-column", "review"],
     "no column 'review' (--text-column); its columns are 'sentence', 'label'"),
    (["lstm", "--data", "csv", "--data-path", "{tmp}/corpus.txt"],
     "no text column (looked for text, sentence, review, content, description; give "
     "--text-column)"),
    (["lstm", "--data", "reviews", "--metric", "val_perplexity"], "--metric"),
    (["lstm", "--data", "imdb"], "--data"),
    (["lstm", "--data", "mnist", "--data-path", "a", "--data-root", "b"], "not allowed with"),
])
def test_data_errors_name_the_option_and_the_file(tmp_path, capsys, argv, says):
    _files(tmp_path)
    (tmp_path / "empty").mkdir()
    argv = ["tune"] + [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("raybo tune: error:") and says.replace("{tmp}", str(tmp_path)) in err


def test_a_data_error_leaves_no_run_directory(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        main(["tune", "lstm", "--data", "csv", "--data-path", str(tmp_path / "x.csv"),
              "--out", str(out)])
    assert not out.exists()


@pytest.mark.ray
def test_tune_lstm_on_reviews_runs_and_records_its_data(tmp_path, capsys):
    import ray
    from conftest import ray_tmp

    out = tmp_path / "run"

    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=ray_tmp("D"),
             log_to_driver=False)
    try:
        code = main(["tune", "lstm", "--data", "reviews", "--trials", "2", "--concurrent", "2",
                     "--epochs", "1", "--metric", "val_accuracy", "--out", str(out)])
    finally:
        ray.shutdown()
    text = capsys.readouterr().out
    assert code == 0, text
    assert "tuning lstm on reviews" in text
    run = json.loads((out / "run.json").read_text())
    assert run["options"]["data"] == {"name": "reviews"}
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert len(trials) == 2 and all(t["config"]["data"] == {"name": "reviews"} for t in trials)
    # one epoch of a design config may not learn yet; a sentence accuracy was measured
    assert all(t["status"] == "TERMINATED" and 0 <= t["metrics"]["val_accuracy"] <= 1
               for t in trials)
