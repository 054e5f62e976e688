"""Searchers with schedulers through real Ray Tune: best final-fidelity value vs epochs consumed.

Each *arm* (``ARMS``) is a searcher of ``benchmarks.registry`` with a scheduler:

| arm | searcher | scheduler |
|---|---|---|
| ``mfgp-asha`` | ``gp-mf``: GPSearch on every epoch (``resource_attr``) | ASHA |
| ``gp-asha`` | ``gp-lastvalue``: GPSearch, ``resource_attr=None`` (last value) | ASHA |
| ``gp`` | ``gp``: GPSearch (default) | none: every trial trains to the end |
| ``random-asha`` | ``random``: seeded sampling (``peers.RandomSearcher``) | ASHA |
| ``bohb`` | ``bohb``: ``TuneBOHB`` | ``HyperBandForBOHB`` |
| ``tpe-asha`` | ``optuna-tpe``: ``OptunaSearch(TPESampler)`` | ASHA |

ASHA and HyperBand use ``time_attr="training_iteration"`` (one report per epoch),
``max_t`` = the problem's epochs, grace period 1, reduction factor 3. Every run has 4 trials
running at once (``max_concurrent_trials=4``) and stops when the trials have reported
``--budget`` epochs in total (a ``tune.Stopper``), which also logs every report: wall seconds,
epochs so far, trial, iteration, metric, and, for trials that reached the last epoch, their
final value (noise-free on the curve problems; the last validation loss on the trainables).

Problems: ``benchmarks/curves.py`` (``branin_lc``, ``branin_mislead``, ``hartmann6_lc``: 27
epochs, per-epoch cost ~0) and the bundled trainables ``cnn``, ``gru``, ``transformer``
(``--epochs``, default 9, embedded data).

    python -m benchmarks.schedulers --problems branin_mislead --arms gp-asha,random-asha \
        --seeds 5 --budget 300 --out benchmarks/results/schedulers
    python -m benchmarks.schedulers --report-only --out benchmarks/results/schedulers

Runs: one line each in ``<out>/runs.jsonl.gz`` (``benchmarks.store``; runs already there are
skipped, so an interrupted run resumes); ``summary.md`` and ``anytime.png`` are rebuilt from
them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy/torch imports below

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.registry import (  # noqa: E402
    CURVE_PROBLEMS,
    TRAINABLE_PROBLEMS,
    get_curve,
    make_searcher,
)
from benchmarks.store import RunStore, load_records, record_key  # noqa: E402
from raybo.metric import as_float  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARMS = {  # name -> (searcher in benchmarks.registry, scheduler)
    "mfgp-asha": ("gp-mf", "asha"),
    "gp-asha": ("gp-lastvalue", "asha"),
    "gp": ("gp", None),
    "random-asha": ("random", "asha"),
    "bohb": ("bohb", "hyperband"),
    "tpe-asha": ("optuna-tpe", "asha"),
}
CONCURRENT = 4
REDUCTION_FACTOR = 3
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)  # budget fractions at which arms are compared with BOHB


# ----------------------------------------------------------------------------- trainables
def curve_trial(config: dict[str, Any], problem: str, seed: int) -> None:
    """Function trainable: one epoch of a curve problem per report (no sleep)."""
    from ray import tune

    P = get_curve(problem)
    u = P.unit(config)
    for t in range(1, P.t_max + 1):
        result = {"loss": P.value(u, t, seed), "epoch": t}
        if t == P.t_max:
            result["final"] = P.g(u)
        tune.report(result)


def _problem_setup(problem: str, seed: int, epochs: int) -> tuple[Any, dict, str, int]:
    """(trainable, param_space, metric, max_t) of a problem."""
    from ray import tune

    if problem in CURVE_PROBLEMS:
        P = get_curve(problem)
        return (tune.with_parameters(curve_trial, problem=problem, seed=seed), P.space, "loss",
                P.t_max)
    if problem in TRAINABLE_PROBLEMS:
        from trainables import default_space, get_trainable

        # The flat optimizer space for every arm: TuneBOHB and OptunaSearch cannot take the
        # default space's conditional momentum, and all arms must search the same space.
        space = default_space(problem, epochs=epochs, seed=seed, conditional=False)
        return get_trainable(problem), space, "val_loss", epochs
    raise ValueError(f"problem must be one of {CURVE_PROBLEMS + TRAINABLE_PROBLEMS}, "
                     f"got {problem!r}")


# ----------------------------------------------------------------------------- arms
def make_arm(arm: str, seed: int, max_t: int, metric: str):
    """(search_alg, scheduler) of an arm, seeded; Tune passes the space to the searcher."""
    from ray.tune.schedulers import ASHAScheduler, HyperBandForBOHB

    searcher, scheduler = ARMS[arm]
    alg = make_searcher(searcher, None, seed, CONCURRENT, set_space=False, metric=metric,
                        max_t=max_t)
    if scheduler == "asha":
        sched = ASHAScheduler(time_attr="training_iteration", max_t=max_t, grace_period=1,
                              reduction_factor=REDUCTION_FACTOR)
    elif scheduler == "hyperband":
        sched = HyperBandForBOHB(time_attr="training_iteration", max_t=max_t,
                                 reduction_factor=REDUCTION_FACTOR)
    else:
        sched = None
    return alg, sched


class EpochBudget:
    """A ``tune.Stopper`` that ends the experiment after ``budget`` reports in total and writes
    one JSON line per report to ``log`` (on disk: Tune may copy the stopper)."""

    def __init__(self, budget: int, log: str, metric: str, max_t: int):
        self.budget, self.log, self.metric, self.max_t = budget, log, metric, max_t
        self.n = 0
        self.t0 = time.perf_counter()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self.n += 1
        it = int(result.get("training_iteration", 0))
        value = result.get(self.metric)
        final = result.get("final", value) if it >= self.max_t else None
        with open(self.log, "a") as f:
            f.write(json.dumps({"wall": time.perf_counter() - self.t0, "epochs": self.n,
                                "trial": trial_id, "t": it, "value": as_float(value),
                                "final": as_float(final)}) + "\n")
        return False

    def stop_all(self) -> bool:
        return self.n >= self.budget


def run_one(problem: str, arm: str, seed: int, budget: int, epochs: int, store: RunStore
            ) -> dict:
    from ray import tune
    from ray.tune import Stopper

    trainable, space, metric, max_t = _problem_setup(problem, seed, epochs)
    alg, sched = make_arm(arm, seed, max_t, metric)
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "events.jsonl")
        budget_stop = EpochBudget(budget, log, metric, max_t)

        class _Stop(Stopper):  # Tune wants a Stopper subclass; EpochBudget stays plain
            def __call__(self, trial_id, result):
                return budget_stop(trial_id, result)

            def stop_all(self):
                return budget_stop.stop_all()

        t0 = time.perf_counter()
        analysis = tune.run(
            trainable, config=space, search_alg=alg, scheduler=sched, metric=metric, mode="min",
            num_samples=100_000, max_concurrent_trials=CONCURRENT, stop=_Stop(),
            storage_path=os.path.join(tmp, "ray"), verbose=0, resources_per_trial={"cpu": 1},
            reuse_actors=True, raise_on_failed_trial=False)
        wall = time.perf_counter() - t0
        events = [json.loads(line) for line in open(log)] if os.path.exists(log) else []
    record = {"problem": problem, "arm": arm, "seed": seed, "budget": budget, "max_t": max_t,
              "wall_s": wall, "n_trials": len(analysis.trials),
              "n_errored": sum(t.status == "ERROR" for t in analysis.trials), "events": events}
    store.append(record)
    return record


# ----------------------------------------------------------------------------- analysis
def anytime(record: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, wall, best final value so far) at every report that completed a trial."""
    best, rows = math.inf, []
    for e in record["events"]:
        if e["final"] is not None and e["final"] < best:
            best = e["final"]
            rows.append((e["epochs"], e["wall"], best))
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    a = np.array(rows)
    return a[:, 0], a[:, 1], a[:, 2]


