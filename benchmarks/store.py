"""One experiment's runs in one compressed JSON-lines file: ``<folder>/runs.jsonl.gz``.

Each line is one run's record (the same fields the per-run JSON files had).  A run is
identified by its key, the values of ``KEY_FIELDS`` it has (``problem``, ``searcher`` or ``arm``
or ``arch``, ``workers``, ``seed``).  ``append`` adds a gzip member to the end of the file, so an
interrupted experiment keeps every finished run and a rerun of a key (``--force``) supersedes
the earlier line: readers keep the last record per key.  A member cut short by a crash loses
only the runs it held (a warning says so).
"""

from __future__ import annotations

import gzip
import json
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path

RUNS_FILE = "runs.jsonl.gz"
KEY_FIELDS = ("problem", "arch", "searcher", "arm", "workers", "seed")

Key = tuple


def record_key(record: dict) -> Key:
    """The identity of a run: its values of ``KEY_FIELDS`` (None where absent)."""
    return tuple(record.get(f) for f in KEY_FIELDS)


class RunStore:
    """The runs file of one results folder (``name`` lets one folder hold a second one)."""

    def __init__(self, folder: str | Path, name: str = RUNS_FILE) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name

    def exists(self) -> bool:
        return self.path.exists()

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        text, complete = _decompress(raw)
        if not complete:
            warnings.warn(f"{self.path}: the last member is cut short; its run is ignored",
                          stacklevel=3)
        return [line for line in text.split("\n") if line]

    def records(self) -> list[dict]:
        """Every run, the last record per key, in order of each key's first line."""
        by_key: dict[Key, dict] = {}
        for line in self._lines():
            rec = json.loads(line)
            by_key[record_key(rec)] = rec
        return list(by_key.values())

    def keys(self) -> set[Key]:
        return {record_key(json.loads(line)) for line in self._lines()}

    def append(self, record: dict) -> None:
        """Add one run (one gzip member: a crash can cut at most this run)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:
            f.write(gzip.compress((json.dumps(record) + "\n").encode(), mtime=0))

    def write_all(self, records: Iterable[dict]) -> int:
        """Replace the file with ``records`` in one member (deterministic bytes); returns the
        count.  Written to a temporary file first, so a crash leaves the old file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(r) + "\n" for r in records]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(gzip.compress("".join(lines).encode(), compresslevel=9, mtime=0))
        tmp.replace(self.path)
        return len(lines)


def _decompress(raw: bytes) -> tuple[str, bool]:
    """Text of every complete gzip member of ``raw``, and whether the last one was complete."""
    out: list[bytes] = []
    while raw:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(raw)
        except zlib.error:
            return b"".join(out).decode(), False
        if not d.eof:
            return b"".join(out).decode(), False
        out.append(chunk)
        raw = d.unused_data
    return b"".join(out).decode(), True


def load_records(folder: str | Path) -> list[dict]:
    """Every run of a results folder; a folder still in the per-run JSON layout (``raw/``)
    raises with the command that converts it."""
    store = RunStore(folder)
    if not store.exists() and (store.folder / "raw").is_dir():
        raise FileNotFoundError(f"{store.folder} holds raw/*.json, not {RUNS_FILE}: run "
                                f"python -m benchmarks.compact {store.folder}")
    return store.records()
