"""The searcher's memory: one record per trial id, small, explicit and versioned.

A record holds the suggested config, its encoding ``x: (d,)`` in the unit cube, the raw metric
value ``y`` (as reported, before any sign flip), a status and, for trials the searcher suggested,
where the suggestion came from (``origin``). Everything the GP needs is derived:
``X_obs: (n, d)``, ``y_obs: (n,)``, ``X_failed: (f, d)``, ``X_pending: (p, d)``.

Saved form (``to_dict``), version 2: ``{"version": 2, "records": {trial_id: {"config", "x",
"status", "y", "origin"}}}``. Version 1 (no ``origin``) still loads, with ``origin=None``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

PENDING, DONE, FAILED = "pending", "done", "failed"
# points_to_evaluate, the quasi-random design, the GP, a quasi-random point after a failed fit
ORIGINS = ("given", "design", "gp", "fallback")
STATE_VERSION = 2
RECORD_KEYS = {1: {"config", "x", "status", "y"}, 2: {"config", "x", "status", "y", "origin"}}


@dataclass
class Record:
    config: dict[str, Any]
    x: list[float]
    status: str = PENDING
    y: float | None = None
    origin: str | None = None  # one of ORIGINS for suggested trials; None for known points


@dataclass
class TrialState:
    """Records keyed by trial id, in the order they were created."""

    records: dict[str, Record] = field(default_factory=dict)

    def add_pending(self, trial_id: str, config: dict[str, Any], x: np.ndarray,
                    origin: str | None = None) -> None:
        self.records[trial_id] = Record(config, [float(v) for v in x], origin=origin)

    def complete(self, trial_id: str, y: float | None) -> bool:
        """Store a result; a missing or non-finite ``y`` marks the trial failed.
        Returns False (and changes nothing) for ids this state never issued."""
        rec = self.records.get(trial_id)
        if rec is None:
            return False
        if y is None or not math.isfinite(y):
            rec.status, rec.y = FAILED, None
        else:
            rec.status, rec.y = DONE, float(y)
        return True

    def add_observation(self, trial_id: str, config: dict[str, Any], x: np.ndarray,
                        y: float | None) -> None:
        self.add_pending(trial_id, config, x)
        self.complete(trial_id, y)

    def _select(self, status: str) -> list[Record]:
        return [r for r in self.records.values() if r.status == status]

    def arrays(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(X_obs (n, d), y_obs (n,), X_failed (f, d), X_pending (p, d))`` as float64."""
        done, failed, pending = self._select(DONE), self._select(FAILED), self._select(PENDING)

        def mat(rs: list[Record]) -> np.ndarray:
            return np.array([r.x for r in rs], dtype=float).reshape(len(rs), d)

        y = np.array([r.y for r in done], dtype=float)
        return mat(done), y, mat(failed), mat(pending)

    @property
    def n_pending(self) -> int:
        return len(self._select(PENDING))

    @property
    def pending_ids(self) -> list[str]:
        return [k for k, r in self.records.items() if r.status == PENDING]

    @property
    def n_done(self) -> int:
        """Trials with a finite result."""
        return len(self._select(DONE))

    @property
    def n_finished(self) -> int:
        """Trials with a result, good or failed."""
        return sum(r.status != PENDING for r in self.records.values())

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION,
                "records": {k: asdict(r) for k, r in self.records.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialState:
        version = data.get("version")
        if version not in RECORD_KEYS or set(data) != {"version", "records"}:
            raise ValueError(
                f"trial records of version {version!r} with keys {sorted(data)} are not "
                f"supported (expected version 1 or {STATE_VERSION} with 'version', 'records')"
            )
        records = {}
        for trial_id, r in data["records"].items():
            if set(r) != RECORD_KEYS[version]:
                raise ValueError(
                    f"searcher state: trial {trial_id!r} has keys {sorted(r)}; version {version} "
                    f"records have {sorted(RECORD_KEYS[version])}")
            records[trial_id] = Record(**{**r, "config": copy.deepcopy(r["config"]),
                                          "x": list(r["x"])})
        for trial_id, r in records.items():  # a corrupted checkpoint fails here, not mid-fit
            done_ok = r.status == DONE and isinstance(r.y, (int, float)) and math.isfinite(r.y)
            if not (done_ok or (r.status in (PENDING, FAILED) and r.y is None)):
                raise ValueError(
                    f"searcher state: trial {trial_id!r} has status {r.status!r} with value "
                    f"{r.y!r}; expected 'done' with a finite value, or 'pending'/'failed' "
                    "without one")
            if r.origin not in (None, *ORIGINS):
                raise ValueError(f"searcher state: trial {trial_id!r} has origin {r.origin!r}")
        return cls(records)
