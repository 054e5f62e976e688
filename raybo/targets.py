"""Metric values -> GP targets: one sign flip, failure imputation, robust warping, standardization.

Inside raybo everything is minimized: ``mode="max"`` flips the sign once, here. Validation losses
often span orders of magnitude, and a GP that only standardizes them spends its capacity on the
worst trials; a Yeo-Johnson power transform (as in HEBO, Cowen-Rivers et al. 2022), fitted by
maximum likelihood on the standardized values, compresses the bad tail while keeping the order.

Failed trials (error, NaN/inf, metric missing) get the worst transformed value seen: that keeps
the GP finite and steers the search away from regions that crash, without inventing a value
beyond the observed range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_STD = 1e-12  # spread below this fraction of max |y| is round-off: values treated as constant
LAMBDA_BOUNDS = (-2.0, 3.0)  # keeps the power transform invertible and tame on tiny samples


def to_minimize(y: np.ndarray, mode: str) -> np.ndarray:
    """Raw metric values -> values to minimize."""
    return -np.asarray(y, dtype=float) if mode == "max" else np.asarray(y, dtype=float)


@dataclass(frozen=True)
class OutputTransform:
    """z = (YJ_lambda((y - mu) / sigma) - m) / s, fitted on the values to minimize ``y: (n,)``."""

    mu: float
    sigma: float
    lam: float | None  # None: no power transform (too few points or constant values)
    m: float
    s: float

    @classmethod
    def fit(cls, y: np.ndarray, warp: bool = True) -> OutputTransform:
        """Standardize ``y: (n,)``, then (``warp``) a Yeo-Johnson transform fitted by ML."""
        y = np.asarray(y, dtype=float)
        if y.size == 0:
            return cls(0.0, 1.0, None, 0.0, 1.0)
        # Relative to the largest magnitude, so that metrics of size 1e-12 keep their signal and
        # sums of values near the float64 maximum do not overflow.
        scale = float(np.abs(y).max())
        mu, sigma = (float(y.mean()), 0.0) if scale == 0 else (
            float((y / scale).mean()) * scale, float((y / scale).std()) * scale)
        constant = sigma <= MIN_STD * scale
        if y.size < 3 or constant or not warp:
            return cls(mu, 1.0 if constant else sigma, None, 0.0, 1.0)
        u = _standardize(y, mu, sigma)
        lam = float(np.clip(stats.yeojohnson_normmax(u), *LAMBDA_BOUNDS))
        w = stats.yeojohnson(u, lmbda=lam)
        s = float(w.std())
        if not np.isfinite(s) or s < MIN_STD:
            return cls(mu, sigma, None, 0.0, 1.0)
        return cls(mu, sigma, lam, float(w.mean()), s)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        u = _standardize(np.asarray(y, dtype=float), self.mu, self.sigma)
        if self.lam is None:
            return u
        return (stats.yeojohnson(u, lmbda=self.lam) - self.m) / self.s

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        u = z if self.lam is None else _yeojohnson_inverse(z * self.s + self.m, self.lam)
        return u * self.sigma + self.mu


def _standardize(y: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """(y - mu) / sigma, with both halved first (exact in binary) so that values of opposite sign
    near the float64 maximum do not overflow in the difference."""
    return (0.5 * y - 0.5 * mu) / (0.5 * sigma)


def _yeojohnson_inverse(w: np.ndarray, lam: float) -> np.ndarray:
    """Inverse of ``scipy.stats.yeojohnson`` (scipy has none); clipped to the transform's range."""
    out = np.empty_like(w)
    pos = w >= 0
    if abs(lam) < 1e-12:
        out[pos] = np.expm1(w[pos])
    else:
        out[pos] = np.power(np.maximum(w[pos] * lam + 1, 1e-300), 1 / lam) - 1
    if abs(lam - 2) < 1e-12:
        out[~pos] = -np.expm1(-w[~pos])
    else:
        out[~pos] = 1 - np.power(np.maximum(1 - (2 - lam) * w[~pos], 1e-300), 1 / (2 - lam))
    return out


def winsorize(y_min: np.ndarray, k: float) -> np.ndarray:
    """Clip the bad (upper) tail of ``y_min: (n,)`` at Q3 + k * IQR (Tukey's fence; Ax
    winsorizes its outcomes the same way before modelling). A diverged run's loss of 1e4 then
    weighs like a merely bad one, and the GP spends its variance on telling good configurations
    apart. ``k = 0`` or fewer than 4 values: unchanged."""
    if k <= 0 or y_min.size < 4:
        return y_min
    q1, q3 = np.percentile(y_min, [25, 75])
    return np.minimum(y_min, q3 + k * (q3 - q1)) if q3 > q1 else y_min


MIN_VALID_BELOW_GAP = 3  # values a divergence gap must have below it


def divergent(y_min: np.ndarray, ratio: float) -> np.ndarray:
    """Mask ``(n,)`` of values that look like divergent runs, not signal: sorted ascending, the
    first gap ``v[i] - v[i-1]`` (``i >= 3``) larger than ``ratio`` times the spread below it
    ``v[i-1] - v[0]`` marks ``v[i:]``. A diverged SGD run's log-loss of 15 above good ones of
    0.7-1.1, or a loss of 1e6 above 0.1-3, is cut off; a smooth heavy tail is not (each value
    is within a few spreads of those below). ``ratio <= 0``: nothing is marked."""
    y_min = np.asarray(y_min, dtype=float)
    mask = np.zeros(y_min.shape, dtype=bool)
    if ratio <= 0 or y_min.size <= MIN_VALID_BELOW_GAP:
        return mask
    order = np.argsort(y_min, kind="stable")
    scale = float(np.abs(y_min).max())
    # relative to the largest magnitude: differences of values near the float64 maximum
    # would overflow, and the rule is scale-free
    v = y_min[order] / (scale if scale > 0 else 1.0)
    floor = 1e-3 * (v[-1] - v[0]) + 1e-300
    for i in range(MIN_VALID_BELOW_GAP, len(v)):
        if v[i] - v[i - 1] > ratio * max(v[i - 1] - v[0], floor):
            mask[order[i:]] = True
            break
    return mask


def gp_targets(y_min: np.ndarray, n_failed: int, warp: bool = True, winsor: float = 0.0,
               divergence: float = 0.0) -> tuple[np.ndarray, OutputTransform]:
    """Finite values to minimize ``y_min: (n,)`` plus ``n_failed`` failures -> GP targets
    ``(n + n_failed,)`` (observed first) and the transform used. With ``winsor`` > 0 the bad
    tail is clipped first (``winsorize``), so failures sit at the clipped worst value. With
    ``divergence`` > 0, values ``divergent`` marks are modelled as failures: the transform is
    fitted on the rest, and they take its worst target."""
    y_min = winsorize(np.asarray(y_min, dtype=float), winsor)
    bad = divergent(y_min, divergence)  # modelled as failures: fitted on the rest
    tf = OutputTransform.fit(y_min[~bad], warp)
    z = np.empty_like(y_min)
    z[~bad] = tf(y_min[~bad])  # divergent values are not transformed: they could overflow
    worst = float(z[~bad].max()) if z.size else 0.0
    z[bad] = worst
    return np.concatenate([z, np.full(n_failed, worst)]), tf
