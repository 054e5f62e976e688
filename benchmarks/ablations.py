"""Engine variants for paired ablations: ``--searchers gp~NAME`` runs raybo with
``EngineOptions(**VARIANTS[NAME])``. Each arm changes one thing against the base; the adoption
rule, the base engine and the verdicts are in benchmarks/README.md, "Ablations"."""

from __future__ import annotations

# the engine v1 defaults the arms were run against (README "Ablations"): each arm spells out
# every option it changes from them
OLD = {"max_fantasized": 0, "cat_lengthscale_prior": 0, "min_pending_distance": 0.0,
       "divergence_ratio": 0.0}

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
    "v2": {"divergence_ratio": 0.0, "max_fantasized": 3, "incumbent": "posterior_mean",
           "cat_lengthscale_prior": 1, "min_pending_distance": 1e-3},
    # v2 without the plug-in incumbent (why: README "Ablations")
    "v2b": {"divergence_ratio": 0.0, "max_fantasized": 3, "cat_lengthscale_prior": 1,
            "min_pending_distance": 1e-3},
    "v2b_wins": {"divergence_ratio": 0.0, "max_fantasized": 3, "cat_lengthscale_prior": 1,
                 "min_pending_distance": 1e-3, "winsorize": 1.5},
}

# Engine v3 candidates, each run against the v2 engine (then the default, divergence_ratio 0;
# benchmarks/README.md, "Engine v3"). div10 was adopted: it is the default now.
VARIANTS.update({
    "v2engine": {"divergence_ratio": 0.0},
    "d10": {"design_max": 10, "divergence_ratio": 0.0},
    "div10": {"divergence_ratio": 10.0},
    "cheap": {"n_restarts": 5, "n_sobol": 512, "divergence_ratio": 0.0},
    "v3b": {"design_max": 10, "divergence_ratio": 10.0, "n_restarts": 5, "n_sobol": 512},
})
