"""Which configs Tune's own sampling can produce from a space, written from Tune's definitions
(``ray.tune.search.sample`` and ``variant_generator``) and independent of ``raybo.space``.

``why_not(space, config)`` is None when ``config`` is fully resolved (no domain left anywhere),
every value lies in its domain, every dict has exactly the keys of its space (so a choice's
options that were not chosen leave nothing behind) and lists/tuples keep their length and type.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.search.sample import Categorical, Domain, Float, Integer, Quantized


def holds_domain(value: Any) -> bool:
    if isinstance(value, Domain):
        return True
    if isinstance(value, dict):
        return any(map(holds_domain, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(holds_domain, value))
    return False


def why_not(space: Any, value: Any, path: str = "config") -> str | None:
    if holds_domain(value):
        return f"{path}: unresolved domain in {value!r}"
    if isinstance(space, Categorical):
        reasons = [why_not(c, value, path) for c in space.categories]
        if any(r is None for r in reasons):
            return None
        return f"{path}: {value!r} fits no option of the choice ({reasons})"
    if isinstance(space, Float):
        return _float(space, value, path)
    if isinstance(space, Integer):
        return _integer(space, value, path)
    if isinstance(space, Domain):
        raise NotImplementedError(f"checker: {type(space).__name__} at {path}")
    if isinstance(space, dict) and (space or path == "config"):
        if not isinstance(value, dict) or set(value) != set(space):
            return f"{path}: {value!r} lacks or adds keys of {sorted(map(str, space))}"
        for key, sub in space.items():
            reason = why_not(sub, value[key], f"{path}/{key}")
            if reason:
                return reason
        return None
    if isinstance(space, (list, tuple)) and holds_domain(space):
        if type(value) is not type(space) or len(value) != len(space):
            return f"{path}: {value!r} is not a {type(space).__name__} of {len(space)} items"
        for i, (sub, v) in enumerate(zip(space, value)):
            reason = why_not(sub, v, f"{path}/{i}")
            if reason:
                return reason
        return None
    equal = value == space and type(value) is type(space)
    return None if equal else f"{path}: {value!r} is not the constant {space!r}"


def _q(domain: Domain) -> float | None:
    sampler = domain.get_sampler()
    return sampler.q if isinstance(sampler, Quantized) else None


def _float(domain: Float, value: Any, path: str) -> str | None:
    if not isinstance(value, float) or not math.isfinite(value):
        return f"{path}: {value!r} is not a finite float"
    q = _q(domain)
    tol = 0.0 if q is None else 1e-9 * max(abs(domain.lower), abs(domain.upper), 1e-300)
    if q is None and not domain.lower <= value < domain.upper:  # Tune samples [lower, upper)
        return f"{path}: {value} outside [{domain.lower}, {domain.upper})"
    if not domain.lower - tol <= value <= domain.upper + tol:
        return f"{path}: {value} outside [{domain.lower}, {domain.upper}]"
    if q is not None and abs(value / q - round(value / q)) > 1e-6:
        return f"{path}: {value} is not a multiple of {q}"
    return None


def _integer(domain: Integer, value: Any, path: str) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{path}: {value!r} is not an int"
    q = _q(domain) or 1
    upper_ok = value < domain.upper if q == 1 else value <= domain.upper  # Tune 2.x semantics
    if not (domain.lower <= value and upper_ok and value % q == 0):
        return f"{path}: {value} is not in [{domain.lower}, {domain.upper}) step {q}"
    return None
