"""Sentence classification data (task kind ``"textcls"``): word ids in, one class per sentence.

Shapes (n = sentences, T = longest kept sentence): ``x: (n, T)`` int64 word ids, right-padded
with ``PAD``; ``y: (n,)`` int64 class ids. ``meta``: ``vocab_size`` (specials included),
``n_classes``, ``classes`` (label names in id order) and ``max_len``.

Two loaders, selected by ``config["data"]["name"]``:

- ``"reviews"``: the generated sentiment set of :mod:`trainables.reviews` (train/val splits).
- ``"csv"``: a CSV/TSV file with a header, one text column and one label column, as exported
  for IMDB, SST-2 or AG News: ``{"name": "csv", "path": FILE, "text_column": ...,
  "label_column": ..., "val_path": FILE2, "max_len": 64, "max_vocab": 20000, "min_freq": 1}``.
  Without ``val_path`` a seeded 10% of the rows is held out for validation. Tab-separated when
  the file ends in ``.tsv``/``.tab`` (else comma) unless ``delimiter`` is given.

The vocabulary is built from the training split only (most frequent words first, ties in
alphabetical order); unseen words map to ``UNK``. Sentences longer than ``max_len`` words are
truncated (the first words kept).
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables.sources import delimiter_of, pick_columns
from trainables.task import N_SPECIAL, PAD, UNK, TaskData

MAX_LEN = 64  # words kept per sentence; IMDB reviews run to hundreds, SST-2 rarely past 50
MAX_VOCAB = 20000  # most frequent training words kept; the rest become UNK
CSV_VAL_FRACTION = 0.1
_WORD = re.compile(r"[\w']+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercase words and punctuation marks: "Not bad, at all!" -> not bad , at all !"""
    return _WORD.findall(text.lower())


def build_vocab(texts: list[list[str]], max_vocab: int = MAX_VOCAB, min_freq: int = 1
                ) -> dict[str, int]:
    """word -> id (from ``N_SPECIAL`` on) for the ``max_vocab`` most frequent words seen at
    least ``min_freq`` times."""
    counts = Counter(w for words in texts for w in words)
    ranked = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    return {w: i + N_SPECIAL for i, w in enumerate(ranked[:max_vocab])}


def encode(texts: list[list[str]], stoi: dict[str, int], max_len: int) -> torch.Tensor:
    """``(n, T)`` ids, T = the longest kept sentence (at least 1), right-padded with ``PAD``;
    an empty sentence becomes a single ``UNK`` so every row has a last word."""
    rows = [[stoi.get(w, UNK) for w in words[:max_len]] or [UNK] for words in texts]
    out = torch.full((len(rows), max(map(len, rows), default=1)), PAD, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
    return out


def text_task(train: tuple[list[str], list[Any]], val: tuple[list[str], list[Any]],
              max_len: int = MAX_LEN, max_vocab: int = MAX_VOCAB, min_freq: int = 1) -> TaskData:
    """TaskData from ``(texts, labels)`` pairs; labels may be any hashable values (class ids
    follow their sorted order: numbers numerically, strings alphabetically)."""
    tr_words, va_words = [tokenize(t) for t in train[0]], [tokenize(t) for t in val[0]]
    stoi = build_vocab(tr_words, max_vocab, min_freq)
    classes = sorted(set(train[1]) | set(val[1]), key=_label_key)
    ids = {c: i for i, c in enumerate(classes)}
    return TaskData(
        kind="textcls",
        x_train=encode(tr_words, stoi, max_len),
        y_train=torch.tensor([ids[c] for c in train[1]], dtype=torch.int64),
        x_val=encode(va_words, stoi, max_len),
        y_val=torch.tensor([ids[c] for c in val[1]], dtype=torch.int64),
        meta={"vocab_size": N_SPECIAL + len(stoi), "n_classes": len(classes),
              "classes": [str(c) for c in classes], "max_len": max_len},
    )


def _label_key(label: Any) -> tuple[int, Any]:
    try:
        return 0, float(label)
    except (TypeError, ValueError):
        return 1, str(label)


def load_reviews(seed: int) -> TaskData:
    """The generated ``reviews`` set (train and val splits; test is for held-out checks)."""
    from trainables.reviews import CLASSES, generate_reviews

    splits = generate_reviews(seed)
    data = text_task(splits["train"], splits["val"])
    data.meta["classes"] = list(CLASSES)
    return data


def load_csv(seed: int, path: str | None = None, text_column: str | None = None,
             label_column: str | None = None, val_path: str | None = None,
             delimiter: str | None = None, max_len: int = MAX_LEN, max_vocab: int = MAX_VOCAB,
             min_freq: int = 1) -> TaskData:
    """Sentence classification from a CSV/TSV file (see the module docstring)."""
    if path is None:
        raise ValueError("data 'csv' needs a 'path' to a CSV/TSV file with a header row")
    if max_len < 1:
        raise ValueError(f"data 'csv': max_len must be >= 1, got {max_len}")
    texts, labels = read_columns(path, text_column, label_column, delimiter)
    if val_path is not None:
        train, val = (texts, labels), read_columns(val_path, text_column, label_column, delimiter)
    else:
        if len(texts) < 2:
            raise ValueError(f"{path}: need at least 2 rows to hold some out, got {len(texts)}")
        order = np.random.default_rng(seed).permutation(len(texts))
        n_val = max(1, int(round(len(texts) * CSV_VAL_FRACTION)))
        val_idx, tr_idx = order[:n_val], order[n_val:]
        train = ([texts[i] for i in tr_idx], [labels[i] for i in tr_idx])
        val = ([texts[i] for i in val_idx], [labels[i] for i in val_idx])
    return text_task(train, val, max_len, max_vocab, min_freq)


def read_columns(path: str | Path, text_column: str | None = None,
                 label_column: str | None = None, delimiter: str | None = None
                 ) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` of a delimited file with a header; columns as
    :func:`trainables.sources.pick_columns` picks them (a missing one is a ValueError naming it
    and listing the file's columns). Rows without a label are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # IMDB reviews exceed the 128 kB default
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter_of(path, delimiter))
        text_col, label_col = pick_columns(path, list(reader.fieldnames or []), text_column,
                                           label_column)
        texts, labels = [], []
        for row in reader:
            if row.get(label_col) in (None, ""):
                continue
            texts.append(row.get(text_col) or "")
            labels.append(row[label_col].strip())
    if not texts:
        raise ValueError(f"{path}: no labelled rows")
    return texts, labels
