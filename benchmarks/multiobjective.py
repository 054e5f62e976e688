"""Multi-objective and outcome-constrained search: GPSearch against Optuna's samplers.

    python -m benchmarks.multiobjective run --problems branincurrin,dtlz2_m2,dtlz2_m3,c2dtlz2 \
        --searchers gp,optuna-gp,tpe,nsga2,random --seeds 0-4 --workers 4 --budget 60 \
        --out benchmarks/results/multiobjective/runs.jsonl
    python -m benchmarks.multiobjective cost --objectives 2,3,4 --n 60 --pending 15 \
        --out benchmarks/results/multiobjective/cost.json
    python -m benchmarks.multiobjective report --runs benchmarks/results/multiobjective/*.jsonl

Problems are BoTorch's test functions (minimized, inputs in [0, 1]^d), with their reference
points and true front hypervolumes: BraninCurrin (2 objectives, d = 2), DTLZ2 (d = 6, 2 and 3
objectives), C2-DTLZ2 (DTLZ2 with a constraint that cuts the front into pieces, 2 objectives,
d = 6). The score is log10 hypervolume regret at the budget, ``log10(HV* - HV)``, of the feasible
evaluations, measured from the problem's reference point (BoTorch's ``Hypervolume``).

Every searcher runs the same asynchronous protocol: W workers, each evaluation takes a seeded
exponential time (the same for every searcher on a seed), a finished worker reports its result
and asks for the next point, so W - 1 trials are running at each suggestion. GPSearch is driven
through its Tune ``Searcher`` API; Optuna's samplers through ``study.ask``/``study.tell``
(running trials stay RUNNING in the study, which GPSampler conditions on). Ray's
``OptunaSearch`` cannot pass ``constraints_func`` to the sampler, hence ask/tell. Constraints
go to Optuna as ``constraints_func`` (values <= 0 feasible) and to GPSearch as
``outcome_constraints=["slack >= 0"]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # must precede the numpy/torch imports below

import argparse  # noqa: E402
import heapq  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

NSGA2_POPULATION = 20  # Optuna's default 50 leaves NSGA-II random for most of a 60-trial budget


@dataclass
class MOProblem:
    """A BoTorch multi-objective test function, minimized; ``constrained`` adds ``slack``
    (feasible where >= 0)."""

    name: str
    make: Callable[[], object]

    def __post_init__(self) -> None:
        self.fn = self.make()
        self.dim = self.fn.dim
        self.k = self.fn.num_objectives
        self.ref = self.fn.ref_point.numpy().copy()
        self.max_hv = float(self.fn.max_hv)
        self.constrained = getattr(self.fn, "num_constraints", 0) > 0

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        X = torch.as_tensor(np.asarray(x, dtype=float)[None], dtype=torch.float64)
        out = {f"f{j}": float(v) for j, v in enumerate(self.fn(X)[0])}
        if self.constrained:
            out["slack"] = float(self.fn.evaluate_slack(X)[0, 0])
        return out


def _problems() -> dict[str, MOProblem]:
    from botorch.test_functions.multi_objective import C2DTLZ2, DTLZ2, BraninCurrin

    return {p.name: p for p in [
        MOProblem("branincurrin", BraninCurrin),
        MOProblem("dtlz2_m2", lambda: DTLZ2(dim=6, num_objectives=2)),
        MOProblem("dtlz2_m3", lambda: DTLZ2(dim=6, num_objectives=3)),
        MOProblem("c2dtlz2", lambda: C2DTLZ2(dim=6, num_objectives=2)),
    ]}


def hypervolume(Y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of the rows ``Y: (n, k)`` (minimized) dominating ``ref`` (BoTorch)."""
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    Y = np.asarray(Y, dtype=float).reshape(-1, len(ref))
    Y = Y[(Y < ref).all(1)]
    if len(Y) == 0:
        return 0.0
    Yt = -torch.as_tensor(Y, dtype=torch.float64)
    return float(Hypervolume(-torch.as_tensor(ref, dtype=torch.float64)).compute(
        Yt[is_non_dominated(Yt)]))


