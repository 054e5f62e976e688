"""The CSV/TSV sentence-classification loader, on small files in the layouts of common exports
(SST-2's ``sentence<TAB>label``, AG News' quoted CSV with string classes, IMDB's ``review,
sentiment``)."""

from __future__ import annotations

import csv

import pytest
import torch

from trainables.data import PAD, UNK, load_data
from trainables.text_classification import build_vocab, encode, tokenize


def _write(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_tokenize_vocab_and_encoding():
    assert tokenize("Not bad, at ALL!") == ["not", "bad", ",", "at", "all", "!"]
    stoi = build_vocab([["b", "a", "b"], ["c", "a", "b"]], max_vocab=2)
    assert stoi == {"b": 4, "a": 5}  # by count, then alphabetically; "c" left out
    x = encode([["a", "c", "b", "a"], []], stoi, max_len=3)
    assert x.tolist() == [[5, UNK, 4], [UNK, PAD, PAD]]  # truncated; empty -> one UNK


def test_sst2_style_tsv_with_a_validation_file(tmp_path):
    train = _write(tmp_path / "train.tsv", ["sentence", "label"],
                   [["a gripping , funny film", 1], ["dull and slow", 0], ["funny", 1]], "\t")
    val = _write(tmp_path / "dev.tsv", ["sentence", "label"], [["unseen words here", 0]], "\t")
    data = load_data({"name": "csv", "path": train, "val_path": val})
    assert data.kind == "textcls"
    assert data.meta["classes"] == ["0", "1"] and data.meta["n_classes"] == 2
    assert data.y_train.tolist() == [1, 0, 1] and data.y_val.tolist() == [0]
    assert data.x_val.tolist() == [[UNK, UNK, UNK]]  # the vocabulary comes from train only
    assert data.x_train.shape == (3, 5) and data.x_train[2, 1:].eq(PAD).all()


def test_ag_news_style_csv_with_quotes_string_labels_and_truncation(tmp_path):
    rows = [[f"Story {i}, with a comma and many many words", ["World", "Sports", "Business"][i % 3]]
            for i in range(30)]
    path = _write(tmp_path / "news.csv", ["title", "description", "category"],
                  [[f"t{i}", text, label] for i, (text, label) in enumerate(rows)])
    data = load_data({"name": "csv", "path": path, "max_len": 4, "seed": 3})
    assert data.meta["classes"] == ["Business", "Sports", "World"]
    assert len(data.x_train) == 27 and len(data.x_val) == 3  # seeded 10% held out
    assert data.x_train.shape[1] == 4  # truncated to max_len words
    again = load_data({"name": "csv", "path": path, "max_len": 4, "seed": 3})
    assert torch.equal(again.x_val, data.x_val)


def test_imdb_style_columns_are_found_by_name(tmp_path):
    path = _write(tmp_path / "imdb.csv", ["review", "sentiment"],
                  [["great movie", "positive"], ["terrible plot", "negative"]] * 5)
    data = load_data({"name": "csv", "path": path})
    assert data.meta["classes"] == ["negative", "positive"]


def test_a_missing_column_is_named_with_the_file_columns(tmp_path):
    path = _write(tmp_path / "x.csv", ["body", "stars"], [["fine", 5], ["bad", 1]])
    with pytest.raises(ValueError, match=r"no column 'text' \(text_column\); its columns are "
                       r"'body', 'stars'"):
        load_data({"name": "csv", "path": path, "text_column": "text", "label_column": "stars"})
    with pytest.raises(ValueError, match=r"no label column .*give label_column.*'body', 'stars'"):
        load_data({"name": "csv", "path": path, "text_column": "body"})
    data = load_data({"name": "csv", "path": path, "text_column": "body", "label_column": "stars"})
    assert data.meta["classes"] == ["1", "5"]  # numeric labels in numeric order


def test_missing_file_and_path_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_data({"name": "csv", "path": str(tmp_path / "nope.csv")})
    with pytest.raises(ValueError, match="needs a 'path'"):
        load_data({"name": "csv"})


def test_a_recurrent_net_trains_on_a_csv_file(tmp_path):
    from trainables.loop import evaluate, setup_trial, train_epoch

    path = _write(tmp_path / "imdb.csv", ["review", "sentiment"],
                  [["great movie", "positive"], ["terrible plot", "negative"]] * 20)
    cpu = torch.device("cpu")
    run = setup_trial({"epochs": 3, "data": {"name": "csv", "path": path},
                       "model": {"hidden": 16}}, "gru", cpu)
    for _ in range(3):
        train_epoch(run.model, run.data, run.opt, run.scaler, 8, run.gen, cpu)
    assert evaluate(run.model, run.data, cpu)[1] == 1.0
