"""The Tune run behind ``raybo tune`` and ``raybo resume``: ``run_tuning`` (usable from Python)
tunes one bundled trainable with GP or random search and returns a ``TuningRun`` whose rows are
read back from the experiment's saved state. Ray, torch and the trainables load only inside the
functions, so the command's parser can import the constants here at no cost.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from raybo.app.results import TuningRun, trial_status
from trainables.metrics import METRICS

ARCHS = ("cnn", "rnn", "lstm", "gru", "seq2seq", "transformer")
SEARCHERS = ("gp", "random")
DEFAULT_TRIALS = 12  # the no-option run finishes in a few minutes on 2 cores
DEFAULT_EPOCHS = 5
# What the default space of each architecture searches (trainables.spaces.default_space; kept
# here so `raybo tune --help` answers without importing Ray; a test keeps the two in step).
SEARCHED_OPTIM = ("method (sgd+momentum, adam, rmsprop+momentum, adamw), lr, weight_decay, "
                  "batch_size")
SEARCHED_MODEL = {
    "cnn": ("channels", "num_layers", "dropout", "activation"),
    "rnn": ("hidden", "num_layers", "dropout", "activation"),
    "lstm": ("hidden", "num_layers", "dropout"),
    "gru": ("hidden", "num_layers", "dropout"),
    "seq2seq": ("cell", "attention", "embedding", "hidden", "num_layers", "dropout"),
    "transformer": ("d_model", "nhead", "num_layers", "dim_feedforward", "dropout", "activation"),
}
# URI schemes Tune's storage reaches through pyarrow.fs.FileSystem.from_uri (Ray 2.60, pyarrow
# >= 16); anything else (ftp://, http://) fails there only once Ray has started.
STORAGE_SCHEMES = ("file", "local", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")


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
    metric: str | list[str] = "val_loss",
    mode: str | list[str] | None = None,
    constraint: list[str] | None = None,
    seed: int = 0,
    storage: str | Path | None = None,
    asha: bool = False,
    max_failures: int = 1,
    data: dict[str, Any] | None = None,
    name: str | None = None,
    verbose: int = 0,
    ray_init: dict[str, Any] | None = None,
    progress: bool = False,
    label: str = "",
    resume: str | None = None,
    option_names: dict[str, str] | None = None,
    prior: dict[str, Any] | None = None,
    prior_confidence: str = "medium",
    warm_start: str | None = None,
) -> TuningRun:
    """Tune ``arch`` on its default space with GP (or random) search; connects to Ray if needed.

    Both searchers keep at most ``concurrent`` trials running. ``mode`` defaults to the
    metric's own direction. ``ray_init``: keyword arguments for ``ray.init`` when Ray is not yet
    initialized (it honours ``RAY_ADDRESS``). ``data``: the ``config["data"]`` spec (default:
    embedded data). ``progress``: print a line per finished trial (prefixed by ``label``).
    ``resume``: path of an interrupted experiment to continue with ``Tuner.restore`` instead
    of starting one (the other arguments must match the original run's). ``storage``: a local
    path (resolved) or a URI Tune's storage accepts (``s3://``, ``gs://``, ``file://``...),
    passed through unchanged. ``option_names``: names for errors about the per-trial request,
    ``{"CPU": ..., "GPU": ...}`` (the CLI passes its option names). ``prior``,
    ``prior_confidence``: GPSearch's (believed-best values); ``warm_start``: an earlier run
    directory of the same architecture whose finished trials GP search starts from.
    ``metric``/``mode`` lists (several objectives) and ``constraint`` (``"inference_ms <= 2"``
    strings) go to GPSearch only; Tune, the progress lines and ``value`` use the first metric
    (Tune 2.60 takes no metric list; README "Several metrics and limits").
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    from raybo import GPSearch
    from raybo.app.capacity import check_trial_fits
    from raybo.app.progress import TrialProgress, quiet_ray, ray_init_kwargs
    from trainables import default_space, get_trainable

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if searcher not in SEARCHERS:
        raise ValueError(f"searcher must be 'gp' or 'random', got {searcher!r}")
    if storage is not None:
        check_storage(str(storage))
    metrics = [metric] if isinstance(metric, str) else list(metric)
    modes = ([mode] if isinstance(mode, str) else list(mode)) if mode else \
        [METRICS.get(m) for m in metrics]
    if len(modes) != len(metrics) or any(m not in ("min", "max") for m in modes):
        raise ValueError(f"mode must be 'min' or 'max' for each metric of {metrics}, got "
                         f"{mode!r}")
    several = len(metrics) > 1 or bool(constraint)
    metric, mode = metrics[0], modes[0]  # what Tune, ASHA and the progress lines see
    if not ray.is_initialized():
        ray.init(**{**ray_init_kwargs(verbose), **(ray_init or {})})
    check_trial_fits(cpus_per_trial, gpus_per_trial, names=option_names)

    trainable = with_resources(get_trainable(arch), cpus_per_trial, gpus_per_trial)
    space = default_space(arch, epochs=epochs, data=data, seed=seed)
    if searcher == "gp":
        objectives = ({"metric": metrics if len(metrics) > 1 else metric,
                       "mode": modes if len(modes) > 1 else mode,
                       "outcome_constraints": constraint} if several else {})
        alg = GPSearch(acquisition=acquisition, seed=seed, prior=prior,
                       prior_confidence=prior_confidence, **objectives)
        if warm_start and not resume:  # a resumed searcher has them in its checkpoint
            alg.warm_start_from(warm_start, metric=metric, mode=mode)
        origin_of, limit = alg.trial_origin, concurrent  # GPSearch enforces the limit itself
    else:
        # A SearchAlgorithm ignores TuneConfig.max_concurrent_trials (Ray only wraps Searchers
        # in a ConcurrencyLimiter); BasicVariantGenerator enforces its own max_concurrent.
        alg = BasicVariantGenerator(random_state=seed, max_concurrent=concurrent)
        origin_of, limit = _random_origin, None
    callback = TrialProgress(metric, mode, trials, echo=progress, origin_of=origin_of,
                             label=label)
    scheduler = ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=1) if asha else None
    name = name or f"{arch}_{searcher}_seed{seed}"
    storage = str(storage or Path("raybo_out") / "ray_results")
    if not is_uri(storage):  # s3://, gs://, file://... go to Tune unchanged
        storage = str(Path(storage).resolve())
    if resume:  # everything below comes back from the experiment directory
        tuner = tune.Tuner.restore(resume, trainable, resume_unfinished=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                search_alg=alg,
                scheduler=scheduler,
                metric=metric,
                mode=mode,
                num_samples=trials,
                max_concurrent_trials=limit,
                # A fresh worker pays ~4.5 s importing torch + Ray Tune (4 starting at once on
                # 2 cores: ~10 s), more than a few embedded-data epochs; reuse keeps imports
                # warm.
                reuse_actors=True,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(storage),
                verbose=verbose,
                callbacks=[callback],
                # Every checkpoint is kept (bundled models: 0.1-13 MB each). With num_to_keep
                # set, Tune forces an experiment snapshot whenever a trial has checkpointed
                # that many times, i.e. at every epoch for num_to_keep=1, and warns that
                # "snapshotting has been triggered multiple times" at nearly every report.
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                failure_config=tune.FailureConfig(max_failures=max_failures),
            ),
        )
    with quiet_ray(verbose):
        grid = tuner.fit()
    run = TuningRun(arch, metric, mode, searcher, [], tuned=_tuned_keys(space),
                    budget=trials, concurrent=concurrent, experiment_path=grid.experiment_path,
                    max_running=callback.max_running if not resume else None,
                    metrics=metrics, modes=modes, constraints=list(constraint or []))
    if searcher == "gp":
        run.searcher = _fitted_searcher(alg, grid.experiment_path)
        run.diagnostics = run.searcher.diagnostics()
        run.importance, run.slices, run.importance_trials = _what_mattered(run.searcher)
        origin_of = run.searcher.trial_origin
    run.rows = _rows(grid, metric, origin_of)
    return run


