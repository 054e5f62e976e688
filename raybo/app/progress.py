"""What ``raybo tune`` shows while it runs: one line per finished trial, and Ray kept quiet.

``TrialProgress`` is a Tune ``Callback``: it numbers trials in creation order (1-based, the
numbering of every table, CSV and plot), prints ``[n/N] trial k  <metric> v  best b (trial j)
<origin>`` when a trial ends, and records what the report needs that Tune's ``ResultGrid`` does
not keep: the most trials that ran at once. ``quiet_ray`` turns off Ray's own
progress tables, worker log forwarding and INFO chatter unless ``--verbose`` was given.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ray.tune import Callback

from raybo.app.results import trial_status

FINISHED = ("TERMINATED", "ERROR")  # Tune trial statuses that end a trial for good
# Tune's warnings on Ctrl-C end with "Resume experiment with: Tuner.restore(...)"; the CLI
# prints its own `raybo resume DIR` instead.
_INTERRUPT_NOTICES = ("Stop signal received", "Experiment has been interrupted")


def creation_order(trials: list) -> list:
    """Trials sorted by Tune's creation counter, the number that starts ``experiment_tag``
    (Tune's list follows it in a fresh run but not after ``Tuner.restore``)."""
    def key(trial: Any) -> tuple[int, str]:
        head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
        return (int(head) if head.isdigit() else 1 << 62, trial.trial_id)

    return sorted(trials, key=key)


class TrialProgress(Callback):
    """Tune callback: progress lines (if ``echo``) and per-trial bookkeeping.

    ``origin_of(trial_id)`` names where a trial's config came from ("design", "gp", ...), e.g.
    ``GPSearch.trial_origin``; ``label`` prefixes every line (used when two searchers run).
    Pickled with the Tuner (so ``Tuner.restore`` brings it back): it keeps no stream or trial
    objects in its state.
    """

    def __init__(self, metric: str, mode: str, budget: int, *, echo: bool = True,
                 origin_of: Callable[[str], str | None] | None = None, label: str = "") -> None:
        self.metric, self.mode, self.budget = metric, mode, budget
        self.echo, self.origin_of, self.label = echo, origin_of, label
        self.max_running = 0
        self._running: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_running"] = set()
        return state

    # -- Tune hooks ------------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._running.add(trial.trial_id)
        self.max_running = max(self.max_running, len(self._running))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finished(trials, trial, error=None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finished(trials, trial, error=_error_line(trial))

    # -- internals -------------------------------------------------------------------------
    def _finished(self, trials: list, trial: Any, error: str | None) -> None:
        self._running.discard(trial.trial_id)
        if not self.echo:
            return
        done = sum(t.status in FINISHED or t is trial for t in trials)
        number = creation_order(trials).index(trial) + 1
        value = _value(trial.last_result, self.metric) if error is None else math.nan
        best = self._best(trials, trial)
        width = len(str(self.budget))
        parts = [f"{self.label}[{done:>{width}}/{self.budget}] trial {number:<{width}}"]
        if error is not None:
            parts.append(f"failed: {error}")
        elif not math.isfinite(value):
            parts.append(f"{self.metric} {value} (diverged or not reported)")
        else:
            parts.append(f"{self.metric} {value:<10.4g}")
        status, stopped_at = trial_status("TERMINATED", error is not None, value,
                                          trial.last_result or {}, trial.config)
        if status == "STOPPED":
            parts.append(f"STOPPED (epoch {stopped_at})")
        if best is not None:
            parts.append(f"best {best[0]:.4g} (trial {best[1]})")
        origin = self.origin_of(trial.trial_id) if self.origin_of else None
        if origin:
            parts.append(origin)
        print("  ".join(parts), file=sys.stdout, flush=True)

    def _best(self, trials: list, current: Any) -> tuple[float, int] | None:
        """Best finite value among finished trials (and ``current``) and its trial number."""
        sign = -1.0 if self.mode == "max" else 1.0
        best = None
        for i, t in enumerate(creation_order(trials), start=1):
            if t is not current and t.status != "TERMINATED":
                continue
            v = _value(t.last_result, self.metric)
            if math.isfinite(v) and (best is None or sign * v < sign * best[0]):
                best = (v, i)
        return best


class EpochLines(Callback):
    """Tune callback for ``raybo train``: one line per reported epoch."""

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        shown = [f"{k} {result[k]:.4g}" for k in ("train_loss", "val_loss", "val_accuracy",
                                                  "val_perplexity") if k in result]
        epochs = (trial.config or {}).get("epochs", "?")
        print(f"epoch {result.get('epoch', '?')}/{epochs}  " + "  ".join(shown), flush=True)


def _value(result: dict[str, Any] | None, metric: str) -> float:
    v = (result or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _error_line(trial: Any) -> str:
    """First line of the trial's exception, read from Tune's error file."""
    path = getattr(trial, "error_file", None)
    try:
        lines = [ln for ln in open(path).read().splitlines() if ln.strip()] if path else []
    except OSError:
        lines = []
    # Tune's error file holds the traceback; its last line is "ExceptionType: message".
    return lines[-1].strip()[:200] if lines else "error (see the trial's error.txt)"


@contextlib.contextmanager
def quiet_ray(verbose: int) -> Iterator[None]:
    """Unless ``verbose``: no Ray Tune progress tables or banners, Tune's INFO logs hidden.

    Ray's new console output prints a configuration box even at ``verbose=0``; the legacy
    reporter selected by ``RAY_AIR_NEW_OUTPUT=0`` prints nothing at ``verbose=0``.
    """
    if verbose:
        yield
        return
    old_env = os.environ.get("RAY_AIR_NEW_OUTPUT")
    tune_logger, run_logger = logging.getLogger("ray.tune"), logging.getLogger("ray.tune.tune")
    old_level = tune_logger.level
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    tune_logger.setLevel(logging.WARNING)
    run_logger.addFilter(_drop_interrupt_notices)
    try:
        yield
    finally:
        run_logger.removeFilter(_drop_interrupt_notices)
        tune_logger.setLevel(old_level)
        if old_env is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = old_env


def _drop_interrupt_notices(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_INTERRUPT_NOTICES)


def ray_init_kwargs(verbose: int) -> dict[str, Any]:
    """``ray.init`` arguments for a local start: worker logs (each trial's checkpoint messages)
    and Ray's start-up notices only with ``verbose``."""
    return {} if verbose else {"log_to_driver": False, "logging_level": logging.ERROR}
