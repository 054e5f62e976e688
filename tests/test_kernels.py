"""Conditional kernels: positive definite, inactive parameters carry no value, flat spaces
unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from drive import drive
from ray import tune

from raybo import GPSearch
from raybo.kernels import CategoricalKernel, ConditionalMatern, active_mask
from raybo.space import SearchSpace
from raybo.surrogate import DTYPE

SPACE = {
    "lr": tune.loguniform(1e-4, 1e-1),
    "opt": tune.choice([
        {"name": "sgd", "momentum": tune.uniform(0.0, 0.99),
         "nesterov": tune.choice([True, False])},
        {"name": "adam", "beta": tune.uniform(0.8, 0.99)},
    ]),
}


def _kernels(space: SearchSpace):
    cat = [j for j, k in enumerate(space.kinds) if k == "cat"]
    num = [j for j in range(space.dim) if j not in cat]
    return (ConditionalMatern(num, space.structure, ard_num_dims=len(num)).to(DTYPE),
            CategoricalKernel(cols=cat, structure=space.structure, ard_num_dims=len(cat)).to(DTYPE))


def _points(space: SearchSpace, n: int, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(space.snap(np.random.default_rng(seed).random((n, space.dim))),
                           dtype=DTYPE)


def test_active_mask_matches_the_space():
    space = SearchSpace(SPACE)
    X = _points(space, 200)
    assert (active_mask(X, space.structure).numpy() == space.active(X.numpy())).all()


def test_conditional_kernels_are_positive_definite():
    space = SearchSpace(SPACE)
    X = _points(space, 120)
    matern, cat = _kernels(space)
    with torch.no_grad():
        K = matern(X).to_dense() * cat(X).to_dense()
    assert torch.linalg.eigvalsh(K).min() > -1e-8
    assert torch.allclose(K.diagonal(), torch.ones(len(X), dtype=DTYPE))


def test_an_inactive_parameter_is_equally_far_from_every_active_value():
    """The oracle: moving an active parameter of one point changes its covariance with a point
    where that parameter is absent not at all (a fixed 0.5 would pretend to a value)."""
    space = SearchSpace(SPACE)
    names = [p.name for p in space.params]
    j = names.index("opt/momentum")
    sgd = space.encode({"lr": 0.01, "opt": {"name": "sgd", "momentum": 0.1, "nesterov": True}})
    adam = space.encode({"lr": 0.01, "opt": {"name": "adam", "beta": 0.9}})
    matern, _ = _kernels(space)
    values = []
    for m in (0.0, 0.3, 0.7, 0.99):
        x = sgd.copy()
        x[j] = m / 0.99
        with torch.no_grad():
            values.append(float(matern(torch.as_tensor([x]), torch.as_tensor([adam])).to_dense()))
    assert np.ptp(values) < 1e-12
    with torch.no_grad():  # but between two sgd points it does matter
        a = torch.as_tensor([sgd])
        b = a.clone()
        b[0, j] = 0.9
        assert float(matern(a, b).to_dense()) < 0.99


def test_flat_space_keeps_the_plain_kernel():
    space = SearchSpace({"x": tune.uniform(0, 1), "c": tune.choice(["a", "b"])})
    assert not space.conditional and space.structure is None


@pytest.mark.parametrize("seed", [0, 1])
def test_gp_suggestions_in_a_conditional_space_are_resolved_and_new(seed):
    def f(c):
        o = c["opt"]
        if o["name"] == "sgd":
            return (np.log10(c["lr"]) + 2) ** 2 + (o["momentum"] - 0.9) ** 2 + 0.1 * o["nesterov"]
        return 0.5 + (np.log10(c["lr"]) + 3) ** 2 + (o["beta"] - 0.9) ** 2

    searcher = GPSearch(SPACE, metric="loss", mode="min", seed=seed, n_initial=6)
    seen = []

    def check(trial_id: str, config: dict) -> None:
        assert set(config["opt"]) in ({"name", "momentum", "nesterov"}, {"name", "beta"})
        seen.append(repr(config))

    drive(searcher, 20, f, on_suggest=check)
    assert len(set(seen)) == len(seen)
    origins = searcher.trial_origins()
    assert list(origins.values()).count("gp") >= 12  # the GP proposes, no fallback repeats


def test_factory_parts_compose_into_one_gp_class():
    """The plain and the learning-curve GP are the same class with another covar_module; the
    bowl prior finds every Matern lengthscale inside whatever kernel it is given."""
    from raybo.fidelity import LearningCurveKernel, curve_kernel, curve_parts
    from raybo.kernels import bowl_log_prior, config_kernel
    from raybo.options import EngineOptions
    from raybo.surrogate import RayboGP, fit, plain_parts

    opts = EngineOptions(lengthscale_prior="bowl")
    assert plain_parts(2, [], opts).log_prior is bowl_log_prior
    assert plain_parts(2, []).log_prior is None  # the default prior is a registered one
    k = config_kernel(2, [], opts).to(DTYPE)
    lc = curve_kernel(2, [], opts).to(DTYPE)
    assert isinstance(lc, LearningCurveKernel)
    # l = 1 at initialization: -0.1 (1 + 1) per lengthscale, 2 of them, twice in the curve kernel
    assert float(bowl_log_prior(k)) == pytest.approx(-0.4)
    assert float(bowl_log_prior(lc)) == pytest.approx(-0.8)
    rng = np.random.default_rng(0)
    Z = torch.as_tensor(rng.random((10, 3)), dtype=DTYPE)
    model = fit(Z, torch.as_tensor(rng.standard_normal(10)), curve_parts(2, [], opts), opts=opts)
    assert type(model) is RayboGP and isinstance(model.covar_module, LearningCurveKernel)