def design_trials(arch: str, trials: int, concurrent: int, epochs: int = DEFAULT_EPOCHS) -> int:
    """About how many trials GP search suggests from its quasi-random initial design in a run of
    ``trials``: it waits for ``D`` successful results (``raybo.design.design_size`` of the
    default space) and suggests ``concurrent - 1`` more design points while the first ``D``
    run. Can exceed ``trials``: then the GP never suggests one."""
    from raybo.design import design_size
    from raybo.space import SearchSpace
    from trainables import default_space

    dim = SearchSpace(default_space(arch, epochs=epochs)).dim
    return design_size(dim, None, trials) + concurrent - 1


def _random_origin(trial_id: str) -> str:
    return "random"


def trial_dirname(trial: Any) -> str:
    """Short trial directory names (Tune's default appends every parameter value)."""
    return f"{trial.trainable_name}_{trial.trial_id}"


def _tuned_keys(space: dict[str, Any]) -> list[str]:
    """Flattened keys of the space's Tune domains (what the search varies), in space order."""
    from ray.tune.search.sample import Categorical, Domain
    from ray.tune.utils import flatten_dict

    keys: list[str] = []
    for k, v in flatten_dict(space, delimiter="/").items():
        if isinstance(v, Categorical) and any(isinstance(c, dict) for c in v.categories):
            # a conditional choice (e.g. optim/method): the keys of its options, as trials see them
            for option in v.categories:
                if isinstance(option, dict):
                    keys += [f"{k}/{sub}" for sub in flatten_dict(option, delimiter="/")
                             if f"{k}/{sub}" not in keys]
        elif isinstance(v, Domain):
            keys.append(k)
    return keys


