"""Writes ``no_scheduler_run.json``: the configs GPSearch suggested, before it read intermediate
results (issue 14), in a run without a scheduler whose trials report every epoch.

Run once with raybo at commit 7e8fb3a on the path, e.g. ``git archive 7e8fb3a raybo | tar -x -C
/tmp/old && PYTHONPATH=/tmp/old python tests/data/make_no_scheduler_run.py
tests/data/no_scheduler_run.json``. ``tests/test_fidelity_searcher.py`` checks that today's
GPSearch (reading every report) suggests exactly the same configs: without a scheduler every
trial reaches the last epoch, and the multi-fidelity model never starts.
"""

import json
import sys

from ray import tune

EPOCHS = 5
SPACE = {"x": tune.uniform(0.0, 1.0), "lr": tune.loguniform(1e-4, 1e-1),
         "layers": tune.randint(1, 4), "opt": tune.choice(["adam", "sgd"])}
N_TRIALS, WORKERS = 12, 3


def loss(c, t):
    """After ``t`` of ``EPOCHS`` epochs: configurations near x = 0.3 finish best, slowly."""
    final = (c["x"] - 0.3) ** 2 + 0.1 * c["layers"] + 0.2 * (c["opt"] == "sgd")
    return final + (0.2 + c["x"]) / t


def run(searcher):
    """Tune's calls without a scheduler, ``WORKERS`` trials at a time: ``on_trial_result`` for
    every epoch but the last, which comes with ``on_trial_complete``."""
    configs, running, i = [], [], 0
    while i < N_TRIALS or running:
        while i < N_TRIALS and len(running) < WORKERS:
            config = searcher.suggest(f"t{i}")
            configs.append(config)
            running.append((f"t{i}", config))
            i += 1
        tid, config = running.pop(0)
        for t in range(1, EPOCHS):
            searcher.on_trial_result(tid, {"loss": loss(config, t), "training_iteration": t})
        searcher.on_trial_complete(tid, {"loss": loss(config, EPOCHS),
                                         "training_iteration": EPOCHS})
    return configs


if __name__ == "__main__":
    from raybo import GPSearch

    configs = run(GPSearch(SPACE, "loss", "min", seed=3, n_initial=4))
    with open(sys.argv[1], "w") as f:
        json.dump(configs, f, indent=1)
