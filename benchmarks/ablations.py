"""Engine variants for paired ablations: ``--searchers gp~NAME`` runs raybo with
``EngineOptions(**VARIANTS[NAME])``. Each arm changes one thing against the defaults; an arm is
adopted only on a paired comparison over all six problems x W in {4, 16} x 10 seeds that loses
on at most one (see benchmarks/README.md, "Ablations")."""

from __future__ import annotations

VARIANTS: dict[str, dict[str, object]] = {
    "base": {},
}
