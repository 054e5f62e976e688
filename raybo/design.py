"""The initial design: the user's points first, then one scrambled Sobol sequence per seed, until
``design_finished`` hands over to the GP.

Notation: ``x: (d,)`` in [0, 1]^d; ``X_avoid: (k, d)`` encodings already suggested or observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import qmc

from raybo.space import SearchSpace
from raybo.state import is_known

N_INITIAL_MIN, N_INITIAL_MAX = 5, 20  # default design: clip(2 * d, 5, 20) results
# When Tune tells us num_samples, the design takes at most a third of it (and at least
# N_INITIAL_SMALL_BUDGET points): a 12-trial run in 8-d would otherwise never reach the GP.
N_INITIAL_SMALL_BUDGET = 4
MAX_SOBOL_SKIPS = 64  # Sobol points tried before repeating a config (tiny discrete spaces)


def design_size(dim: int, n_initial: int | None, budget: int | None,
                cap: int = N_INITIAL_MAX) -> int:
    """Results gathered before the GP is used: ``n_initial`` if given, else ``clip(2 * dim, 5,
    20)``, capped at ``max(4, budget // 3)`` when Tune passed its ``num_samples`` (``budget``)."""
    if n_initial is not None:
        return n_initial
    n = int(np.clip(2 * dim, N_INITIAL_MIN, max(cap, N_INITIAL_MIN)))
    if budget:
        n = min(n, max(N_INITIAL_SMALL_BUDGET, budget // 3))
    return n


def design_finished(n_done: int, size: int) -> bool:
    """The one rule for when the GP takes over: after ``size`` successful results (failed and
    pending trials do not count)."""
    return n_done >= size


@dataclass
class InitialDesign:
    """Where the design stands: user points not yet suggested (``points``), their known values
    (``rewards``, until the space is known and they become observations) and how far the Sobol
    sequence has been drawn (``sobol_index``)."""

    points: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[Any] | None = None
    sobol_index: int = 0

    @classmethod
    def create(cls, points_to_evaluate: list[dict[str, Any]] | None,
               evaluated_rewards: list[Any] | None) -> InitialDesign:
        """Validated user input (errors name the argument, before any trial runs)."""
        if points_to_evaluate is not None and not all(
                isinstance(p, dict) for p in points_to_evaluate):
            raise ValueError("points_to_evaluate must be a list of config dicts")
        if evaluated_rewards is not None and (
                points_to_evaluate is None or len(evaluated_rewards) != len(points_to_evaluate)):
            raise ValueError(
                "evaluated_rewards must have one value per entry of points_to_evaluate "
                f"(got {len(evaluated_rewards)} rewards for "
                f"{len(points_to_evaluate or [])} points)")
        if evaluated_rewards is not None and not all(
                _is_number(r) or r is None or isinstance(r, dict) for r in evaluated_rewards):
            raise ValueError("evaluated_rewards must be numbers (None or NaN for a failed point; "
                             "dicts {metric: value} with several metrics), got "
                             f"{list(evaluated_rewards)!r}")
        return cls(list(points_to_evaluate or []),
                   None if evaluated_rewards is None else list(evaluated_rewards))

    def next_point(self) -> dict[str, Any] | None:
        """The next user point to suggest (None when all were suggested)."""
        return self.points.pop(0) if self.points else None

    def take_known_points(self) -> list[tuple[dict[str, Any], Any]]:
        """Points with known values (``evaluated_rewards``): they become observations, once."""
        if self.rewards is None:
            return []
        known = list(zip(self.points, self.rewards))
        self.points, self.rewards = [], None
        return known

    def sobol_point(self, space: SearchSpace, seed: int, X_avoid: np.ndarray) -> np.ndarray:
        """Next point of one scrambled Sobol sequence per seed, snapped to an admissible encoding
        and skipping configs already in ``X_avoid``."""
        sobol = qmc.Sobol(space.dim, scramble=True, seed=seed)
        if self.sobol_index:
            sobol.fast_forward(self.sobol_index)
        for _ in range(MAX_SOBOL_SKIPS):
            self.sobol_index += 1
            x = space.snap(sobol.random(1))[0]
            if not is_known(x, X_avoid):
                return x
        return x  # a small discrete space is exhausted: repeat rather than stall

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "rewards": self.rewards, "sobol_index": self.sobol_index}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InitialDesign:
        if set(data) != {"points", "rewards", "sobol_index"}:
            raise ValueError(f"initial design state has keys {sorted(data)}; expected "
                             "['points', 'rewards', 'sobol_index']")
        return cls(list(data["points"]), data["rewards"], int(data["sobol_index"]))


def fill_point(space: SearchSpace, point: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Encoding of a user point whose missing parameters (and choices) are drawn uniformly."""
    return space.encode_partial(point, fill=rng.random(space.dim))


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))
