"""Shared test helpers.

``ray_local``: a module-scoped local Ray instance (2 CPUs, no dashboard, workers' output kept
out of the test log).

Tiers: ``pytest -m "not slow"`` is the development loop (in-process tests); every test that
starts Ray (marked ``ray``) or trains a real model at length (marked ``slow``) is left to the
whole suite, ``python -m pytest -q``, which CI runs. A ``ray`` test is ``slow`` by this rule, so
no module has to remember both marks.

``ray_tmp()``: a short, unique directory for a Ray session's ``_temp_dir``. Ray puts Unix sockets
under it (paths must stay under ~107 bytes, so pytest's long ``tmp_path`` will not do), and two
test runs on one machine (CI beside a developer's run) must not share one session directory.
"""

from __future__ import annotations

import tempfile

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("ray") is not None or "ray_local" in item.fixturenames:
            item.add_marker(pytest.mark.slow)


def ray_tmp(tag: str = "r") -> str:
    return tempfile.mkdtemp(prefix=f"rb{tag}", dir="/tmp")


@pytest.fixture(scope="module")
def ray_local():
    import ray  # here, not at the top: most test modules never start Ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=ray_tmp("L"),
             log_to_driver=False)
    yield
    ray.shutdown()


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals [start, end) open at one instant (an end before a start at ties)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
