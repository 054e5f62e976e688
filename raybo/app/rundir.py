"""One directory per ``raybo tune`` run, checked before anything starts, and its ``run.json``.

A run directory holds ``run.json`` (the options and the Tune experiment paths, written before
the first trial so an interrupted run can be resumed with ``raybo resume DIR``), the outputs
(trials.csv, trials.json, best_config.json, PNGs) and, by default, ``ray_results/`` (Tune's
experiment directories). Without ``--out`` each run gets a new ``raybo_out/<arch>-<searcher>-
<timestamp>``; an explicit ``--out`` must be new or empty, so no run mixes into another's files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_PARENT = "raybo_out"
RUN_FILE = "run.json"
RUN_FORMAT, RUN_VERSION = "raybo.run", 1


class RunDirError(ValueError):
    """A run directory that cannot be used; the message names the CLI option."""


def timestamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def new_run_dir(out: str | None, stem: str) -> Path:
    """Create and return the run directory: ``out`` if given (new or empty), else a fresh
    ``raybo_out/<stem>-<timestamp>``. Checks that it is writable by writing to it."""
    if out is None:
        base = Path(DEFAULT_PARENT) / f"{stem}-{timestamp()}"
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
        where = f"the default --out {path}"
    else:
        path, where = Path(out), f"--out {out}"
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{where} is a file; give a directory")
        if path.is_dir() and any(path.iterdir()):
            hint = (f"resume it with `raybo resume {out}`" if (path / RUN_FILE).exists()
                    else "it is not empty")
            raise RunDirError(f"{where} already holds a run or other files ({hint}); "
                              "choose a new --out")
    check_writable(path, where)
    return path


def check_writable(path: Path, where: str) -> None:
    """Create ``path`` if needed and write a probe file there; RunDirError naming ``where``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".raybo-probe-"):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise RunDirError(f"{where}: cannot write there ({reason})") from None


def write_run_file(run_dir: Path, info: dict[str, Any]) -> None:
    """Write ``run.json`` atomically (a crash never leaves half a file)."""
    doc = {"format": RUN_FORMAT, "version": RUN_VERSION, **info}
    tmp = run_dir / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    os.replace(tmp, run_dir / RUN_FILE)


def read_run_file(run_dir: str | Path) -> dict[str, Any]:
    """The ``run.json`` of ``run_dir``; RunDirError if it is not a raybo run directory."""
    path = Path(run_dir) / RUN_FILE
    if not Path(run_dir).exists():
        raise RunDirError(f"{run_dir} does not exist")
    if not Path(run_dir).is_dir():
        raise RunDirError(f"{run_dir} is a file, not a raybo run directory")
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{run_dir} is not a raybo run directory (no {RUN_FILE})") from None
    except (OSError, ValueError) as err:
        raise RunDirError(f"cannot read {path}: {err}") from None
    if doc.get("format") != RUN_FORMAT or doc.get("version") != RUN_VERSION:
        raise RunDirError(f"{path} is not a raybo run file of version {RUN_VERSION}")
    return doc