# -- searchers: ask() -> (handle, x), tell(handle, result) -----------------------------------
class GPAdapter:
    """GPSearch; ``given_ref``: told the problem's reference point (``gp-ref``), else it infers
    one from the Pareto front (``gp``, the default a user gets)."""

    def __init__(self, problem: MOProblem, seed: int, given_ref: bool = False) -> None:
        from ray import tune

        from raybo import GPSearch

        space = {f"x{i}": tune.uniform(0, 1) for i in range(problem.dim)}
        self.dim = problem.dim
        self.s = GPSearch(space, metric=[f"f{j}" for j in range(problem.k)],
                          mode=["min"] * problem.k, seed=seed,
                          outcome_constraints=["slack >= 0"] if problem.constrained else None,
                          reference_point={f"f{j}": float(v) for j, v in enumerate(problem.ref)}
                          if given_ref else None)
        self.n = 0

    def ask(self):
        tid = f"t{self.n}"
        self.n += 1
        config = self.s.suggest(tid)
        return tid, np.array([config[f"x{i}"] for i in range(self.dim)])

    def tell(self, handle, result: dict[str, float]) -> None:
        self.s.on_trial_complete(handle, result)


class OptunaAdapter:
    def __init__(self, problem: MOProblem, seed: int, sampler: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cons = _constraints if problem.constrained else None
        samplers = {
            "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed, constraints_func=cons),
            "tpe": lambda: optuna.samplers.TPESampler(seed=seed, constraints_func=cons),
            "nsga2": lambda: optuna.samplers.NSGAIISampler(
                seed=seed, constraints_func=cons, population_size=NSGA2_POPULATION),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        }
        self.study = optuna.create_study(directions=["minimize"] * problem.k,
                                         sampler=samplers[sampler]())
        self.problem = problem

    def ask(self):
        trial = self.study.ask()
        return trial, np.array([trial.suggest_float(f"x{i}", 0, 1)
                                for i in range(self.problem.dim)])

    def tell(self, trial, result: dict[str, float]) -> None:
        if "slack" in result:
            trial.set_user_attr("constraint", [-result["slack"]])
        self.study.tell(trial, [result[f"f{j}"] for j in range(self.problem.k)])


def _constraints(trial) -> list[float]:
    return trial.user_attrs.get("constraint", [1.0])


def make(name: str, problem: MOProblem, seed: int):
    if name in ("gp", "gp-ref"):
        return GPAdapter(problem, seed, given_ref=name == "gp-ref")
    return OptunaAdapter(problem, seed, name)


def run_one(problem: MOProblem, searcher: str, seed: int, workers: int, budget: int) -> dict:
    """One run of the asynchronous protocol (module docstring); the record of the JSONL."""
    rng = np.random.default_rng([seed, 7919])
    durations = rng.exponential(1.0, size=budget)
    adapter = make(searcher, problem, seed)
    running: list[tuple[float, int, object, np.ndarray]] = []
    cpu, evals, asked, now = [], [], 0, 0.0
    while len(evals) < budget:
        while asked < budget and len(running) < workers:
            c0 = time.process_time()
            handle, x = adapter.ask()
            cpu.append(time.process_time() - c0)
            heapq.heappush(running, (now + durations[asked], asked, handle, x))
            asked += 1
        now, _, handle, x = heapq.heappop(running)
        result = problem(x)
        adapter.tell(handle, result)
        evals.append(result)
    Y = np.array([[e[f"f{j}"] for j in range(problem.k)] for e in evals])
    feasible = np.array([e.get("slack", 0.0) >= 0 for e in evals])
    hv = [hypervolume(Y[:i + 1][feasible[:i + 1]], problem.ref) for i in range(budget)]
    return {"problem": problem.name, "searcher": searcher, "seed": seed, "workers": workers,
            "budget": budget, "hv": hv, "max_hv": problem.max_hv,
            "feasible": feasible.astype(int).tolist(), "suggest_cpu_s": cpu}


def log_regret(hv: float, max_hv: float) -> float:
    return math.log10(max(max_hv - hv, 1e-12))


# -- suggest cost -------------------------------------------------------------------------------
def cost(k: int, n: int, pending: int, repeats: int, searcher: str = "gp") -> dict:
    """Median CPU seconds of a steady-state suggestion (one result in, one suggestion out) with
    ``n`` observations and ``pending`` running trials on DTLZ2 (d = 6, ``k`` objectives)."""
    from botorch.test_functions.multi_objective import DTLZ2

    problem = MOProblem(f"dtlz2_m{k}", lambda: DTLZ2(dim=6, num_objectives=k))
    rng = np.random.default_rng(0)
    adapter = make(searcher, problem, 0)
    if searcher.startswith("gp"):
        for _ in range(n - 1):
            x = rng.random(problem.dim)
            adapter.s.add_evaluated_point({f"x{i}": v for i, v in enumerate(x)}, problem(x))
    else:
        import optuna

        dist = {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(problem.dim)}
        for _ in range(n - 1):
            x = rng.random(problem.dim)
            r = problem(x)
            adapter.study.add_trial(optuna.trial.create_trial(
                params={f"x{i}": v for i, v in enumerate(x)}, distributions=dist,
                values=[r[f"f{j}"] for j in range(k)]))
    queue = [adapter.ask() for _ in range(pending + 1)]
    cpus = []
    for _ in range(repeats):
        handle, x = queue.pop(0)
        adapter.tell(handle, problem(x))
        c0 = time.process_time()
        queue.append(adapter.ask())
        cpus.append(time.process_time() - c0)
    return {"searcher": searcher, "objectives": k, "n": n, "pending": pending,
            "median_cpu_s": float(np.median(cpus)), "max_cpu_s": float(np.max(cpus)),
            "cpu_s": cpus}


# -- report -------------------------------------------------------------------------------------
def report(runs: list[dict]) -> str:
    """Markdown table: median log10 HV regret at the budget (seeds in brackets: those every
    searcher has run) per problem and searcher; on constrained problems also the feasible share
    of evaluations 13-60 (after GPSearch's 12-point design in d = 6)."""
    keys = sorted({(r["problem"], r["workers"], r["budget"]) for r in runs})
    searchers = sorted({r["searcher"] for r in runs}, key=lambda s: (not s.startswith("gp"), s))
    lines = ["| problem | W | budget | " + " | ".join(searchers) + " |",
             "|---|---|---|" + "---|" * len(searchers)]
    for problem, w, budget in keys:
        cells = []
        mine = [r for r in runs
                if (r["problem"], r["workers"], r["budget"]) == (problem, w, budget)]
        # only the seeds every searcher has run: paired comparisons
        common = set.intersection(*({r["seed"] for r in mine if r["searcher"] == s}
                                    for s in searchers))
        for s in searchers:
            rs = [r for r in mine if r["searcher"] == s and r["seed"] in common]
            if not rs:
                cells.append("")
                continue
            lr = np.array([log_regret(r["hv"][-1], r["max_hv"]) for r in rs])
            cell = f"{np.median(lr):.2f} ({len(rs)})"
            if "c2" in problem:
                feas = np.mean([np.mean(r["feasible"][12:]) for r in rs])
                cell += f", feas {100 * feas:.0f}%"
            cells.append(cell)
        lines.append(f"| {problem} | {w} | {budget} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--problems", default="branincurrin,dtlz2_m2,dtlz2_m3,c2dtlz2")
    r.add_argument("--searchers", default="gp,optuna-gp,tpe,nsga2,random")
    r.add_argument("--seeds", default="0-4")
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--budget", type=int, default=60)
    r.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("cost")
    c.add_argument("--objectives", default="2,3,4")
    c.add_argument("--searchers", default="gp,optuna-gp")
    c.add_argument("--n", type=int, default=60)
    c.add_argument("--pending", type=int, default=15)
    c.add_argument("--repeats", type=int, default=7)
    c.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("report")
    p.add_argument("--runs", type=Path, nargs="+", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "run":
        problems = _problems()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        done = set()
        if args.out.exists():
            done = {(d["problem"], d["searcher"], d["seed"], d["workers"], d["budget"])
                    for d in map(json.loads, args.out.read_text().splitlines())}
        for seed in _seeds(args.seeds):  # every problem at each seed first: usable midway
            for name in args.problems.split(","):
                for s in args.searchers.split(","):
                    if (name, s, seed, args.workers, args.budget) in done:
                        continue
                    t0 = time.time()
                    rec = run_one(problems[name], s, seed, args.workers, args.budget)
                    with args.out.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    print(f"{name} {s} seed={seed} W={args.workers} log10 regret "
                          f"{log_regret(rec['hv'][-1], rec['max_hv']):.2f} "
                          f"({time.time() - t0:.0f} s)", flush=True)
    elif args.command == "cost":
        rows = []
        for k in map(int, args.objectives.split(",")):
            for s in args.searchers.split(","):
                row = cost(k, args.n, args.pending, args.repeats, s)
                print(f"{s} k={k}: median {row['median_cpu_s']:.2f} s, max "
                      f"{row['max_cpu_s']:.2f} s", flush=True)
                rows.append(row)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    else:
        runs = {}  # a run repeated in two files (same seed, same protocol) counts once
        for path in args.runs:
            for rec in map(json.loads, path.read_text().splitlines()):
                key = (rec["problem"], rec["searcher"], rec["seed"], rec["workers"], rec["budget"])
                runs.setdefault(key, rec)
        print(report(list(runs.values())))


if __name__ == "__main__":
    main()
