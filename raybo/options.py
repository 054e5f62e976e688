"""The engine's tuning constants in one validated, serializable object.

``GPSearch(engine=EngineOptions(...))`` changes them for one searcher; benchmarks and ablations
build variants with ``dataclasses.replace`` instead of monkeypatching module globals. Every
default carries its reason here, so the modules that use them hold no magic numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineOptions:
    """Tuning constants of one Bayesian-optimization step (all have working defaults)."""

    # -- GP targets (targets.py) ------------------------------------------------------------
    # "yeo_johnson": standardize, then a power transform fitted by ML (HEBO); "none": only
    # standardize (Optuna, BoTorch's default).
    output_warp: str = "yeo_johnson"
    # Clip the bad tail at Q3 + winsorize * IQR before the transform (Ax); 0: off.
    winsorize: float = 0.0
    # Divergence: sorted values to minimize, a gap above the best >= 3 that is this many times
    # their spread marks every value above it as a divergent run, modelled like a failure
    # (targets.divergent); 0: off. 10 since engine v3 (benchmarks/README.md, "Engine v3").
    divergence_ratio: float = 10.0

    # -- initial design (design.py) ----------------------------------------------------------
    # Default design: clip(2 * d, 5, design_max) results before the GP is used.
    design_max: int = 20

    # -- surrogate (surrogate.py) -----------------------------------------------------------
    # BoTorch's MIN_INFERRED_NOISE_LEVEL: keeps K well conditioned on standardized targets.
    noise_floor: float = 1e-4
    # Below ~1/40 of the unit cube a GP can only interpolate noise.
    lengthscale_floor: float = 2.5e-2
    # "dim_scaled": LogNormal(sqrt2 + log(d)/2, sqrt3) on each lengthscale (Hvarfner et al.
    # 2024, BoTorch's default); "bowl": Optuna's -0.1 (l^2 + l^-2), which keeps lengthscales
    # within about [0.3, 3] of the unit cube unless the data insist.
    lengthscale_prior: str = "dim_scaled"
    # 1: LogNormal(0, 1) on each categorical lengthscale (correlation between two categories
    # about exp(-1), within [0.07, 0.76] at one sigma); 0: no prior (MAP may run off to 0 or inf).
    cat_lengthscale_prior: int = 1
    # L-BFGS iterations of the marginal-likelihood fit from the prior defaults; warm starts
    # converge in far fewer.
    fit_max_iter: int = 80
    warm_max_iter: int = 25

    # -- when to re-optimize hyperparameters (strategies.FitCache) --------------------------
    # Re-optimized once the training set grew by this fraction since the last optimization
    # (always below refit_always rows); in between the posterior is rebuilt with the previous
    # hyperparameters. A few new points barely move a MAP estimate on 100+ points.
    refit_growth: float = 0.1
    refit_always: int = 40
    # Training rows of the exact GP; beyond it a local subset plus a global spread.
    max_exact: int = 400
    n_global_in_subset: int = 100

    # -- pending trials (fantasies.py) ------------------------------------------------------
    # QMC fantasy samples; enough for a smooth acquisition average (BoTorch uses 16-128).
    n_fantasies: int = 16
    # "fantasies": condition on n_fantasies joint samples of the pending outcomes (a qEI
    # increment); "believer": on their posterior mean only (Kriging believer, Ginsbourger et
    # al. 2010), which keeps the incumbent and so stays more exploitative with many pending.
    pending_mode: str = "fantasies"
    # With "fantasies": sample only this many pending outcomes (the most promising), the rest
    # at their conditional mean (see fantasies.fantasize); 0: sample all of them. 3 since
    # engine v2, with cat_lengthscale_prior and min_pending_distance: adopted together on a
    # paired ablation (benchmarks/README.md, "Ablations"), chiefly for 16+ workers.
    max_fantasized: int = 3

    # -- acquisition (acquisition.py, surrogate.build_posterior) ----------------------------
    # "observed": EI improves on the lowest observed target; "posterior_mean": on the lowest
    # posterior mean at an observed point (plug-in EI), robust when the objective is noisy.
    incumbent: str = "observed"

    # -- user prior (prior.py) -------------------------------------------------------------
    # piBO's beta: the acquisition is weighted by the prior density to the power beta / n after
    # n finished trials (Hvarfner et al. 2022 use beta = 10; SMAC3 a tenth of the budget).
    prior_beta: float = 10.0
    # With a prior, design points 0, k, 2k, ... are drawn from it (0: its mode), the rest Sobol;
    # 0: the design ignores the prior. (benchmarks/README.md, "Priors and warm starts")
    prior_design_every: int = 2

    # -- acquisition optimizer (optimize.py) ------------------------------------------------
    n_sobol: int = 1024  # raw candidates: enough to seed restarts in d <= 20
    n_around_best: int = 128  # perturbations of the best observed points (BoTorch)
    around_best_std: float = 0.05  # in unit-cube units
    n_best_seeds: int = 5  # best observed points whose neighbourhoods seed the optimizer
    n_restarts: int = 10  # gradient starts (BoTorch examples use 10-20)
    lbfgs_maxiter: int = 40  # the acquisition peak is found coarsely; more buys ~nothing
    max_rounds: int = 3  # alternations of continuous and discrete search
    exhaustive_levels: int = 64  # discrete columns up to this many values: exhaustive search
    neighbours: int = 8  # otherwise this many values either side of the current one
    # "top": the best raw candidates start the gradient search; "roulette" (Optuna's
    # optim_mixed): the best one, the best observed point, and the rest drawn with probability
    # proportional to exp(acquisition - max), which spreads starts over several basins.
    start_selection: str = "top"
    # A suggestion never lies within this Euclidean distance (unit cube) of a pending trial:
    # such a point adds nothing a running trial will not tell (0: only exact duplicates).
    min_pending_distance: float = 1e-3

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _CHOICES:
                if value not in _CHOICES[f.name]:
                    raise ValueError(f"engine option {f.name} must be one of "
                                     f"{_CHOICES[f.name]}, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"engine option {f.name} must be a number, got {value!r}")
            if f.type == "int" and int(value) != value:
                raise ValueError(f"engine option {f.name} must be an integer, got {value!r}")
            if value < 0 or (value == 0 and f.name not in _MAY_BE_ZERO):
                raise ValueError(f"engine option {f.name} must be positive, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EngineOptions:
        """Options from ``to_dict`` output; unknown keys are an error, missing keys default."""
        data = dict(data or {})
        if data:  # a saved engine keeps what it did before an option existed
            data = {**_BEFORE_IT_EXISTED, **data}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown engine options {unknown}; known: {sorted(known)}")
        return cls(**data)


# Options whose default changed the engine's behaviour when they were added: a saved state
# written before then (its options dict lacks the key) continues with the old behaviour.
_BEFORE_IT_EXISTED = {"divergence_ratio": 0.0}
_MAY_BE_ZERO = {"refit_growth", "refit_always", "n_around_best", "n_global_in_subset",
                "around_best_std", "min_pending_distance", "cat_lengthscale_prior",
                "max_fantasized", "winsorize", "divergence_ratio", "prior_beta",
                "prior_design_every"}
_CHOICES = {"start_selection": ("top", "roulette"), "lengthscale_prior": ("dim_scaled", "bowl"),
            "output_warp": ("yeo_johnson", "none"), "pending_mode": ("fantasies", "believer"),
            "incumbent": ("observed", "posterior_mean")}
DEFAULT = EngineOptions()
