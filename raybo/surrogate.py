"""The GP surrogate: a GPyTorch exact GP composed from injected parts, fitted by MAP, and its
closed-form posterior.

Notation: ``X: (n, q)`` training rows in [0, 1]^q (``q = d`` configurations, or ``d + 1`` with a
resource column, see ``fidelity.py``), ``z: (n,)`` standardized targets (to minimize), candidate
points ``Xc: (b, q)``. ``cat_cols`` lists the categorical columns.

A ``RayboGP`` is a constant mean plus whatever kernel and likelihood it is given (as BoTorch's
``SingleTaskGP(covar_module=..., likelihood=...)``): ``GPParts`` says how to build them (fresh for
every attempt of the fit's fallback chain), and ``kernels.py`` is the factory of the parts. The
plain GP's parts are ``plain_parts``; the learning-curve GP's are ``fidelity.curve_parts``.

The posterior is computed here from one Cholesky factor rather than through GPyTorch's
prediction caches, so that fantasies (``fantasies.py``) can reuse it for many target columns at
once and gradients flow to ``Xc``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gpytorch
import torch
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NanError, NotPSDError
from linear_operator.utils.warnings import NumericalWarning

from raybo.kernels import bowl_log_prior, config_kernel, gaussian_likelihood
from raybo.options import DEFAULT, EngineOptions

if TYPE_CHECKING:
    from raybo.space import ConditionalStructure

logger = logging.getLogger(__name__)

DTYPE = torch.float64
# Jitter tried when a Cholesky factorization fails: 1e-8, 1e-7, ... 1e-4 times the mean diagonal.
JITTER_START, JITTER_TRIES = 1e-8, 5


class FitError(RuntimeError):
    """No usable GP could be fitted; the caller falls back to a quasi-random point."""


@dataclass(frozen=True)
class GPParts:
    """What a GP is built from. ``kernel()`` and ``likelihood()`` return fresh modules (one per
    fit attempt); ``log_prior(kernel)``, if given, is a log prior on the kernel's
    hyperparameters added to the marginal likelihood in the fit, beyond GPyTorch's registered
    priors."""

    kernel: Callable[[], gpytorch.kernels.Kernel]
    likelihood: Callable[[], gpytorch.likelihoods.Likelihood]
    log_prior: Callable[[gpytorch.kernels.Kernel], torch.Tensor] | None = None


def plain_parts(d: int, cat_cols: list[int], opts: EngineOptions = DEFAULT,
                structure: ConditionalStructure | None = None) -> GPParts:
    """The plain GP over configurations ``x: (d,)``: ``kernels.config_kernel`` (conditional with
    ``structure``), Gaussian noise, and the bowl prior when ``opts.lengthscale_prior`` asks."""
    return GPParts(kernel=lambda: config_kernel(d, cat_cols, opts, structure),
                   likelihood=lambda: gaussian_likelihood(opts),
                   log_prior=bowl_log_prior if opts.lengthscale_prior == "bowl" else None)


class RayboGP(gpytorch.models.ExactGP):
    """Constant mean, the given ``covar_module`` and ``likelihood``; float64."""

    def __init__(self, X: torch.Tensor, z: torch.Tensor,
                 covar_module: gpytorch.kernels.Kernel,
                 likelihood: gpytorch.likelihoods.Likelihood):
        super().__init__(X, z, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = covar_module
        self.to(DTYPE)

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass
class Posterior:
    """Closed-form GP posterior for ``m`` target columns sharing one input set.

    ``X: (n, d)``, ``L: (n, n)`` lower Cholesky factor of K + noise I, ``alpha: (n, m)`` =
    (K + noise I)^-1 (Y - c), ``best: (m,)`` incumbent (lowest target) per column.
    """

    model: RayboGP
    X: torch.Tensor
    Y: torch.Tensor
    L: torch.Tensor
    alpha: torch.Tensor
    best: torch.Tensor
    plugin: bool = False  # best is the lowest posterior mean, not the lowest target

    @property
    def noise(self) -> float:
        return float(self.model.likelihood.noise.item())

    @property
    def constant(self) -> float:
        return float(self.model.mean_module.constant.item())

    def kernel(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        with gpytorch.settings.lazily_evaluate_kernels(False):
            return self.model.covar_module(A, B).to_dense()

    def predict(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(m, b)`` and latent variance ``(b,)`` at ``Xc: (b, d)``; differentiable in Xc."""
        Kc = self.kernel(Xc, self.X)  # (b, n)
        mean = self.constant + (Kc @ self.alpha).T
        v = torch.linalg.solve_triangular(self.L, Kc.T, upper=False)  # (n, b)
        var = (1.0 - (v * v).sum(0)).clamp_min(1e-12)  # prior variance is 1 (no outputscale)
        return mean, var


