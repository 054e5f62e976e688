"""The searcher's memory: one record per trial id, small, explicit and versioned.

A record holds the suggested config, its encoding ``x: (d,)`` in the unit cube, the raw metric
value ``y`` (as reported, before any sign flip), a status and, for trials the searcher suggested,
where the suggestion came from (``origin``). Everything the GP needs is derived:
``X_obs: (n, d)``, ``y_obs: (n,)``, ``X_failed: (f, d)``, ``X_pending: (p, d)``.

For multi-fidelity search a record also keeps the trial's intermediate results
``reports: [[t, y], ...]`` (resource level, raw metric value; increasing ``t``), thinned to
geometric rungs plus the latest (``rungs.py``), so a trial that reports every epoch stores
O(log t) of them.

With several objectives or outcome constraints a done record also keeps ``outcomes``: every
metric the search reads (``{name: value}``, raw), with ``y`` the first objective's value.

Saved form (``to_dict``), version 4: ``{"version": 4, "records": {trial_id: {"config", "x",
"status", "y", "origin", "reports", "outcomes"}}}``. Versions 1 (no ``origin``, no ``reports``),
2 (no ``reports``) and 3 (no ``outcomes``) still load, with ``origin=None``, ``reports=[]`` and
``outcomes=None``.

Never repeating a config is one rule, here: ``is_known`` with the one tolerance
``SAME_POINT_TOL``. The initial design, the acquisition optimizer and the step's final check of a
conditional space's canonical encoding use it, and the kernels use the same tolerance for "the
same category" and "the same configuration".
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from raybo.rungs import rung_indices

PENDING, DONE, FAILED = "pending", "done", "failed"
# points_to_evaluate, the quasi-random design, the GP, a quasi-random point after a failed fit
ORIGINS = ("given", "design", "gp", "fallback")
STATE_VERSION = 4
# Largest per-column gap (unit cube) between two encodings of the same config: encodings are
# exact (cell centres, category centres, snapped values), so this only absorbs round-off.
SAME_POINT_TOL = 1e-9
RECORD_KEYS = {1: {"config", "x", "status", "y"}, 2: {"config", "x", "status", "y", "origin"},
               3: {"config", "x", "status", "y", "origin", "reports"},
               4: {"config", "x", "status", "y", "origin", "reports", "outcomes"}}


def is_known(x: np.ndarray, X: np.ndarray | None) -> bool:
    """True if ``x: (d,)`` is within ``SAME_POINT_TOL`` (in every column) of a row of ``X: (k,
    d)`` (None or empty: nothing is known)."""
    return X is not None and len(X) > 0 and bool(
        (np.abs(np.asarray(X) - x[None]).max(axis=1) <= SAME_POINT_TOL).any())


@dataclass
class Record:
    config: dict[str, Any]
    x: list[float]
    status: str = PENDING
    y: float | None = None
    origin: str | None = None  # one of ORIGINS for suggested trials; None for known points
    reports: list[list[float]] = field(default_factory=list)  # [t, y], increasing t
    outcomes: dict[str, float] | None = None  # every metric read, when there are several


@dataclass
class TrialState:
    """Records keyed by trial id, in the order they were created."""

    records: dict[str, Record] = field(default_factory=dict)

    def add_pending(self, trial_id: str, config: dict[str, Any], x: np.ndarray,
                    origin: str | None = None) -> None:
        self.records[trial_id] = Record(config, [float(v) for v in x], origin=origin)

    def complete(self, trial_id: str, y: float | None,
                 outcomes: dict[str, float] | None = None) -> bool:
        """Store a result (with ``outcomes``, every metric read); a missing or non-finite ``y``
        marks the trial failed. Returns False (and changes nothing) for ids this state never
        issued."""
        rec = self.records.get(trial_id)
        if rec is None:
            return False
        if y is None or not math.isfinite(y):
            rec.status, rec.y, rec.outcomes = FAILED, None, None
        else:
            rec.status, rec.y = DONE, float(y)
            rec.outcomes = None if outcomes is None else {k: float(v) for k, v in
                                                           outcomes.items()}
        return True

    def report(self, trial_id: str, t: float, y: float) -> bool:
        """Store an intermediate result ``y`` at resource level ``t`` (non-finite ones are
        ignored). A report at or below an earlier level means the trial restarted (from a
        checkpoint or from scratch): the later reports of the earlier run are dropped.
        Returns False (and changes nothing) for ids this state never issued."""
        rec = self.records.get(trial_id)
        if rec is None:
            return False
        if not (math.isfinite(t) and math.isfinite(y)):
            return True
        kept = [r for r in rec.reports if r[0] < t] + [[float(t), float(y)]]
        rec.reports = [kept[i] for i in rung_indices([r[0] for r in kept])]
        return True

    def max_resource(self) -> float | None:
        """Highest resource level any trial has reported, or None."""
        levels = [r.reports[-1][0] for r in self.records.values() if r.reports]
        return max(levels) if levels else None

    def add_observation(self, trial_id: str, config: dict[str, Any], x: np.ndarray,
                        y: float | None, outcomes: dict[str, float] | None = None) -> None:
        self.add_pending(trial_id, config, x)
        self.complete(trial_id, y, outcomes)

    def _select(self, status: str) -> list[Record]:
        return [r for r in self.records.values() if r.status == status]

    def arrays(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(X_obs (n, d), y_obs (n,), X_failed (f, d), X_pending (p, d))`` as float64."""
        done, failed, pending = self._select(DONE), self._select(FAILED), self._select(PENDING)

        def mat(rs: list[Record]) -> np.ndarray:
            return np.array([r.x for r in rs], dtype=float).reshape(len(rs), d)

        y = np.array([r.y for r in done], dtype=float)
        return mat(done), y, mat(failed), mat(pending)

    def outcome_values(self, names: tuple[str, ...]) -> np.ndarray:
        """``(n, len(names))``: the ``outcomes`` of the done records, in ``arrays``' order."""
        rows = [[r.outcomes[k] for k in names] for r in self._select(DONE)]
        return np.array(rows, dtype=float).reshape(len(rows), len(names))

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
                f"supported (expected version 1 to {STATE_VERSION} with 'version', 'records')"
            )
        records = {}
        for trial_id, r in data["records"].items():
            if set(r) != RECORD_KEYS[version]:
                raise ValueError(
                    f"searcher state: trial {trial_id!r} has keys {sorted(r)}; version {version} "
                    f"records have {sorted(RECORD_KEYS[version])}")
            reports = _checked_reports(trial_id, r.get("reports", []))
            records[trial_id] = Record(**{**r, "config": copy.deepcopy(r["config"]),
                                          "x": list(r["x"]), "reports": reports,
                                          "outcomes": _checked_outcomes(trial_id, r)})
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


