"""What each data set reads from disk, checked without torch: the ``raybo`` command calls
``check_data`` before Ray starts, so a missing file or column is one line naming it.

A data spec is ``config["data"]`` (see :mod:`trainables.data`): ``{"name": ..., "path": FILE}``
for the file-based sets, ``{"name": ..., "root": DIR}`` for MNIST/CIFAR-10, nothing else for
the generated or bundled ones.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

# data name -> the spec key it reads from disk ("path": a file, "root": a directory, None: none)
INPUT_OF: dict[str, str | None] = {
    "digits": None, "reverse": None, "reviews": None,
    "mnist": "root", "cifar10": "root",
    "text": "path", "tsv": "path", "csv": "path",
}
WHAT = {"digits": "scikit-learn's 8x8 digits (bundled)", "reverse": "generated reverse-and-shift"
        " translation", "reviews": "generated sentiment sentences", "mnist": "MNIST idx files",
        "cifar10": "CIFAR-10 python batches", "text": "a plain-text file (character language "
        "model)", "tsv": "tab-separated sentence pairs (translation)", "csv": "a CSV/TSV file "
        "with a text and a label column (sentence classification)"}
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_DIR = "cifar-10-batches-py"
TEXT_COLUMNS = ("text", "sentence", "review", "content", "description")  # tried in this order
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "polarity", "category")


def delimiter_of(path: str | Path, delimiter: str | None = None) -> str:
    """Tab for ``.tsv``/``.tab`` files, else comma, unless given."""
    if delimiter is not None:
        return delimiter
    return "\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ","


def header(path: str | Path, delimiter: str | None = None) -> list[str]:
    """The column names in the first row of a delimited file."""
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh, delimiter=delimiter_of(path, delimiter)), [])


def pick_columns(path: str | Path, columns: list[str], text_column: str | None = None,
                 label_column: str | None = None) -> tuple[str, str]:
    """``(text column, label column)``: the given names, else the first of ``TEXT_COLUMNS`` /
    ``LABEL_COLUMNS`` present. ValueError naming the missing column and listing ``columns``."""
    return (_column(path, columns, text_column, TEXT_COLUMNS, "text_column"),
            _column(path, columns, label_column, LABEL_COLUMNS, "label_column"))


def _column(path: str | Path, columns: list[str], given: str | None,
            defaults: tuple[str, ...], option: str) -> str:
    listed = ", ".join(map(repr, columns)) or "none (empty file)"
    if given is not None:
        if given not in columns:
            raise ValueError(f"{path}: no column {given!r} ({option}); its columns are {listed}")
        return given
    found = next((c for c in defaults if c in columns), None)
    if found is None:
        raise ValueError(f"{path}: no {option.split('_')[0]} column (looked for "
                         f"{', '.join(defaults)}; give {option}); its columns are {listed}")
    return found


def mnist_dir(root: Path) -> Path | None:
    """The directory holding MNIST's training images: ``root`` or torchvision's layout."""
    for cand in (root, root / "MNIST" / "raw"):
        if any((cand / f"{MNIST_FILES['train'][0]}{gz}").exists() for gz in ("", ".gz")):
            return cand
    return None


def _can_download() -> bool:
    return importlib.util.find_spec("torchvision") is not None


def check_data(spec: dict[str, Any], names: dict[str, str] | None = None) -> None:
    """Raise ValueError if ``spec`` names an unknown data set or an input that is not there.
    Messages call the spec's keys (``path``, ``root``, ``text_column``, ``label_column``) by
    ``names`` (the command passes its option names)."""
    def say(key: str) -> str:
        return (names or {}).get(key, key)

    name = spec.get("name", "digits")
    if name not in INPUT_OF:
        raise ValueError(f"data name must be one of {', '.join(INPUT_OF)}; got {name!r}")
    needs = INPUT_OF[name]
    for key in ("path", "root"):
        if spec.get(key) is not None and key != needs:
            raise ValueError(f"data {name!r} ({WHAT[name]}) takes no {say(key)}")
    if needs is None:
        return
    value = spec.get(needs)
    if value is None:
        raise ValueError(f"data {name!r} needs {say(needs)}: {WHAT[name]}")
    where = Path(value)
    if needs == "path":
        if not where.is_file():
            raise ValueError(f"{say(needs)} {value}: no such file")
        if name == "csv":
            try:
                pick_columns(value, header(value, spec.get("delimiter")),
                             spec.get("text_column"), spec.get("label_column"))
            except ValueError as err:  # its column keys -> the caller's names
                message = str(err)
                for key in ("text_column", "label_column"):
                    message = message.replace(f"({key})", f"({say(key)})")
                    message = message.replace(f"give {key}", f"give {say(key)}")
                raise ValueError(message) from None
        return
    if where.exists() and not where.is_dir():
        raise ValueError(f"{say(needs)} {value}: not a directory")
    if _can_download():
        return  # the loader lets torchvision fetch what is missing
    if name == "mnist" and (not where.is_dir() or mnist_dir(where) is None):
        raise ValueError(f"{say(needs)} {value}: no {MNIST_FILES['train'][0]}[.gz] in it or in "
                         "MNIST/raw/ (and torchvision, which would download it, is not installed)")
    if name == "cifar10" and not (where / CIFAR_DIR / "test_batch").is_file():
        raise ValueError(f"{say(needs)} {value}: no {CIFAR_DIR}/test_batch in it (and "
                         "torchvision, which would download it, is not installed)")
