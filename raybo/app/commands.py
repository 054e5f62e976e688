"""What each ``raybo`` subcommand does once its options are valid.

``plan_*`` do everything that can fail on bad input -- create and probe the run directory,
check ``--storage`` and ``--config``, write ``run.json`` -- and raise errors naming the option
before Ray starts. They return a callable that runs the command and returns its exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from raybo.app.report import (
    compare_line,
    diagnostics_line,
    format_table,
    importance_line,
    retrain_line,
    write_outputs,
)
from raybo.app.results import TuningRun
from raybo.app.rundir import (
    RUN_FILE,
    RunDirError,
    check_writable,
    new_run_dir,
    read_run_file,
    timestamp,
    write_run_file,
)
from raybo.app.tuning import check_storage, run_tuning, trial_dirname, with_resources

CONFIG_KEYS = ("seed", "epochs", "data", "optim", "model")  # trainables.default_config's keys
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C
RESOURCE_OPTIONS = {"CPU": "--cpus-per-trial", "GPU": "--gpus-per-trial"}
# Options of `raybo tune` stored in run.json and passed back to run_tuning on resume.
TUNE_OPTIONS = ("arch", "trials", "concurrent", "epochs", "cpus_per_trial", "gpus_per_trial",
                "acquisition", "metric", "mode", "constraint", "seed", "asha", "max_failures",
                "prior", "prior_confidence", "warm_start")


# ------------------------------------------------------------------ raybo tune / resume
def plan_tune(args: argparse.Namespace) -> Callable[[], int]:
    _check_prior(args)
    searchers = ["gp", "random"] if args.compare_random else [args.searcher]
    if args.storage is not None:  # before the run directory exists: nothing to clean up
        check_storage(args.storage, "--storage")
    created = args.out is None or not Path(args.out).exists()  # else: an empty dir of theirs
    run_dir = new_run_dir(args.out, f"{args.arch}-{'-vs-'.join(searchers)}")
    try:
        storage = _storage(args.storage, run_dir)
    except RunDirError:
        _discard(run_dir, created)
        raise
    stamp = timestamp()
    info = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "options": {**{k: getattr(args, k) for k in TUNE_OPTIONS},
                    "data": getattr(args, "data_spec", None)},
        "experiments": {s: _join(storage, f"{args.arch}-{s}-{stamp}") for s in searchers},
        "finished": False,
    }
    write_run_file(run_dir, info)
    return lambda: _tune(run_dir, info, resume=False, verbose=args.verbose,
                         num_cpus=args.num_cpus, created=created)


def _check_prior(args: argparse.Namespace) -> None:
    """``--prior`` values against the architecture's space, before anything starts."""
    if not args.prior:
        return
    from raybo.prior import parse_prior
    from raybo.space import SearchSpace
    from trainables import default_space

    try:
        parse_prior(SearchSpace(default_space(args.arch)), args.prior, args.prior_confidence)
    except ValueError as err:
        raise ValueError(f"--prior: {err}") from None


def plan_resume(args: argparse.Namespace) -> Callable[[], int]:
    run_dir = Path(args.run_dir)
    info = read_run_file(run_dir)
    check_writable(run_dir, f"run directory {run_dir}")
    return lambda: _tune(run_dir, info, resume=True, verbose=args.verbose,
                         num_cpus=args.num_cpus)


def _storage(storage: str | None, run_dir: Path) -> str:
    """Tune storage: a URI (s3://, gs://, ...) passes through; a local path must be writable."""
    if storage is None:
        return str((run_dir / "ray_results").resolve())
    if "://" in storage:
        return storage
    check_writable(Path(storage), f"--storage {storage}")
    return str(Path(storage).resolve())


def _join(storage: str, name: str) -> str:
    return f"{storage.rstrip('/')}/{name}"


