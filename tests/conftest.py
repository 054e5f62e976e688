"""Shared test helpers.

``ray_tmp()``: a short, unique directory for a Ray session's ``_temp_dir``. Ray puts Unix sockets
under it (paths must stay under ~107 bytes, so pytest's long ``tmp_path`` will not do), and two
test runs on one machine (CI beside a developer's run) must not share one session directory.
"""

from __future__ import annotations

import tempfile


def ray_tmp(tag: str = "r") -> str:
    return tempfile.mkdtemp(prefix=f"rb{tag}", dir="/tmp")
