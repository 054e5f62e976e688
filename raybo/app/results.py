"""A tuning run's results as plain data: ``TuningRun`` (what ``tuning.run_tuning`` returns) and
the leave-one-out bands that both the printed report and ``diagnostics.png`` show.

No Ray, torch or matplotlib: ``report.py`` and ``plots.py`` both read these, and benchmarks and
notebooks can build a ``TuningRun`` from their own rows. Trials are numbered 1, 2, ... in
creation order everywhere (progress lines, table, CSV, plots), next to Ray's trial id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BAND_Z = 1.96  # half-width of a 95% normal band, in standard deviations


@dataclass
class TuningRun:
    """What ``run_tuning`` returns: one row per trial, the fitted searcher and the run's settings.

    ``rows``: dicts with ``trial`` (1-based creation order), ``trial_id`` (Ray's), ``status``
    (TERMINATED | DIVERGED | ERROR | UNFINISHED), ``origin`` ("design", "given", "gp",
    "fallback" for GPSearch; "random"), ``value`` (last reported metric, NaN if none),
    ``metrics`` (every key of the trial's last report), ``config`` (nested) and ``error``.
    ``tuned``: flattened config keys the search varied ("optim/lr", ...). ``max_running``: the
    most trials seen running at once.
    """

    arch: str
    metric: str
    mode: str
    searcher_name: str
    rows: list[dict[str, Any]]
    searcher: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    tuned: list[str] = field(default_factory=list)
    budget: int | None = None
    concurrent: int | None = None
    max_running: int | None = None
    experiment_path: str = ""
    # What mattered (raybo.sensitivity, GP search with >= 3 successes): Importance.rows(), the
    # slices of the top parameters, and how many successful trials the GP was fitted to.
    importance: list[dict[str, Any]] = field(default_factory=list)
    slices: list[dict[str, Any]] = field(default_factory=list)
    importance_trials: int = 0

    def best_so_far(self) -> list[float]:
        """Best finite value among trials ``1..i`` for each ``i`` (NaN until one succeeds)."""
        sign = 1.0 if self.mode == "min" else -1.0
        best, out = math.inf, []
        for row in self.rows:
            if math.isfinite(row["value"]):
                best = min(best, sign * row["value"])
            out.append(sign * best if math.isfinite(best) else math.nan)
        return out

    def ranked(self) -> list[dict[str, Any]]:
        """Successful rows, best first."""
        ok = [r for r in self.rows if math.isfinite(r["value"])]
        return sorted(ok, key=lambda r: r["value"], reverse=self.mode == "max")

    def best(self) -> dict[str, Any] | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    @property
    def n_finished(self) -> int:
        return sum(r["status"] != "UNFINISHED" for r in self.rows)

    @property
    def interrupted(self) -> bool:
        """Fewer trials finished than were asked for (Ctrl-C, or the driver stopped)."""
        return self.budget is not None and self.n_finished < self.budget


def bands(diagnostics: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Lower and upper ends of each trial's leave-one-out 95% band, in metric units: the
    ``lower``/``upper`` quantiles when the diagnostics carry them, else prediction +- 1.96 std.
    ``diagnostics.png`` draws exactly these and ``band_coverage`` counts against them."""
    if "lower" in diagnostics and "upper" in diagnostics:
        return list(diagnostics["lower"]), list(diagnostics["upper"])
    pred, sd = diagnostics.get("predicted", []), diagnostics.get("predicted_std", [])
    return ([p - BAND_Z * s for p, s in zip(pred, sd)],
            [p + BAND_Z * s for p, s in zip(pred, sd)])


def band_coverage(diagnostics: dict[str, Any]) -> tuple[int, int]:
    """``(inside, n)``: observations inside their leave-one-out 95% band (see ``bands``)."""
    obs = diagnostics.get("observed", [])
    lower, upper = bands(diagnostics)
    return sum(lo <= o <= hi for o, lo, hi in zip(obs, lower, upper)), len(obs)
