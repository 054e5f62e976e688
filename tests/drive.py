"""One way to drive a ``Searcher`` as Tune does, for tests that need a schedule of calls.

``drive(searcher, n, objective, workers=W)`` suggests ``n`` trials with at most ``W`` in flight
and completes them first in, first out. With ``epochs``, each trial also reports its learning
curve through ``on_trial_result`` for every epoch before its last (``stop_at(i)``, default
``epochs``), and the last report comes only with ``on_trial_complete``, as Tune passes it (also
when a scheduler stopped the trial). ``objective(config)`` or, with epochs,
``objective(config, t)``; a value of None completes the trial with ``error=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray.tune.search import Searcher


def drive(searcher: Searcher, n: int, objective: Callable[..., float | None], *,
          workers: int = 1, metric: str = "loss", epochs: int | None = None,
          stop_at: Callable[[int], int] | None = None,
          on_suggest: Callable[[str, dict[str, Any]], None] | None = None,
          drain: bool = True) -> list[dict]:
    """The configs suggested, in order (a None suggestion is an error here). ``drain=False``
    stops after the last suggestion's round, leaving ``workers - 1`` trials pending, as a run
    cut off mid-way."""
    configs: list[dict] = []
    running: list[tuple[str, dict, int]] = []
    i = 0
    while i < n or running:
        while i < n and len(running) < workers:
            tid = f"t{i}"
            config = searcher.suggest(tid)
            assert config is not None, f"suggest returned None for trial {i}"
            if on_suggest is not None:
                on_suggest(tid, config)
            configs.append(config)
            running.append((tid, config, stop_at(i) if stop_at else (epochs or 0)))
            i += 1
        if not drain and i >= n and len(running) < workers:
            break
        tid, config, end = running.pop(0)
        if epochs is None:
            value = objective(config)  # a dict is the whole result (several metrics)
            result = None if value is None else (
                dict(value) if isinstance(value, dict) else {metric: value})
        else:
            for t in range(1, end):
                searcher.on_trial_result(tid, {metric: objective(config, t),
                                               "training_iteration": t})
            value = objective(config, end)
            result = None if value is None else {metric: value, "training_iteration": end,
                                                 "done": True}
        if result is None:
            searcher.on_trial_complete(tid, error=True)
        else:
            searcher.on_trial_complete(tid, result)
    return configs