def with_resources(fn: Any, cpus: float, gpus: float) -> Any:
    """``tune.with_resources`` stores the request as an attribute of the function it is given;
    wrap first, so the shared ``trainables`` functions stay unmodified for other callers."""
    from ray import tune

    def trial(config: dict[str, Any]) -> None:
        fn(config)

    trial.__name__ = trial.__qualname__ = fn.__name__  # Tune names trials after it
    return tune.with_resources(trial, {"cpu": cpus, "gpu": gpus})


def is_uri(path: str) -> bool:
    """``scheme://...`` as Tune's storage (pyarrow.fs) reads it; a one-letter scheme is a
    Windows drive, not a URI."""
    return len(urlparse(path).scheme) > 1


def check_storage(storage: str, option: str = "storage") -> None:
    """ValueError naming ``option`` unless it is a local path or a URI whose scheme Tune's
    storage can write to (``STORAGE_SCHEMES``); decided from the text alone, no network."""
    if is_uri(storage):
        scheme = urlparse(storage).scheme.lower()
        if scheme not in STORAGE_SCHEMES:
            raise ValueError(
                f"{option} {storage}: Tune cannot store results at {scheme}:// URIs; give a "
                f"local path or a URI of {', '.join(s + '://' for s in STORAGE_SCHEMES)}")


def _fitted_searcher(alg: Any, experiment_path: str) -> Any:
    """The searcher with every result. Tune drives it in this process, except under Ray Client
    or after ``Tuner.restore``, where it works on a copy and saves that copy's state to the
    experiment directory."""
    from raybo import GPSearch

    try:
        alg.diagnostics()
    except RuntimeError:  # never given a space or metric: this object was not the one used
        alg = GPSearch()
        alg.restore_from_dir(experiment_path)
    return alg


def _what_mattered(searcher: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Importance rows, slices and trial count of the searcher's GP; empty with fewer than 3
    successful trials or a GP that cannot be fitted (the diagnostics line says which)."""
    from raybo.sensitivity import what_mattered
    from raybo.surrogate import FitError

    try:
        imp, slices = what_mattered(searcher)
    except (ValueError, FitError):
        return [], [], 0
    return imp.rows(), slices, imp.n_trials


# Tune's own bookkeeping keys in a result; "time_total_s" (seconds the trial trained) stays.
_TUNE_KEYS = {"training_iteration", "time_this_iter_s", "timestamp", "date", "time_since_restore",
              "iterations_since_restore", "timesteps_total", "episodes_total",
              "timesteps_since_restore", "node_ip", "hostname", "pid", "config", "trial_id",
              "checkpoint_dir_name", "done", "experiment_tag", "should_checkpoint"}


def _rows(grid: Any, metric: str, origin_of: Any) -> list[dict[str, Any]]:
    """One row per trial in creation order (numbered from 1), from the experiment's saved state
    (ids, statuses, order) and the ResultGrid (last report, config, exception)."""
    from ray.tune import ExperimentAnalysis

    from raybo.app.progress import creation_order

    trials = creation_order(ExperimentAnalysis(grid.experiment_path).trials)
    by_path = {str(r.path): r for r in grid}
    rows = []
    for number, trial in enumerate(trials, start=1):
        result = by_path.get(str(trial.path))
        metrics = dict(result.metrics or {}) if result is not None else dict(trial.last_result)
        error = result.error if result is not None else None
        value = metrics.get(metric)
        value = float(value) if isinstance(value, (int, float)) else math.nan
        config = result.config if result is not None else trial.config
        status, stopped_at = trial_status(trial.status, error is not None, value, metrics,
                                          config)
        rows.append({
            "trial": number,
            "trial_id": trial.trial_id,
            "status": status,
            "stopped_at": stopped_at,
            "origin": origin_of(trial.trial_id) or "",
            "value": value,
            "metrics": {k: v for k, v in metrics.items() if k not in _TUNE_KEYS},
            "config": config,
            "error": _first_line(error),
        })
    return rows


def _first_line(error: Any) -> str:
    if error is None:
        return ""
    lines = [ln for ln in str(error).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else type(error).__name__
