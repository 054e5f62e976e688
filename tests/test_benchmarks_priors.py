"""The prior and warm-start benchmark's problems (benchmarks/priors.py): optima, believed
configurations and the related tasks are what its README section says."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.priors import (
    OPTIMA,
    PROBLEM_NAMES,
    RELATED_SHIFT,
    evals_to,
    prior_config,
    related,
    space_of,
)
from benchmarks.problems import PROBLEMS


@pytest.mark.parametrize("name", PROBLEM_NAMES)
def test_optima_beliefs_and_related_tasks(name):
    problem = PROBLEMS[name]()
    assert problem.regret(problem(OPTIMA[name])) < 1e-9
    space = space_of(problem)
    x_star = space.encode(OPTIMA[name])
    for seed in range(3):
        regrets = [problem.regret(problem(prior_config(name, kind, seed)))
                   for kind in ("good", "medium", "misleading")]
        assert regrets[0] < regrets[2] and regrets[1] < regrets[2]
        good = space.encode(prior_config(name, "good", seed))
        cont = [j for j, p in enumerate(space.params) if p.kind == "float"]
        assert np.allclose(np.abs(good - x_star)[cont], 0.05)
    task = related(name)
    cont = np.array([p.kind != "cat" for p in space.params])
    moved = space.decode(space.snap(np.where(cont, x_star + RELATED_SHIFT, x_star)[None])[0])
    assert task.regret(task(moved)) < 1e-9 and task.regret(task(OPTIMA[name])) > 0.1


def test_evals_to_reads_the_median_curve():
    runs = [{"best_regret": [5, 3, 1, 1]}, {"best_regret": [4, 4, 2, 0]},
            {"best_regret": [9, 2, 2, 2]}]
    assert evals_to(runs, 2) == 3 and evals_to(runs, 0.5) == float("inf")