def best_at(record: dict, epochs: float) -> float:
    ep, _, best = anytime(record)
    i = np.searchsorted(ep, epochs, side="right")
    return float(best[i - 1]) if i else math.inf


def epochs_to_reach(record: dict, value: float) -> float:
    ep, _, best = anytime(record)
    hit = np.flatnonzero(best <= value)
    return float(ep[hit[0]]) if hit.size else math.inf


def total_epochs(record: dict) -> int:
    return record["events"][-1]["epochs"] if record["events"] else 0


def load(out: Path) -> list[dict]:
    return load_records(out)


def summary(records: list[dict]) -> str:
    """Markdown tables: final best per arm, and the three targets for mfgp-asha (or, if it has
    not run, for every arm, so the baselines' own numbers show)."""
    by: dict[tuple[str, str], dict[int, dict]] = {}
    for r in records:
        by.setdefault((r["problem"], r["arm"]), {})[r["seed"]] = r
    problems = sorted({p for p, _ in by}, key=lambda p: (p not in CURVE_PROBLEMS, p))
    arms = [a for a in ARMS if any((p, a) in by for p in problems)]
    lines = ["# Schedulers: best final-fidelity value vs epochs (median over paired seeds)", "",
             "| problem | arm | seeds | best final (median) | wall s (median) | trials | "
             "epochs to random-asha's best / its epochs | to gp-asha's best / its epochs | "
             "ahead of bohb at 25/50/75/100% |", "|---|---|---|---|---|---|---|---|---|"]
    for p in problems:
        for a in arms:
            runs = by.get((p, a))
            if not runs:
                continue
            seeds = sorted(runs)
            finals = [best_at(runs[s], math.inf) for s in seeds]
            cells = [p, a, str(len(seeds)), f"{np.median(finals):.4g}",
                     f"{np.median([runs[s]['wall_s'] for s in seeds]):.0f}",
                     f"{np.median([runs[s]['n_trials'] for s in seeds]):.0f}"]
            for ref in ("random-asha", "gp-asha"):
                ratios = []
                for s in seeds:
                    other = by.get((p, ref), {}).get(s)
                    if other is None or a == ref:
                        continue
                    goal = best_at(other, math.inf)
                    ratios.append(epochs_to_reach(runs[s], goal) / max(total_epochs(other), 1))
                cells.append(_ratio_cell(ratios))
            ahead = []
            for frac in CHECKPOINTS:
                pairs = [(best_at(runs[s], frac * runs[s]["budget"]),
                          best_at(by[(p, "bohb")][s], frac * runs[s]["budget"]))
                         for s in seeds if a != "bohb" and s in by.get((p, "bohb"), {})]
                if pairs:
                    mine, theirs = np.median([x for x, _ in pairs]), np.median(
                        [y for _, y in pairs])
                    ahead.append("y" if mine < theirs else "n")
            cells.append("/".join(ahead) if ahead else "")
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Ratios: per seed, the epochs this arm needed to reach the reference arm's "
              "final best, divided by the reference's total epochs; median over seeds (inf: "
              "not reached). Targets (benchmarks/README.md, for mfgp-asha): <= 0.30 against "
              "random-asha, <= 0.60 against gp-asha, ahead of bohb at every checkpoint on >= 3 "
              "of 4 problems."]
    return "\n".join(lines) + "\n"