def build_posterior(model: RayboGP, X: torch.Tensor, Y: torch.Tensor, plugin: bool = False
                    ) -> Posterior:
    """Factorize K + noise I for inputs ``X: (n, d)`` and targets ``Y: (n, m)``.

    The incumbent ``best`` is the lowest target per column, or with ``plugin`` the lowest
    posterior mean at the training inputs ("plug-in" EI, Picheny et al. 2013): with real noise
    the lowest observation is a lucky draw, and improving on it is mostly improving on noise.
    The posterior mean there is Y - noise * alpha, since (K + noise I) alpha = Y - c.
    """
    with torch.no_grad():
        K = model.covar_module(X).to_dense()
    noise = float(model.likelihood.noise.item())
    L = cholesky(K + noise * torch.eye(len(X), dtype=DTYPE))
    c = float(model.mean_module.constant.item())
    alpha = torch.cholesky_solve(Y - c, L)
    best = (Y - noise * alpha if plugin else Y).min(0).values
    return Posterior(model, X, Y, L, alpha, best, plugin)


def cholesky(A: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor of the symmetric ``A: (n, n)``; if it is only numerically PSD,
    linear_operator's ``psd_safe_cholesky`` adds jitter of 1e-8 up to 1e-4 times the mean
    diagonal (so the ladder is relative to the kernel's scale). Raises ``FitError`` past it."""
    scale = float(A.diagonal().mean()) if A.numel() else 1.0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NumericalWarning)
            L = psd_safe_cholesky(A, jitter=JITTER_START * scale, max_tries=JITTER_TRIES)
    except NotPSDError as err:
        raise FitError("kernel matrix is not positive definite even with jitter") from err
    if caught:
        logger.warning("GP covariance was not positive definite; %s", caught[-1].message)
    return L


def fit_gp(X: torch.Tensor, z: torch.Tensor, cat_cols: list[int],
           warm_state: dict[str, torch.Tensor] | None = None, optimize: bool = True,
           opts: EngineOptions = DEFAULT, structure: ConditionalStructure | None = None
           ) -> RayboGP:
    """The plain GP (``plain_parts``) fitted by ``fit``."""
    return fit(X, z, plain_parts(X.shape[-1], cat_cols, opts, structure), warm_state, optimize,
               opts)


def fit(X: torch.Tensor, z: torch.Tensor, parts: GPParts,
        warm_state: dict[str, torch.Tensor] | None = None, optimize: bool = True,
        opts: EngineOptions = DEFAULT) -> RayboGP:
    """MAP fit of the hyperparameters of a ``RayboGP`` built from ``parts``, with L-BFGS.

    Fallback chain (each step logged): optimize from ``warm_state`` (a previous fit's
    ``state_dict``) -> optimize from the prior defaults -> keep the previous hyperparameters
    unoptimized -> keep the defaults; raises ``FitError`` only if even that is unusable.
    With ``optimize=False`` the warm state is used as it is (see ``EngineOptions.refit_growth``).
    """
    if not (torch.isfinite(X).all() and torch.isfinite(z).all()):
        raise FitError("GP inputs or targets are not finite")
    starts = [warm_state, None] if warm_state is not None else [None]
    attempts = [(s, True) for s in starts] + [(s, False) for s in starts]
    if not optimize and warm_state is not None:
        attempts.insert(0, (warm_state, False))
    last_error: Exception | None = None
    for state, optimize in attempts:
        model = RayboGP(X, z, parts.kernel(), parts.likelihood())
        if state is not None:
            try:
                model.load_state_dict(state)
            except (RuntimeError, KeyError) as err:  # e.g. columns changed: start from defaults
                last_error = err
                logger.warning("GP warm start unusable (%s); using the prior defaults", err)
                continue
        try:
            if optimize:
                _optimize_mll(model, opts.warm_max_iter if state is not None else opts.fit_max_iter,
                              parts.log_prior)
        except (NotPSDError, NanError, torch.linalg.LinAlgError, ValueError) as err:
            last_error = err
            logger.warning("GP fit failed (%s); trying the next fallback", err)
            continue
        if all(torch.isfinite(p).all() for p in model.parameters()):
            model.eval()
            return model
        last_error = ValueError("non-finite hyperparameters")
    raise FitError(f"GP fit failed: {last_error}")


def _optimize_mll(model: RayboGP, max_iter: int,
                  log_prior: Callable[[gpytorch.kernels.Kernel], torch.Tensor] | None) -> None:
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9)
    X, z = model.train_inputs[0], model.train_targets

    def closure() -> torch.Tensor:
        opt.zero_grad()
        with gpytorch.settings.max_cholesky_size(10_000):
            loss = -mll(model(X), z)
        if log_prior is not None:  # the MLL is per data point: so is the prior added to it
            loss = loss - log_prior(model.covar_module) / len(z)
        if not torch.isfinite(loss):
            raise ValueError("non-finite marginal likelihood")
        loss.backward()
        return loss

    opt.step(closure)


def loo_predictions(post: Posterior) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out mean and predictive variance ``(n,)`` for the first target column, in closed
    form (Rasmussen & Williams 2006, eq. 5.12): mu_i = y_i - a_i / [K^-1]_ii, var_i = 1 / [K^-1]_ii.
    """
    n = len(post.X)
    Kinv = torch.cholesky_solve(torch.eye(n, dtype=DTYPE), post.L)
    d = Kinv.diagonal()
    y = post.Y[:, 0]
    return y - post.alpha[:, 0] / d, 1.0 / d
