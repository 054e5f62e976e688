"""Turn results folders of per-run JSON files (``<folder>/raw/*.json``) into ``runs.jsonl.gz``.

    python -m benchmarks.compact benchmarks/results/main benchmarks/results/ablations
    python -m benchmarks.compact --delete benchmarks/results/*/      # and remove raw/ after

Runs already in the folder's ``runs.jsonl.gz`` stay; a raw file of the same key replaces its
line.  Lines are written in file-name order.  A trainables folder (``results.json`` holding
``{"args", "runs"}``) becomes ``runs.jsonl.gz`` plus ``settings.json``.  Before anything is
deleted the new file is read back and compared record by record with the old files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.store import RunStore, record_key


def compact(folder: Path, delete: bool = False) -> tuple[int, int]:
    """Merge ``folder/raw/*.json`` into the folder's store; returns (raw files, runs stored)."""
    paths = sorted((folder / "raw").glob("*.json"))
    store = RunStore(folder)
    by_key = {record_key(r): r for r in store.records()}
    raw = [json.loads(p.read_text()) for p in paths]
    for rec in raw:
        by_key[record_key(rec)] = rec
    n = store.write_all(by_key.values())
    back = {record_key(r): r for r in store.records()}
    bad = [p.name for p, rec in zip(paths, raw) if back.get(record_key(rec)) != rec]
    if bad:
        raise RuntimeError(f"{store.path}: {len(bad)} runs do not read back equal, e.g. {bad[0]}")
    if delete:
        for p in paths:
            p.unlink()
        if (folder / "raw").is_dir() and not any((folder / "raw").iterdir()):
            (folder / "raw").rmdir()
    return len(paths), n


def compact_trainables(folder: Path, delete: bool = False) -> int:
    """``results.json`` -> ``runs.jsonl.gz`` (its runs, in order) + ``settings.json`` (its args)."""
    saved = json.loads((folder / "results.json").read_text())
    store = RunStore(folder)
    n = store.write_all(saved["runs"])
    if store.records() != saved["runs"]:
        raise RuntimeError(f"{store.path}: runs do not read back equal")
    (folder / "settings.json").write_text(json.dumps(saved["args"], indent=1))
    if delete:
        (folder / "results.json").unlink()
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compact",
                                description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="results folders holding raw/")
    p.add_argument("--delete", action="store_true", help="remove the raw files once verified")
    args = p.parse_args(argv)
    for folder in map(Path, args.folders):
        if (folder / "results.json").is_file():
            n = compact_trainables(folder, args.delete)
            print(f"{folder}: results.json -> {n} runs in {RunStore(folder).path.name}")
            continue
        if not (folder / "raw").is_dir():
            print(f"{folder}: no raw/, skipped")
            continue
        n_raw, n = compact(folder, args.delete)
        print(f"{folder}: {n_raw} raw files -> {n} runs in {RunStore(folder).path.name}"
              + (" (raw files deleted)" if args.delete else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
