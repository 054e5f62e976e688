"""The GP surrogate: a GPyTorch exact GP fitted by MAP, and its closed-form posterior.

Notation: ``X: (n, d)`` in [0, 1]^d, ``z: (n,)`` standardized targets (to minimize), candidate
points ``Xc: (b, d)``. ``cat_cols`` lists the categorical columns; all others are continuous or
integer (cell-centre encoded, see ``space.py``) and share a Matern-5/2 ARD kernel.

Kernel: Matern-5/2 ARD (continuous/integer columns) x exponentiated Hamming (categorical
columns), unit signal variance because targets are standardized (as BoTorch does since 0.12).
Priors follow Hvarfner et al. 2024 ("Vanilla BO performs great at high dimensions"): lengthscales
LogNormal(sqrt(2) + log(d) / 2, sqrt(3)), so the prior lengthscale grows like sqrt(d) and high-d
spaces are not modelled as noise; noise LogNormal(-4, 1) with a floor (``noise_floor``).

The posterior is computed here from one Cholesky factor rather than through GPyTorch's
prediction caches, so that fantasies (``fantasies.py``) can reuse it for many target columns at
once and gradients flow to ``Xc``.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import gpytorch
import torch
from gpytorch.constraints import GreaterThan
from gpytorch.priors import LogNormalPrior
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NanError, NotPSDError
from linear_operator.utils.warnings import NumericalWarning

from raybo.kernels import CategoricalKernel, ConditionalMatern
from raybo.options import DEFAULT, EngineOptions

logger = logging.getLogger(__name__)

DTYPE = torch.float64
# Jitter tried when a Cholesky factorization fails: 1e-8, 1e-7, ... 1e-4 times the mean diagonal.
JITTER_START, JITTER_TRIES = 1e-8, 5


class FitError(RuntimeError):
    """No usable GP could be fitted; the caller falls back to a quasi-random point."""


class ExactGP(gpytorch.models.ExactGP):
    """Constant mean, Matern-5/2 ARD on numeric columns x overlap kernel on categorical ones;
    with ``tree`` (a conditional space, ``SearchSpace.tree``) their conditional versions from
    ``kernels.py``, which treat inactive parameters as absent."""

    def __init__(self, X: torch.Tensor, z: torch.Tensor, cat_cols: list[int],
                 opts: EngineOptions = DEFAULT,
                 tree: list[tuple[int, int, int, int]] | None = None):
        likelihood = gpytorch.likelihoods.GaussianLikelihood(
            noise_prior=LogNormalPrior(-4.0, 1.0),
            noise_constraint=GreaterThan(opts.noise_floor,
                                         initial_value=max(math.exp(-5.0), 2 * opts.noise_floor)),
        )
        super().__init__(X, z, likelihood)
        d = X.shape[-1]
        cont_cols = [j for j in range(d) if j not in cat_cols]
        if opts.lengthscale_prior == "dim_scaled":
            ls_prior = LogNormalPrior(math.sqrt(2) + 0.5 * math.log(d), math.sqrt(3))
            ls_init = math.exp(ls_prior.loc.item() - ls_prior.scale.item() ** 2)  # its mode
        else:  # "bowl": added in _optimize_mll, see _bowl_log_prior
            ls_prior, ls_init = None, 1.0
        self.bowl = opts.lengthscale_prior == "bowl"
        kernels = []
        if cont_cols:
            ls_kwargs = dict(ard_num_dims=len(cont_cols), lengthscale_prior=ls_prior,
                             lengthscale_constraint=GreaterThan(opts.lengthscale_floor,
                                                                initial_value=ls_init))
            kernels.append(
                ConditionalMatern(cont_cols, tree, **ls_kwargs) if tree else
                gpytorch.kernels.MaternKernel(nu=2.5, active_dims=cont_cols, **ls_kwargs))
        if cat_cols:
            # Without a prior the categorical lengthscale's MAP swings between 0.06 (categories
            # unrelated) and 1e7 (the parameter ignored) from one fit to the next on 15-35
            # points (benchmarks' mixed problem), and a run commits to a category early.
            cat_prior = LogNormalPrior(0.0, 1.0) if opts.cat_lengthscale_prior else None
            cat_kwargs = dict(ard_num_dims=len(cat_cols), lengthscale_prior=cat_prior,
                              lengthscale_constraint=GreaterThan(1e-2, initial_value=1.0))
            kernels.append(CategoricalKernel(cols=cat_cols, tree=tree, **cat_kwargs) if tree
                           else CategoricalKernel(active_dims=cat_cols, **cat_kwargs))
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = kernels[0] if len(kernels) == 1 else gpytorch.kernels.ProductKernel(
            *kernels)
        self.to(DTYPE)

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass
class Posterior:
    """Closed-form GP posterior for ``m`` target columns sharing one input set.

    ``X: (n, d)``, ``L: (n, n)`` lower Cholesky factor of K + noise I, ``alpha: (n, m)`` =
    (K + noise I)^-1 (Y - c), ``best: (m,)`` incumbent (lowest target) per column.
    """

    model: ExactGP
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


def build_posterior(model: ExactGP, X: torch.Tensor, Y: torch.Tensor, plugin: bool = False
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
           opts: EngineOptions = DEFAULT,
           tree: list[tuple[int, int, int, int]] | None = None,
           model_cls: type[ExactGP] | None = None) -> ExactGP:
    """MAP fit of the GP hyperparameters with L-BFGS.

    Fallback chain (each step logged): optimize from ``warm_state`` (a previous fit's
    ``state_dict``) -> optimize from the prior defaults -> keep the previous hyperparameters
    unoptimized -> keep the defaults; raises ``FitError`` only if even that is unusable.
    With ``optimize=False`` the warm state is used as it is (see ``EngineOptions.refit_growth``).
    ``tree``: a conditional space's structure (``SearchSpace.tree``), see ``ExactGP``.
    ``model_cls``: a subclass of ``ExactGP`` with the same constructor (e.g. ``fidelity.py``'s
    GP over (x, resource)), fitted through the same chain.
    """
    if not (torch.isfinite(X).all() and torch.isfinite(z).all()):
        raise FitError("GP inputs or targets are not finite")
    starts = [warm_state, None] if warm_state is not None else [None]
    attempts = [(s, True) for s in starts] + [(s, False) for s in starts]
    if not optimize and warm_state is not None:
        attempts.insert(0, (warm_state, False))
    last_error: Exception | None = None
    for state, optimize in attempts:
        model = (model_cls or ExactGP)(X, z, cat_cols, opts, tree)
        if state is not None:
            try:
                model.load_state_dict(state)
            except (RuntimeError, KeyError) as err:  # e.g. columns changed: start from defaults
                last_error = err
                logger.warning("GP warm start unusable (%s); using the prior defaults", err)
                continue
        try:
            if optimize:
                _optimize_mll(model, opts.warm_max_iter if state is not None else opts.fit_max_iter)
        except (NotPSDError, NanError, torch.linalg.LinAlgError, ValueError) as err:
            last_error = err
            logger.warning("GP fit failed (%s); trying the next fallback", err)
            continue
        if all(torch.isfinite(p).all() for p in model.parameters()):
            model.eval()
            return model
        last_error = ValueError("non-finite hyperparameters")
    raise FitError(f"GP fit failed: {last_error}")


def _optimize_mll(model: ExactGP, max_iter: int) -> None:
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
        if model.bowl:  # the MLL is per data point: so is the prior added to it
            loss = loss - _bowl_log_prior(model) / len(z)
        if not torch.isfinite(loss):
            raise ValueError("non-finite marginal likelihood")
        loss.backward()
        return loss

    opt.step(closure)


def _bowl_log_prior(model: ExactGP) -> torch.Tensor:
    """log p(l) = -0.1 (l^2 + l^-2) per Matern lengthscale, Optuna's GPSampler prior written in
    lengthscales (its -0.1 (rho + 1/rho) on rho = l^-2): flat-ish for l in [0.3, 3] of the unit
    cube, steep outside, so a dimension the data near one basin ignores is not declared
    irrelevant everywhere (Hartmann6: lengthscales of 10-24 on x2/x4 kept 6 of 10 seeds in the
    local minimum)."""
    total = torch.zeros((), dtype=DTYPE)
    for k in _matern_kernels(model.covar_module):
        ls = k.lengthscale
        total = total - 0.1 * (ls.pow(2) + ls.pow(-2)).sum()
    return total


def _matern_kernels(kernel: gpytorch.kernels.Kernel) -> list[gpytorch.kernels.Kernel]:
    if isinstance(kernel, (gpytorch.kernels.MaternKernel, ConditionalMatern)):
        return [kernel]
    return [k for sub in getattr(kernel, "kernels", []) for k in _matern_kernels(sub)]


def loo_predictions(post: Posterior) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out mean and predictive variance ``(n,)`` for the first target column, in closed
    form (Rasmussen & Williams 2006, eq. 5.12): mu_i = y_i - a_i / [K^-1]_ii, var_i = 1 / [K^-1]_ii.
    """
    n = len(post.X)
    Kinv = torch.cholesky_solve(torch.eye(n, dtype=DTYPE), post.L)
    d = Kinv.diagonal()
    y = post.Y[:, 0]
    return y - post.alpha[:, 0] / d, 1.0 / d
