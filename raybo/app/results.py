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
# The one-line reading of the leave-one-out check: trust the GP when at least this share of
# held-out trials lies inside its band and its predictions rank them this well (Spearman).
TRUST_COVERAGE, TRUST_RANK = 0.8, 0.5


@dataclass
class TuningRun:
    """What ``run_tuning`` returns: one row per trial, the fitted searcher and the run's settings.

    ``rows``: dicts with ``trial`` (1-based creation order), ``trial_id`` (Ray's), ``status``
    (TERMINATED | STOPPED | DIVERGED | ERROR | UNFINISHED; see ``trial_status``), ``stopped_at``
    (the last epoch of a STOPPED trial, else None), ``origin`` ("design", "given", "gp",
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
    # Several objectives and/or constraints (``raybo tune --metric A --metric B --constraint
    # ...``): every objective and its mode, first = ``metric``/``mode``; constraint strings;
    # the hypervolume's reference point in metric units (None: inferred, ``front.py``).
    metrics: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    reference_point: dict[str, float] | None = None

    @property
    def multi(self) -> bool:
        """Several objectives or a constraint: the run has a Pareto front (``front.py``)."""
        return len(self.metrics) > 1 or bool(self.constraints)

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


def trial_status(tune_status: str, failed: bool, value: float, metrics: dict[str, Any],
                 config: dict[str, Any]) -> tuple[str, int | None]:
    """``(status, stopped_at)`` of a trial from Tune's status and its last report: ERROR (it
    raised), UNFINISHED (still pending or running), DIVERGED (ended without a finite metric),
    STOPPED (ended by a scheduler such as ASHA before its ``epochs``: its value is that of
    epoch ``stopped_at``, not a finished training) or TERMINATED (trained every epoch)."""
    if failed or tune_status == "ERROR":
        return "ERROR", None
    if tune_status != "TERMINATED":
        return "UNFINISHED", None
    if not math.isfinite(value):
        return "DIVERGED", None
    epoch, epochs = metrics.get("epoch"), (config or {}).get("epochs")
    if isinstance(epoch, int) and isinstance(epochs, int) and epoch < epochs:
        return "STOPPED", epoch
    return "TERMINATED", None


def short_names(keys: list[str]) -> list[str]:
    """Column titles for flattened config keys: the last component ("optim/lr" -> "lr"), the
    parent for a bare "name" ("optim/name" -> "optim"), the full key if still ambiguous."""
    short = [k.split("/")[-2] if k.endswith("/name") and "/" in k else k.split("/")[-1]
             for k in keys]
    return [s if short.count(s) == 1 else k for s, k in zip(short, keys)]


def status_label(row: dict[str, Any]) -> str:
    """The status as tables and trials.csv show it: ``STOPPED (epoch 1)`` for a stopped trial."""
    if row["status"] == "STOPPED" and row.get("stopped_at") is not None:
        return f"STOPPED (epoch {row['stopped_at']})"
    return row["status"]


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


def rank_correlation(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation of ``a`` and ``b`` (ties ranked by position); NaN when
    either is constant or shorter than 3."""
    if len(a) < 3 or len(set(a)) == 1 or len(set(b)) == 1:
        return math.nan
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    mean = (n - 1) / 2
    cov = sum((x - mean) * (y - mean) for x, y in zip(ra, rb))
    var = sum((x - mean) ** 2 for x in ra)
    return cov / var


def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0] * len(values)
    for r, i in enumerate(order):
        ranks[i] = r
    return ranks


def loo_reading(diagnostics: dict[str, Any]) -> str:
    """One line on what the leave-one-out check means for the run: does the GP rank held-out
    trials well (Spearman >= ``TRUST_RANK``), with bands narrower than the observed range
    (else it is still unsure) and honest (>= ``TRUST_COVERAGE`` inside)?"""
    inside, n = band_coverage(diagnostics)
    rho = rank_correlation(diagnostics.get("observed", []), diagnostics.get("predicted", []))
    if n < 3 or not math.isfinite(rho):
        return "too few distinct trials to judge the GP's predictions"
    if rho < TRUST_RANK:
        return (f"the GP ranks held-out trials poorly (rank correlation {rho:.2f}): distrust "
                "its suggestions; more trials help")
    lower, upper = bands(diagnostics)
    obs = diagnostics["observed"]
    widths = sorted(hi - lo for lo, hi in zip(lower, upper))
    if widths[len(widths) // 2] > max(obs) - min(obs):
        return (f"the GP is still unsure (most bands are wider than the observed range; rank "
                f"correlation {rho:.2f}): its suggestions explore; more trials sharpen it")
    if inside < TRUST_COVERAGE * n:
        return (f"the GP ranks held-out trials well (rank correlation {rho:.2f}) but is "
                f"overconfident ({inside} of {n} inside): trust its ranking, not its bands")
    return (f"the GP predicts held-out trials well (rank correlation {rho:.2f}, {inside} of {n} "
            "inside): trust its suggestions")