def _ratio_cell(ratios: list[float]) -> str:
    if not ratios:
        return ""
    med = float(np.median(ratios))
    shown = "inf" if math.isinf(med) else f"{med:.2f}"
    return f"{shown} ({sum(math.isfinite(r) for r in ratios)}/{len(ratios)} reached)"


def plot(records: list[dict], path: Path, x: str = "epochs") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in records}, key=lambda p: (p not in CURVE_PROBLEMS, p))
    fig, axes = plt.subplots(1, len(problems), figsize=(5 * len(problems), 4), squeeze=False)
    for ax, p in zip(axes[0], problems):
        runs = [r for r in records if r["problem"] == p]
        budget = max(r["budget"] for r in runs)
        f_star = get_curve(p).f_star if p in CURVE_PROBLEMS else None
        for a in ARMS:
            mine = [r for r in runs if r["arm"] == a]
            if not mine:
                continue
            if x == "epochs":
                grid = np.linspace(1, budget, 200)
                curves = np.array([[best_at(r, g) for g in grid] for r in mine])
            else:
                wall_max = max(r["wall_s"] for r in runs)
                grid = np.linspace(0, wall_max, 200)
                curves = np.array([[_best_at_wall(r, g) for g in grid] for r in mine])
            if f_star is not None:
                curves = np.maximum(curves - f_star, 1e-6)
            med = np.median(curves, axis=0)
            ax.plot(grid, np.where(np.isfinite(med), med, np.nan), label=f"{a} ({len(mine)})")
        ax.set(title=p, xlabel="epochs consumed" if x == "epochs" else "wall seconds",
               ylabel="best final regret (median)" if f_star is not None else
               "best final val_loss (median)", yscale="log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _best_at_wall(record: dict, wall: float) -> float:
    _, w, best = anytime(record)
    i = np.searchsorted(w, wall, side="right")
    return float(best[i - 1]) if i else math.inf


def write_report(out: Path) -> str:
    records = load(out)
    text = summary(records)
    (out / "summary.md").write_text(text)
    if records:
        plot(records, out / "anytime.png")
        plot(records, out / "anytime_wall.png", x="wall")
    return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", default="branin_mislead")
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--seeds", default="5", help="N (seeds 0..N-1) or A-B")
    p.add_argument("--budget", type=int, default=300, help="epochs reported per run, in total")
    p.add_argument("--epochs", type=int, default=9, help="epochs of the bundled trainables")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "schedulers"))
    p.add_argument("--num-cpus", type=int, default=CONCURRENT)
    p.add_argument("--force", action="store_true", help="rerun runs already in the store")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        print(write_report(out))
        return
    problems, arms = args.problems.split(","), args.arms.split(",")
    for a in arms:
        if a not in ARMS:
            p.error(f"--arms: unknown arm {a!r}; known: {', '.join(ARMS)}")
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi) + 1) if hi else range(int(lo))
    import ray

    ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False,
             log_to_driver=False, _temp_dir=tempfile.mkdtemp(prefix="rbsch", dir="/tmp"))
    store = RunStore(out)
    done = store.keys()
    try:
        for problem in problems:
            for seed in seeds:
                for arm in arms:
                    key = record_key({"problem": problem, "arm": arm, "seed": seed})
                    if key in done and not args.force:
                        continue
                    try:
                        rec = run_one(problem, arm, seed, args.budget, args.epochs, store)
                    except RuntimeError as err:  # an arm that cannot run here: say so, go on
                        print(f"skip {problem} {arm} s{seed}: {err}", flush=True)
                        continue
                    print(f"{problem} {arm} s{seed}: best {best_at(rec, math.inf):.4g}, "
                          f"{rec['n_trials']} trials, {total_epochs(rec)} epochs, "
                          f"{rec['wall_s']:.0f} s", flush=True)
    finally:
        ray.shutdown()
    print(write_report(out))


if __name__ == "__main__":
    main()
