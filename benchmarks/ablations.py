"""Engine variants for paired ablations: ``--searchers gp~NAME`` runs raybo with
``EngineOptions(**VARIANTS[NAME])``. Each arm changes one thing against the defaults; an arm is
adopted only on a paired comparison over all six problems x W in {4, 16} x 10 seeds that loses
on at most one cell (``python -m benchmarks.ablate``; tables in benchmarks/results/ablations/)."""

from __future__ import annotations

# Arms were run against the engine of commit a898d37 (EngineOptions defaults before v2b was
# adopted): each arm spells out every option it changes from those old defaults.
OLD = {"max_fantasized": 0, "cat_lengthscale_prior": 0, "min_pending_distance": 0.0}

VARIANTS: dict[str, dict[str, object]] = {
    "base": dict(OLD),
    "roulette": {**OLD, "start_selection": "roulette"},
    "mind": {**OLD, "min_pending_distance": 1e-3},
    "noise6": {**OLD, "noise_floor": 1e-6},
    "bowl": {**OLD, "lengthscale_prior": "bowl"},
    "nowarp": {**OLD, "output_warp": "none"},
    "believer": {**OLD, "pending_mode": "believer"},
    "plugin": {**OLD, "incumbent": "posterior_mean"},
    "catprior": {**OLD, "cat_lengthscale_prior": 1},
    "cap3": {**OLD, "max_fantasized": 3},
    # the bundle: capped fantasies, plug-in incumbent, categorical prior, no near-duplicates
    "v2": {"max_fantasized": 3, "incumbent": "posterior_mean", "cat_lengthscale_prior": 1,
           "min_pending_distance": 1e-3},
    # v2 lost on mixed W=4 (plug-in EI left adam configs unrefined in 2 seeds): without it
    "v2b": {"max_fantasized": 3, "cat_lengthscale_prior": 1, "min_pending_distance": 1e-3},
    "v2b_wins": {"max_fantasized": 3, "cat_lengthscale_prior": 1, "min_pending_distance": 1e-3,
                 "winsorize": 1.5},
}
