"""User priors and warm starts on synthetic problems with known optima (W = 4, protocol.py).

    python -m benchmarks.priors --out benchmarks/results/prior --seeds 5
    python -m benchmarks.priors --out benchmarks/results/prior --report

Prior arms (``PRIOR_ARMS``), every named parameter believed at once, confidence "medium" unless
the arm says otherwise:
* ``none``: GPSearch without a prior;
* ``good``/``good-high``: the optimum moved by 5% of each parameter's range (in the unit-cube
  coordinates it is searched in, a random sign per parameter; categories kept);
* ``medium``: moved by 20%;
* ``misleading``: a random point among the worst 5% of 4096 uniform draws;
* ``points``: today's weak form, ``points_to_evaluate=[the good prior]``.

Warm-start arms (``WARM_ARMS``) on a related task (``related``: the optimum moved, the values
scaled, as a new data set would do): ``cold`` (no warm start), ``data`` (the earlier run's trials
as observations) and ``prior`` (its best configuration as the prior's centre); the earlier run
is the ``none`` arm of the original problem with the same seed.

Each run's record (``store.RunStore``, key problem/arm/W/seed): best-so-far regret and suggest
CPU seconds per evaluation. The report (``results.md``) gives, per problem, every arm's median
final regret and the evaluations after which its median best-so-far regret first reaches the
reference arm's median final regret (``none`` for priors, ``cold`` for warm starts).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.problems import PROBLEMS, Problem
from benchmarks.protocol import METRIC, run_protocol
from benchmarks.store import RunStore

W = 4
PROBLEM_NAMES = ("branin", "hartmann6", "mixed", "levy")
BUDGET = {"branin": 60, "hartmann6": 60, "mixed": 60, "levy": 100}  # run.py's auto budget
_H6 = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
OPTIMA = {
    "branin": {"x0": math.pi, "x1": 2.275},
    "hartmann6": {f"x{i}": v for i, v in enumerate(_H6)},
    "levy": {f"x{i}": 1.0 for i in range(8)},
    "mixed": {"lr": 10 ** -3.35, "layers": 5, "units": 128, "optimizer": "adam",
              "dropout": 0.25},
}
PRIOR_ARMS = {"none": None, "good": ("good", "medium"), "medium": ("medium", "medium"),
              "misleading": ("misleading", "medium"), "good-high": ("good", "high"),
              "points": ("good", None)}
WARM_ARMS = ("cold", "data", "prior")
# engine variants of the prior arms, run as ARM@VARIANT (e.g. misleading@beta5)
VARIANTS = {"beta5": {"prior_beta": 5.0}, "beta20": {"prior_beta": 20.0},
            "design0": {"prior_design_every": 0}, "design4": {"prior_design_every": 4}}
OUT = "benchmarks/results/prior"
SHIFT = {"good": 0.05, "medium": 0.20}  # of each parameter's range
# related task: the optimum moves by this fraction of each range, values become 1.5 f + 0.2
RELATED_SHIFT, RELATED_SCALE, RELATED_OFFSET = 0.08, 1.5, 0.2


def space_of(problem: Problem):
    from raybo.space import SearchSpace

    return SearchSpace(problem.space)


def prior_config(name: str, kind: str, seed: int) -> dict:
    """The believed configuration of arm ``kind`` ("good", "medium", "misleading")."""
    problem = PROBLEMS[name]()
    space = space_of(problem)
    rng = np.random.default_rng([seed, PROBLEM_NAMES.index(name), 11])
    if kind == "misleading":
        X = rng.random((4096, space.dim))
        configs = [space.decode(x) for x in space.snap(X)]
        values = np.array([problem(c) for c in configs])
        worst = np.flatnonzero(values >= np.quantile(values, 0.95))
        return configs[int(rng.choice(worst))]
    x = space.encode(OPTIMA[name])
    step = SHIFT[kind] * rng.choice([-1.0, 1.0], size=space.dim)
    moved = x + step
    moved = np.where((moved < 0) | (moved > 1), x - step, moved)  # stay inside: other side
    cat = [p.kind == "cat" for p in space.params]
    moved[cat] = x[cat]
    return space.decode(space.snap(moved[None])[0])


def related(name: str) -> Problem:
    """The related task of ``name``: optimum moved by ``RELATED_SHIFT`` of each range (the
    log scale for lr and units), values ``RELATED_SCALE * f + RELATED_OFFSET``."""
    base = PROBLEMS[name]()
    space = space_of(base)

    def back(c: dict) -> dict:  # the base problem's config whose value c takes
        x = space.encode(c)
        cont = np.array([p.kind != "cat" for p in space.params])
        x = np.where(cont, np.clip(x - RELATED_SHIFT, 0, 1), x)
        return space.decode(x)

    def func(c: dict) -> float:
        return RELATED_SCALE * base(back(c)) + RELATED_OFFSET

    return replace(base, name=f"{name}~related", func=func,
                   f_star=RELATED_SCALE * base.f_star + RELATED_OFFSET)


def _searcher(problem: Problem, seed: int, **kwargs):
    from raybo import GPSearch

    s = GPSearch(metric=METRIC, mode="min", seed=seed, **kwargs)
    s.set_search_properties(METRIC, "min", problem.space)
    return s


def run_prior_arm(name: str, arm: str, seed: int) -> dict:
    from raybo import EngineOptions

    problem = PROBLEMS[name]()
    base, _, variant = arm.partition("@")
    spec = PRIOR_ARMS[base]
    engine = EngineOptions(**VARIANTS[variant]) if variant else None
    if spec is None:
        s = _searcher(problem, seed)
    elif spec[1] is None:
        s = _searcher(problem, seed, points_to_evaluate=[prior_config(name, spec[0], seed)])
    else:
        s = _searcher(problem, seed, prior=prior_config(name, spec[0], seed),
                      prior_confidence=spec[1], engine=engine)
    return _record(name, arm, seed, problem, s)


def run_warm_arm(name: str, arm: str, seed: int, store: RunStore) -> dict:
    problem = related(name)
    s = _searcher(problem, seed)
    if arm != "cold":
        old = next(r for r in store.records() if r["problem"] == name and r["arm"] == "none"
                   and r["seed"] == seed)
        s.warm_start_from([(c, v) for c, v in zip(old["configs"], old["values"])], use=arm)
    return _record(problem.name, arm, seed, problem, s)


def _record(name: str, arm: str, seed: int, problem: Problem, searcher) -> dict:
    t0 = time.perf_counter()
    result = run_protocol(searcher, problem, workers=W, budget=BUDGET[name.split("~")[0]],
                          seed=seed)
    ev = result.evaluations
    return {"problem": name, "arm": arm, "workers": W, "seed": seed,
            "budget": BUDGET[name.split("~")[0]], "wall_s": time.perf_counter() - t0,
            "best_regret": [e.best_regret for e in ev],
            "suggest_cpu_s": [e.suggest_cpu_s for e in ev],
            "configs": [e.config for e in ev],
            "values": [None if math.isnan(e.value) else e.value for e in ev]}


def suggest_cost(name: str, seed: int, n_obs: int = 40, pending: int = 3, repeats: int = 7
                 ) -> dict:
    """CPU seconds of one suggest with and without the good prior from the same state: the
    first ``n_obs`` results of the seed's ``none`` run as observations, ``pending`` trials
    running, the GP fitted from scratch (a restored copy each time), arms alternating."""
    import pickle

    problem = PROBLEMS[name]()
    old = next(r for r in RunStore(OUT).records() if r["problem"] == name and r["arm"] == "none"
               and r["seed"] == seed)
    pairs = list(zip(old["configs"], old["values"]))[:n_obs]
    blobs = {}
    for arm, kwargs in (("none", {}), ("good", {"prior": prior_config(name, "good", seed)})):
        s = _searcher(problem, seed, **kwargs)
        s.warm_start_from(pairs)
        for i in range(pending):
            s.suggest(f"p{i}")
        blobs[arm] = pickle.dumps(s)
    times: dict[str, list[float]] = {"none": [], "good": []}
    for r in range(repeats):
        for arm, blob in blobs.items():
            s = pickle.loads(blob)
            c0 = time.process_time()
            s.suggest(f"x{r}")
            times[arm].append(time.process_time() - c0)
    med = {arm: float(np.median(t)) for arm, t in times.items()}
    return {"problem": name, "seed": seed, "n_obs": n_obs, "pending": pending,
            "cpu_none_s": med["none"], "cpu_prior_s": med["good"],
            "overhead": med["good"] / med["none"] - 1}


# -- report --------------------------------------------------------------------------------
def evals_to(runs: list[dict], target: float) -> float:
    """First evaluation count at which the median best-so-far regret is <= ``target``."""
    n = min(len(r["best_regret"]) for r in runs)
    med = np.median(np.array([r["best_regret"][:n] for r in runs]), axis=0)
    hit = np.flatnonzero(med <= target)
    return float(hit[0] + 1) if hit.size else math.inf


def final(runs: list[dict]) -> float:
    return float(np.median([r["best_regret"][-1] for r in runs]))


def cpu(runs: list[dict]) -> float:
    """Median over seeds of the mean suggest CPU seconds per suggestion."""
    return float(np.median([np.mean(r["suggest_cpu_s"]) for r in runs]))


def report(records: list[dict], costs: list[dict] = ()) -> str:
    by: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        by.setdefault((r["problem"], r["arm"]), []).append(r)
    lines = [f"# Priors and warm starts (W = {W})", ""]
    for title, arms, ref, problems in (
            ("Prior arms", list(PRIOR_ARMS) + sorted(
                {r["arm"] for r in records if "@" in r["arm"]}), "none", PROBLEM_NAMES),
            ("Warm start on the related task", list(WARM_ARMS), "cold",
             [f"{p}~related" for p in PROBLEM_NAMES])):
        lines += [f"## {title}", "",
                  f"Median final regret; evaluations until the median best-so-far regret "
                  f"reaches `{ref}`'s median final regret (fraction of the budget); mean "
                  "suggest CPU seconds (median over seeds).", "",
                  "| problem | arm | seeds | final regret | evals to ref | fraction | "
                  "final / ref | suggest CPU s |", "|---|---|---|---|---|---|---|---|"]
        for p in problems:
            base = by.get((p, ref))
            if not base:
                continue
            target, budget = final(base), base[0]["budget"]
            for arm in arms:
                runs = by.get((p, arm))
                if not runs:
                    continue
                k = evals_to(runs, target)
                ratio = final(runs) / target if target > 0 else math.nan
                lines.append(f"| {p} | {arm} | {len(runs)} | {final(runs):.3g} | "
                             f"{k:.0f} | {k / budget:.2f} | {ratio:.2f} | {cpu(runs):.3f} |")
        lines.append("")
    if costs:
        lines += ["## Suggest CPU with and without a prior", "",
                  "The same state (40 observations, 3 pending, GP fitted from scratch), the good "
                  "prior or none; median CPU seconds of one suggest over 7 repeats.", "",
                  "| problem | seed | no prior s | prior s | overhead |", "|---|---|---|---|---|"]
        lines += [f"| {c['problem']} | {c['seed']} | {c['cpu_none_s']:.3f} | "
                  f"{c['cpu_prior_s']:.3f} | {100 * c['overhead']:+.1f}% |" for c in costs]
        med = np.median([c["overhead"] for c in costs])
        lines += ["", f"Median overhead: {100 * med:+.1f}%.", ""]
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> Path:
    """Median best-so-far regret against evaluations, one panel per problem, prior arms above
    and warm-start arms below (``prior.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(PROBLEM_NAMES), figsize=(4 * len(PROBLEM_NAMES), 7))
    for row, (arms, suffix) in enumerate(((list(PRIOR_ARMS), ""), (list(WARM_ARMS), "~related"))):
        for ax, name in zip(axes[row], PROBLEM_NAMES):
            for arm in arms:
                runs = [r for r in records if r["problem"] == name + suffix and r["arm"] == arm]
                if not runs:
                    continue
                n = min(len(r["best_regret"]) for r in runs)
                med = np.median(np.array([r["best_regret"][:n] for r in runs]), axis=0)
                ax.plot(np.arange(1, n + 1), np.maximum(med, 1e-8), label=arm)
            ax.set_yscale("log")
            ax.set_title(name + suffix)
            ax.set_xlabel("evaluations")
        axes[row][0].set_ylabel("median best regret")
        axes[row][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--problems", nargs="+", default=list(PROBLEM_NAMES))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--arms", nargs="+", default=list(PRIOR_ARMS) + list(WARM_ARMS))
    ap.add_argument("--report", action="store_true", help="only write results.md")
    ap.add_argument("--cost", action="store_true",
                    help="measure suggest CPU with and without a prior (cost.json)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    store = RunStore(args.out)
    if not args.report:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in args.problems:
                done = store.keys()
                for arm in args.arms:
                    prior_arm = arm.partition("@")[0] in PRIOR_ARMS
                    problem = name if prior_arm else f"{name}~related"
                    if (problem, None, None, arm, W, seed) in done:
                        continue
                    rec = (run_prior_arm(name, arm, seed) if prior_arm
                           else run_warm_arm(name, arm, seed, store))
                    store.append(rec)
                    print(f"{problem} {arm} seed={seed}: regret {rec['best_regret'][-1]:.3g} "
                          f"({rec['wall_s']:.0f} s)", flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    cost_file = Path(args.out) / "cost.json"
    if args.cost:
        rows = [suggest_cost(name, seed) for name in args.problems
                for seed in range(args.first_seed, args.first_seed + args.seeds)]
        cost_file.write_text(json.dumps(rows, indent=1) + "\n")
    costs = json.loads(cost_file.read_text()) if cost_file.exists() else []
    (Path(args.out) / "results.md").write_text(report(store.records(), costs) + "\n")
    plot(store.records(), Path(args.out) / "prior.png")


if __name__ == "__main__":
    main()
