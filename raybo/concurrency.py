"""Which pending trials count against ``max_concurrent``, across restores and batch limiters.

Restores. ``Tuner.restore`` (``resume_unfinished=True``, the default) resumes the trials that were
unfinished under their old ids, so the trials pending in a restored searcher count as running from
the start; counting only trials suggested after the restore let up to twice the limit run. Tune
can also leave a restored pending trial alone for good (``resume_unfinished=False``, or a driver
killed between writing Tune's and the searcher's checkpoint files); it then never completes and
must not hold a slot forever. The evidence used: Tune queues every resumed trial before it asks
for a new one, so a resumed trial reports before trials suggested after the restore do. Once a
trial suggested after the restore reports, restored trials that have reported nothing since the
restore are *released*: still pending for the GP (their outcome is fantasized), no longer counted.
A released trial that reports after all counts again. Like Ray's own ``ConcurrencyLimiter``, this
cannot free slots while every slot holds a restored trial that Tune dropped (``resume_unfinished=
False`` with as many unfinished trials as the limit); resume them, or raise the limit.

Batches. ``ConcurrencyLimiter(searcher, max_concurrent, batch=True)`` hands the wrapped searcher
only the number, through ``set_max_concurrency``; a searcher that enforces the limit itself turns
the limiter into a pass-through and the batch semantics are lost. ``batch_limiter_calling``
finds the limiter that is calling, so GPSearch can leave the limiting to it in batch mode.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from ray.tune.search import ConcurrencyLimiter

CALLER_FRAMES = 4  # how far up set_max_concurrency's callers a ConcurrencyLimiter is looked for


@dataclass
class RestoredTrials:
    """Trials pending at the last restore (``restored``), those of them that have reported
    nothing since (``quiet``), those no longer counted against the limit (``released``), and
    every trial id the restored state knew (``before``)."""

    restored: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)

    def on_restore(self, pending_ids: list[str], known_ids: list[str]) -> None:
        self.restored, self.quiet = set(pending_ids), set(pending_ids)
        self.released, self.before = set(), set(known_ids)

    def on_report(self, trial_id: str, known: bool) -> None:
        """A trial reported a result; ``known``: the searcher issued ``trial_id``. Only a trial
        suggested after the restore is evidence (trials resumed after an error, also known from
        before, are queued by Tune with the restored ones)."""
        if trial_id in self.restored:
            self.quiet.discard(trial_id)
            self.released.discard(trial_id)
        elif known and trial_id not in self.before and self.quiet:
            self.released |= self.quiet
            self.quiet = set()

    def on_complete(self, trial_id: str) -> None:
        self.restored.discard(trial_id)
        self.quiet.discard(trial_id)
        self.released.discard(trial_id)

    def n_counted(self, n_pending: int) -> int:
        """Pending trials that count against ``max_concurrent`` (``released`` are pending)."""
        return n_pending - len(self.released)


def batch_limiter_calling(searcher: Any) -> ConcurrencyLimiter | None:
    """The ``ConcurrencyLimiter(batch=True)`` wrapping ``searcher`` that is calling it now (its
    ``set_max_concurrency`` is called from the limiter's constructor and its
    ``set_search_properties``), or None. Ray passes the limiter nothing but the number, so the
    caller's frame is the only place the batch flag can be read."""
    frame = inspect.currentframe()
    try:
        for _ in range(CALLER_FRAMES):
            frame = frame.f_back if frame is not None else None
            owner = frame.f_locals.get("self") if frame is not None else None
            if isinstance(owner, ConcurrencyLimiter) and owner.searcher is searcher:
                return owner if getattr(owner, "batch", False) else None
        return None
    finally:
        del frame
