"""The ``raybo`` command: ``raybo tune ARCH`` tunes one of the bundled PyTorch trainables.

Parsing/validation (``build_parser``, ``parse_args``) and the Tune run (``run_tuning``, usable
from Python) live here; reporting (``format_table``, ``write_outputs``) in ``raybo/report.py``,
so other entry points (benchmarks, cluster runs) reuse them. Trial values are the metric's last
reported value, the one the searcher saw; "best so far" follows trial creation order.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from raybo.report import TuningRun, format_table, write_outputs

ARCHS = ("cnn", "rnn", "lstm", "gru", "seq2seq", "transformer")
SEARCHERS = ("gp", "random")
ACQUISITIONS = ("logei", "ei", "pi", "ucb")
DEFAULT_TRIALS = 12  # the no-option run finishes in a few minutes on 2 cores
DEFAULT_EPOCHS = 5


# ------------------------------------------------------------------ arguments
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raybo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tune", help="tune a bundled PyTorch trainable with Ray Tune")
    p.add_argument("arch", choices=ARCHS, help="architecture to tune")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help="number of trials")
    p.add_argument("--concurrent", type=int, default=2, help="trials running at once")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per trial")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial (0.25 ok)")
    p.add_argument("--searcher", choices=SEARCHERS, default="gp")
    p.add_argument("--acquisition", choices=ACQUISITIONS, default="logei")
    p.add_argument("--metric", default="val_loss", help="result key to optimize")
    p.add_argument("--mode", choices=("min", "max"), default="min")
    p.add_argument("--seed", type=int, default=0, help="seeds the searcher and the training")
    p.add_argument("--storage", default=None, help="Tune storage path (default OUT/ray_results)")
    p.add_argument("--asha", action="store_true",
                   help="stop poor trials early (ASHA on epochs); GPSearch learns every epoch")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a crashed trial")
    p.add_argument("--out", default="raybo_out", help="directory for tables and plots")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs when starting Ray locally")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Tune verbosity")
    p.set_defaults(subparser=p)  # so value errors print the subcommand's usage
    return parser


def validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject bad option values with a one-line error naming the option (exit code 2)."""
    parser = getattr(args, "subparser", parser)
    if args.trials < 1:
        parser.error(f"--trials must be >= 1, got {args.trials}")
    if args.concurrent < 1:
        parser.error(f"--concurrent must be >= 1, got {args.concurrent}")
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if not args.cpus_per_trial > 0:
        parser.error(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial}")
    g = args.gpus_per_trial
    if not g >= 0:
        parser.error(f"--gpus-per-trial must be >= 0, got {g}")
    if g > 1 and g != int(g):
        parser.error(f"--gpus-per-trial above 1 must be a whole number of GPUs, got {g}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.max_failures < 0:
        parser.error(f"--max-failures must be >= 0, got {args.max_failures}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be >= 1, got {args.num_cpus}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    validate(parser, args)
    return args


# ------------------------------------------------------------------ the Tune run
def run_tuning(
    arch: str,
    *,
    trials: int = DEFAULT_TRIALS,
    concurrent: int = 2,
    epochs: int = DEFAULT_EPOCHS,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    searcher: str = "gp",
    acquisition: str = "logei",
    metric: str = "val_loss",
    mode: str = "min",
    seed: int = 0,
    storage: str | Path | None = None,
    asha: bool = False,
    max_failures: int = 1,
    data: dict[str, Any] | None = None,
    name: str | None = None,
    verbose: int = 0,
    ray_init: dict[str, Any] | None = None,
) -> TuningRun:
    """Tune ``arch`` on its default space with GP (or random) search; connects to Ray if needed.

    ``ray_init``: keyword arguments for ``ray.init`` when Ray is not yet initialized (it
    honours ``RAY_ADDRESS``). ``data``: the ``config["data"]`` spec (default: embedded data).
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    from raybo import GPSearch
    from trainables import default_space, get_trainable

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if searcher not in SEARCHERS:
        raise ValueError(f"searcher must be 'gp' or 'random', got {searcher!r}")
    if not ray.is_initialized():
        ray.init(**(ray_init or {}))
    _check_cluster_fits(cpus_per_trial, gpus_per_trial, ray.cluster_resources())

    if searcher == "gp":
        # With ASHA, GPSearch reads every epoch's result as a point of the trial's learning curve
        # and predicts final values from stopped trials (issue 14), on ASHA's own time axis.
        alg = GPSearch(acquisition=acquisition, seed=seed, resource_attr="epoch",
                       max_resource=epochs if asha else None)
    else:
        alg = BasicVariantGenerator(random_state=seed)
    scheduler = ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=1) if asha else None
    name = name or f"{arch}_{searcher}_seed{seed}"
    storage = Path(storage or Path("raybo_out") / "ray_results").resolve()
    tuner = tune.Tuner(
        _with_resources(get_trainable(arch), cpus_per_trial, gpus_per_trial),
        param_space=default_space(arch, epochs=epochs, data=data, seed=seed),
        tune_config=tune.TuneConfig(
            search_alg=alg,
            scheduler=scheduler,
            metric=metric,
            mode=mode,
            num_samples=trials,
            max_concurrent_trials=concurrent,
            # A fresh worker pays ~4.5 s importing torch + Ray Tune (4 starting at once on 2
            # cores: ~10 s), more than a few embedded-data epochs; reuse keeps imports warm.
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage),
            verbose=verbose,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            failure_config=tune.FailureConfig(max_failures=max_failures),
        ),
    )
    grid = tuner.fit()
    run = TuningRun(arch, metric, mode, searcher, _rows(grid, metric), grid)
    if searcher == "gp":
        run.searcher = _fitted_searcher(alg, grid.experiment_path)
        run.diagnostics = run.searcher.diagnostics()
    return run


def _with_resources(fn: Any, cpus: float, gpus: float) -> Any:
    """``tune.with_resources`` stores the request as an attribute of the function it is given;
    wrap first, so the shared ``trainables`` functions stay unmodified for other callers."""
    from ray import tune

    def trial(config: dict[str, Any]) -> None:
        fn(config)

    trial.__name__ = trial.__qualname__ = fn.__name__  # Tune names trials after it
    return tune.with_resources(trial, {"cpu": cpus, "gpu": gpus})


def _check_cluster_fits(cpus: float, gpus: float, cluster: dict[str, float]) -> None:
    """A trial that can never be placed would leave Tune waiting forever: fail early."""
    if cpus > cluster.get("CPU", 0):
        raise ValueError(f"cpus_per_trial={cpus} exceeds the cluster's {cluster.get('CPU', 0)}")
    if gpus > cluster.get("GPU", 0):
        raise ValueError(f"gpus_per_trial={gpus} exceeds the cluster's {cluster.get('GPU', 0)}")


def _fitted_searcher(alg: Any, experiment_path: str) -> Any:
    """The searcher with every result. Tune drives it in this process, except under Ray Client,
    where it works on a remote copy and saves that copy's state to the experiment directory."""
    try:
        alg.diagnostics()
    except RuntimeError:  # never given a space or metric: this object was not the one used
        alg.restore_from_dir(experiment_path)
    return alg


def _creation_index(trial_id: str, trial_dir: str, fallback: int) -> int:
    """Tune's trial counter, which follows the trial id in the trial directory's name."""
    _, sep, rest = Path(trial_dir).name.partition(f"{trial_id}_")
    head = rest.split("_", 1)[0]
    return int(head) if sep and head.isdigit() else fallback


def _rows(grid: Any, metric: str) -> list[dict[str, Any]]:
    rows = []
    for i, result in enumerate(grid):
        metrics = result.metrics or {}
        trial_id = str(metrics.get("trial_id", ""))
        value = metrics.get(metric)
        value = float(value) if isinstance(value, (int, float)) else math.nan
        status = "ERROR" if result.error else ("TERMINATED" if math.isfinite(value) else "DIVERGED")
        rows.append(
            {
                "trial": _creation_index(trial_id, result.path, i),
                "trial_id": trial_id,
                "status": status,
                "value": value,
                "epochs": metrics.get("epoch", 0),
                "config": result.config,
                "error": str(result.error).splitlines()[0] if result.error else "",
            }
        )
    rows.sort(key=lambda r: r["trial"])
    for i, row in enumerate(rows):  # Tune counts from 0 or 1 depending on the searcher
        row["trial"] = i
    return rows


# ------------------------------------------------------------------ entry point
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import ray

    started = not ray.is_initialized()
    ray_init = {"num_cpus": args.num_cpus} if args.num_cpus else {}
    out = Path(args.out)
    try:
        run = run_tuning(
            args.arch,
            trials=args.trials,
            concurrent=args.concurrent,
            epochs=args.epochs,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            searcher=args.searcher,
            acquisition=args.acquisition,
            metric=args.metric,
            mode=args.mode,
            seed=args.seed,
            storage=args.storage or out / "ray_results",
            asha=args.asha,
            max_failures=args.max_failures,
            verbose=args.verbose,
            ray_init=ray_init,
        )
    except ValueError as exc:
        print(f"raybo: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if started and ray.is_initialized():
            ray.shutdown()
    print(format_table(run))
    failed = sum(r["status"] != "TERMINATED" for r in run.rows)
    print(f"{len(run.rows)} trials, {failed} failed or diverged")
    if run.diagnostics.get("n", 0) > 0:
        d = run.diagnostics
        print(f"GP leave-one-out on {d['n']} trials: RMSE {d['loo_rmse']:.4g} ({run.metric}), "
              f"calibration {d['loo_calibration']:.2f} (ideal ~0.95)")
    paths = write_outputs(run, out)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