def _checked_outcomes(trial_id: str, r: dict[str, Any]) -> dict[str, float] | None:
    """Saved outcomes as ``{name: float}`` (None allowed); ValueError unless finite numbers."""
    outcomes = r.get("outcomes")
    if outcomes is None:
        return None
    ok = isinstance(outcomes, dict) and r.get("status") == DONE and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in outcomes.values())
    if not ok:
        raise ValueError(f"searcher state: trial {trial_id!r} has malformed outcomes "
                         f"{outcomes!r}; expected finite numbers by metric, on a done trial")
    return {str(k): float(v) for k, v in outcomes.items()}


def _checked_reports(trial_id: str, reports: Any) -> list[list[float]]:
    """Saved reports as ``[[t, y], ...]`` floats; ValueError unless they are finite
    ``[resource, value]`` pairs with increasing resource levels (what ``report`` keeps)."""
    def pair_ok(p: Any) -> bool:
        return isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in p)

    ok = isinstance(reports, list) and all(pair_ok(p) for p in reports)
    if ok:
        levels = [p[0] for p in reports]
        ok = all(a < b for a, b in zip(levels, levels[1:]))
    if not ok:
        raise ValueError(f"searcher state: trial {trial_id!r} has malformed reports "
                         f"{reports!r}; expected [resource, value] pairs of finite numbers "
                         "with increasing resource levels")
    return [[float(t), float(y)] for t, y in reports]