def _discard(run_dir: Path, created: bool) -> None:
    """Remove what ``plan_tune`` made for a run that never started, so the same ``--out`` can
    be used again once the problem is fixed."""
    (run_dir / RUN_FILE).unlink(missing_ok=True)
    results = run_dir / "ray_results"
    if results.is_dir() and not any(results.iterdir()):
        results.rmdir()
    if created and run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def _tune(run_dir: Path, info: dict[str, Any], resume: bool, verbose: int,
          num_cpus: int | None, created: bool = False) -> int:
    import ray
    from ray import tune

    from raybo.app.capacity import check_trial_fits
    from raybo.app.progress import ray_init_kwargs

    opts = info["options"]
    experiments: dict[str, str] = info["experiments"]
    started = not ray.is_initialized()
    runs: list[TuningRun] = []
    try:
        if started:
            ray.init(**ray_init_kwargs(verbose), **({"num_cpus": num_cpus} if num_cpus else {}))
        # before the run directory is announced: a refused request leaves none behind
        check_trial_fits(opts["cpus_per_trial"], opts["gpus_per_trial"], names=RESOURCE_OPTIONS)
        data = f" on {opts['data']['name']}" if opts.get("data") else ""
        print(f"raybo: {'resuming' if resume else 'tuning'} {opts['arch']}{data} with "
              f"{' and '.join(experiments)} search: {_plural(opts['trials'], 'trial')} x "
              f"{_plural(opts['epochs'], 'epoch')}, {opts['concurrent']} at a time, "
              f"{_goal(opts)}; run directory {run_dir}", flush=True)
        for warning in budget_warnings(opts, list(experiments)):
            print(f"raybo: warning: {warning}", file=sys.stderr, flush=True)
        for searcher, path in experiments.items():
            restore = path if resume and tune.Tuner.can_restore(path) else None
            storage, _, name = path.rpartition("/")
            run = run_tuning(
                searcher=searcher, storage=storage, name=name, resume=restore, progress=True,
                label=f"{searcher:<6} " if len(experiments) > 1 else "", verbose=verbose,
                option_names=RESOURCE_OPTIONS, **opts)
            runs.append(run)
            if run.interrupted:
                break
    except KeyboardInterrupt:
        print(f"\nraybo: interrupted; finish the run with: raybo resume {run_dir}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except ValueError:
        if not resume and not runs and not any(Path(p).exists() for p in experiments.values()):
            _discard(run_dir, created)
        raise
    finally:
        if started and ray.is_initialized():
            ray.shutdown()
    return _report(run_dir, info, runs)


def budget_warnings(opts: dict[str, Any], searchers: list[str]) -> list[str]:
    """What will make the run other than its header says: fewer trials at once than
    ``--concurrent`` (the cluster holds fewer), or a GP search that never leaves its initial
    design. Requires ``ray.is_initialized()``."""
    from raybo.app.capacity import trials_at_once
    from raybo.app.tuning import design_trials

    warnings = []
    cpus, gpus, concurrent = opts["cpus_per_trial"], opts["gpus_per_trial"], opts["concurrent"]
    fits, fixed = trials_at_once(cpus, gpus)
    if fits < concurrent:
        request = f"{cpus:g} CPU" + (f" + {gpus:g} GPU" if gpus else "")
        warnings.append(
            f"--concurrent {concurrent}, but the cluster {'' if fixed else 'now '}holds "
            f"{fits} trial{'' if fits == 1 else 's'} of {request} at once, so at most {fits} "
            f"will run at a time; lower --concurrent or --cpus-per-trial"
            + ("" if fixed else ", or wait for the autoscaler to add nodes"))
    if "gp" in searchers:
        design = design_trials(opts["arch"], opts["trials"], concurrent, opts["epochs"])
        if design >= opts["trials"]:
            warnings.append(
                f"all {opts['trials']} trials will be initial-design (quasi-random) trials: GP "
                f"search suggests only once its design has results, and with --concurrent "
                f"{concurrent} about the first {design} trials are suggested before that; use "
                f"--trials above {design} or a lower --concurrent")
    return warnings


def _goal(opts: dict[str, Any]) -> str:
    """``val_loss (min)``, or each objective and the constraints of a multi-objective run."""
    metrics, modes = opts["metric"], opts["mode"]
    if isinstance(metrics, str):
        metrics, modes = [metrics], [modes]
    goal = " and ".join(f"{m} ({d})" for m, d in zip(metrics, modes))
    limits = opts.get("constraint") or []
    return goal + (f" subject to {', '.join(limits)}" if limits else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _report(run_dir: Path, info: dict[str, Any], runs: list[TuningRun]) -> int:
    print()
    for run in runs:
        if len(info["experiments"]) > 1:
            print(f"{run.searcher_name} search:")
        if run.multi:
            from raybo.app.front import front_line, pareto_table

            print(front_line(run))
            print(pareto_table(run))
        else:
            print(format_table(run))
        counts = [f"{run.count('TERMINATED')} succeeded", f"{run.count('ERROR')} failed",
                  f"{run.count('DIVERGED')} diverged"]
        if run.count("STOPPED"):
            counts.insert(1, f"{run.count('STOPPED')} stopped early by ASHA")
        if run.count("UNFINISHED"):
            counts.append(f"{run.count('UNFINISHED')} unfinished")
        print(f"{len(run.rows)} trials: {', '.join(counts)}")
        if diagnostics_line(run):
            print(diagnostics_line(run))
        if importance_line(run):
            print(importance_line(run))
    if len(runs) == 2:
        print(compare_line(*runs))
    paths = write_outputs(runs, run_dir)
    interrupted = len(runs) < len(info["experiments"]) or any(r.interrupted for r in runs)
    info["finished"] = not interrupted
    for run in runs:  # Tune's own path for each experiment (resolves ~, relative paths)
        info["experiments"][run.searcher_name] = run.experiment_path
    write_run_file(run_dir, info)
    print(f"wrote {run_dir}/: {', '.join(p.name for p in paths.values())}")
    if "best_config" in paths:
        print(retrain_line(runs, paths["best_config"]))
    if interrupted:
        done = sum(r.n_finished for r in runs)
        total = info["options"]["trials"] * len(info["experiments"])
        print(f"interrupted after {done} of {total} trials; finish with: raybo resume {run_dir}")
        return EXIT_INTERRUPTED
    return 0


# ------------------------------------------------------------------ raybo train
def plan_train(args: argparse.Namespace) -> Callable[[], int]:
    config = read_config(args.config)
    check_config_keys(config, args.arch, args.config)
    if args.epochs is not None:
        config["epochs"] = args.epochs
    created = args.out is None or not Path(args.out).exists()
    run_dir = new_run_dir(args.out, f"{args.arch}-train")
    return lambda: _train(args, config, run_dir, created)


def read_config(path: str) -> dict[str, Any]:
    """A nested trainable config from a JSON file; ValueError naming ``--config``."""
    try:
        config = json.loads(Path(path).read_text())
    except OSError as err:
        raise ValueError(f"--config {path}: cannot read it ({err.strerror})") from None
    except ValueError as err:
        raise ValueError(f"--config {path}: not JSON ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"--config {path}: expected a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"--config {path}: unknown keys {unknown}; a config has "
                         f"{', '.join(CONFIG_KEYS)}")
    return config


def check_config_keys(config: dict[str, Any], arch: str, path: str) -> None:
    """ValueError naming ``--config`` and the key when a nested ``optim`` or ``model`` key is not
    one ``arch`` reads (a typo such as ``optim/lrr``, or another architecture's ``model``),
    listing the valid ones: the trainable would otherwise ignore it and train the default."""
    from trainables import default_config, default_space

    defaults, space = default_config(arch), default_space(arch)
    legacy = ("name", "momentum")  # directly in optim: the form before optim/method, still read
    valid = {
        "optim": list(dict.fromkeys([*defaults["optim"], *space["optim"]])),
        "optim/method": ["name", "momentum"],
        "model": list(dict.fromkeys([*defaults["model"], *space["model"]])),
    }
    for section, keys in valid.items():
        head, _, sub = section.partition("/")
        value = config.get(head)
        value = value.get(sub) if sub and isinstance(value, dict) else value
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ValueError(f"--config {path}: {section} must be a JSON object, got "
                             f"{type(value).__name__}")
        unknown = sorted(set(value) - set(keys) - (set(legacy) if section == "optim" else set()))
        if unknown:
            whose = f"{arch}'s model" if section == "model" else section
            raise ValueError(f"--config {path}: unknown key {section}/{unknown[0]}; {whose} "
                             f"takes {', '.join(keys)}")


def _train(args: argparse.Namespace, config: dict[str, Any], run_dir: Path,
           created: bool = False) -> int:
    import ray
    from ray import tune

    from raybo.app.capacity import check_trial_fits
    from raybo.app.progress import EpochLines, quiet_ray, ray_init_kwargs
    from trainables import get_trainable

    started = not ray.is_initialized()
    if started:
        ray.init(**ray_init_kwargs(args.verbose),
                 **({"num_cpus": args.num_cpus} if args.num_cpus else {}))
    try:
        try:
            check_trial_fits(args.cpus_per_trial, args.gpus_per_trial, names=RESOURCE_OPTIONS)
        except ValueError:
            _discard(run_dir, created)  # nothing ran: no empty run directory left behind
            raise
        print(f"raybo: training {args.arch} on {args.config}; run directory {run_dir}",
              flush=True)
        tuner = tune.Tuner(
            with_resources(get_trainable(args.arch), args.cpus_per_trial, args.gpus_per_trial),
            param_space=config,
            tune_config=tune.TuneConfig(num_samples=1, trial_dirname_creator=trial_dirname),
            run_config=tune.RunConfig(
                name=f"{args.arch}-train", storage_path=str((run_dir / "ray_results").resolve()),
                verbose=args.verbose, callbacks=[EpochLines()],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                failure_config=tune.FailureConfig(max_failures=1)),
        )
        with quiet_ray(args.verbose):
            result = tuner.fit()[0]
    finally:
        if started and ray.is_initialized():
            ray.shutdown()
    if result.error is not None:
        print(f"raybo train: the trial failed: {str(result.error).strip().splitlines()[-1]}",
              file=sys.stderr)
        return 1
    if result.checkpoint is not None:
        print(f"final checkpoint: {result.checkpoint.path}/state.pt (model, optimizer, epoch)")
    return 0

