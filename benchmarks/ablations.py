"""Engine variants for paired ablations: ``--searchers gp~NAME`` runs raybo with
``EngineOptions(**VARIANTS[NAME])``. Each arm changes one thing against the defaults; an arm is
adopted only on a paired comparison over all six problems x W in {4, 16} x 10 seeds that loses
on at most one cell (``python -m benchmarks.ablate``; tables in benchmarks/results/ablations/)."""

from __future__ import annotations

VARIANTS: dict[str, dict[str, object]] = {
    "base": {},
    "roulette": {"start_selection": "roulette"},
    "mind": {"min_pending_distance": 1e-3},
    "noise6": {"noise_floor": 1e-6},
    "bowl": {"lengthscale_prior": "bowl"},
    "nowarp": {"output_warp": "none"},
    "believer": {"pending_mode": "believer"},
    "plugin": {"incumbent": "posterior_mean"},
    "catprior": {"cat_lengthscale_prior": 1},
    "cap3": {"max_fantasized": 3},
    # the bundle: capped fantasies, plug-in incumbent, categorical prior, no near-duplicates
    "v2": {"max_fantasized": 3, "incumbent": "posterior_mean", "cat_lengthscale_prior": 1,
           "min_pending_distance": 1e-3},
    # v2 lost on mixed W=4 (plug-in EI left adam configs unrefined in 2 seeds): without it
    "v2b": {"max_fantasized": 3, "cat_lengthscale_prior": 1, "min_pending_distance": 1e-3},
    "v2b_wins": {"max_fantasized": 3, "cat_lengthscale_prior": 1, "min_pending_distance": 1e-3,
                 "winsorize": 1.5},
}
