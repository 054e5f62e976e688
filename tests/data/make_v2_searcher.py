"""Writes ``v2_searcher.pkl``: a GPSearch as raybo saved it at state version 2, mid-run with a
scheduler (before GPSearch read intermediate results).

Run once with raybo at commit ff8fef5 (state version 2) on the path, e.g.
``git archive ff8fef5 raybo | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python
tests/data/make_v2_searcher.py tests/data/v2_searcher.pkl``. The file holds the pickled searcher
object (as a Tuner's ``tuner.pkl`` holds it), its ``get_state()`` (as ``searcher-state-*.pkl``
holds it) and the configs that version suggested when the run continued after restoring that
state with ``continue_run`` (trials stopped early by a scheduler, their intermediate results
passed to ``on_trial_result``), so that ``tests/test_searcher.py`` can check the current version
continues the same way.
"""

import pickle
import sys

from ray import tune

SPACE = {"u": tune.uniform(-1, 1), "lr": tune.loguniform(1e-4, 1e-1), "n": tune.randint(1, 5),
         "opt": {"name": tune.choice(["adam", "sgd"]), "wd": tune.quniform(0, 0.1, 0.01)}}


def loss(c, t):
    """After ``t`` epochs (of 4): the final value plus a transient."""
    final = (c["u"] - 0.3) ** 2 + (c["n"] - 2) ** 2 + (c["opt"]["name"] == "sgd")
    return final + 1.0 / t


def run_trial(s, trial_id, stop_at):
    """Tune's calls for a trial that a scheduler stops at ``stop_at`` (4 = ran to the end)."""
    c = s.observations()[trial_id]["config"]
    for t in range(1, stop_at):
        s.on_trial_result(trial_id, {"loss": loss(c, t), "training_iteration": t})
    s.on_trial_complete(trial_id, {"loss": loss(c, stop_at), "training_iteration": stop_at})


def continue_run(s):
    """After the restore: the pending trial t5 stops at 3, new ones at 1 and 4 epochs."""
    run_trial(s, "t5", 3)
    out = []
    for i, stop in enumerate((1, 4, 1)):
        out.append(s.suggest(f"n{i}"))
        run_trial(s, f"n{i}", stop)
    out.append(s.suggest("n3"))
    return out


if __name__ == "__main__":
    from raybo import GPSearch

    s = GPSearch(SPACE, metric="loss", mode="min", seed=11, n_initial=3, max_concurrent=3)
    for i in range(6):
        s.suggest(f"t{i}")
        if i >= 1:
            run_trial(s, f"t{i - 1}", (4, 1, 2, 1, 4)[i - 1])
    state = s.get_state()  # t5 pending
    fresh = GPSearch()
    fresh.set_state(state)
    with open(sys.argv[1], "wb") as f:
        pickle.dump({"searcher": s, "state": state, "next": continue_run(fresh)}, f)
