"""Writes ``v1_searcher.pkl``: a GPSearch as raybo saved it before state version 2.

Run once with raybo at commit 090777d (state version 1) on the path, e.g.
``git archive 090777d raybo | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python
tests/data/make_v1_searcher.py tests/data/v1_searcher.pkl``. The file holds the pickled searcher
object (as a Tuner's ``tuner.pkl`` holds it), its ``get_state()`` (as ``searcher-state-*.pkl``
holds it) and the config that version suggested next after restoring that state, so that
``tests/test_searcher.py`` can check the current version continues the same way.
"""

import pickle
import sys

from ray import tune

from raybo import GPSearch

SPACE = {"u": tune.uniform(-1, 1), "lr": tune.loguniform(1e-4, 1e-1), "n": tune.randint(1, 5),
         "opt": {"name": tune.choice(["adam", "sgd"]), "wd": tune.quniform(0, 0.1, 0.01)},
         "const": [1, 2]}


def loss(c):
    return (c["u"] - 0.3) ** 2 + (c["n"] - 2) ** 2 + (c["opt"]["name"] == "sgd")


s = GPSearch(SPACE, metric="loss", mode="min", seed=11, n_initial=3, max_concurrent=3,
             points_to_evaluate=[{"u": 0.1}])
for i in range(6):
    s.suggest(f"t{i}")
    if i >= 1:
        s.on_trial_complete(f"t{i - 1}", {"loss": loss(s.observations()[f"t{i - 1}"]["config"])})
state = s.get_state()  # t5 pending
fresh = GPSearch()
fresh.set_state(state)
with open(sys.argv[1], "wb") as f:
    pickle.dump({"searcher": s, "state": state, "next": fresh.suggest("next")}, f)
