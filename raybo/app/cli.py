"""The ``raybo`` command: ``raybo tune ARCH`` tunes one of the bundled PyTorch trainables,
``raybo resume DIR`` finishes an interrupted run, ``raybo train ARCH --config FILE`` trains one
config (e.g. a run's best_config.json).

Parsing and validation happen here with nothing heavy imported (torch and Ray load only once a
run starts), so ``--help`` and bad options answer at once; every option error names the option.
What each subcommand then does is in ``commands.py``; the Tune run (``run_tuning``, usable from
Python) in ``tuning.py``; the end-of-run text and files in ``report.py``, progress lines in
``progress.py``, run directories in ``rundir.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from raybo.app.rundir import RunDirError
from raybo.app.tuning import (
    ARCHS,
    DEFAULT_EPOCHS,
    DEFAULT_TRIALS,
    SEARCHED_MODEL,
    SEARCHED_OPTIM,
    SEARCHERS,
)
from trainables.metrics import (
    ARCHS_FOR_KIND,
    DATA_KIND,
    DEFAULT_KIND,
    METRICS,
    TOKEN_ONLY,
    metrics_for,
)
from trainables.sources import LABEL_COLUMNS, TEXT_COLUMNS, WHAT, check_data

ACQUISITIONS = ("logei", "ei", "pi", "ucb")
# run_tuning's parameter names -> the options a user typed, for errors raised below the CLI
OPTION_OF = {"cpus_per_trial": "--cpus-per-trial", "gpus_per_trial": "--gpus-per-trial",
             "max_failures": "--max-failures", "concurrent": "--concurrent",
             "trials": "--trials", "epochs": "--epochs", "storage": "--storage"}

METRIC_HELP = (f"result key to optimize: {', '.join(m for m in METRICS if m not in TOKEN_ONLY)}"
               f"; also {', '.join(sorted(TOKEN_ONLY))} for "
               f"{'/'.join(a for a, k in DEFAULT_KIND.items() if k != 'image')} "
               "(default val_loss)")
DESCRIPTION = ("Tune the bundled PyTorch trainables with Ray Tune and raybo's GP search: `raybo "
               "tune ARCH` runs a search, `raybo resume DIR` finishes an interrupted one, `raybo "
               "train ARCH --config FILE` trains one config (e.g. a run's best_config.json).")
SEARCHED_HELP = ("what each architecture searches (ranges in trainables/spaces.py):\n"
                 f"  {'all:':<13}optim {SEARCHED_OPTIM}\n"
                 + "".join(f"  {arch + ':':<13}model {', '.join(keys)}\n"
                           for arch, keys in SEARCHED_MODEL.items()))


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show (None, a flag) or the
    help already says it; text with line breaks (the epilog's table) keeps its lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


# ------------------------------------------------------------------ arguments
class _Parser(argparse.ArgumentParser):
    """An option error is one line naming the option (argparse would print the whole usage
    block first) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raybo", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("tune", help="tune a bundled PyTorch trainable with Ray Tune",
                       formatter_class=_HelpFormatter, epilog=SEARCHED_HELP,
                       description="Tune a bundled trainable; one line per finished trial, then "
                       "a table, trials.csv/json, best_config.json and plots in the run "
                       "directory (see --out). Ctrl-C stops it; `raybo resume DIR` finishes it.")
    p.add_argument("arch", choices=ARCHS, help="architecture to tune")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help="number of trials")
    p.add_argument("--concurrent", type=int, default=2, help="trials running at once")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per trial")
    _resource_options(p)
    p.add_argument("--searcher", choices=SEARCHERS, default="gp",
                   help="gp: raybo's Gaussian-process Bayesian optimization (GPSearch); "
                   "random: Tune's random search")
    p.add_argument("--compare-random", action="store_true",
                   help="also run random search at the same budget and concurrency, and draw "
                   "both in trajectory.png")
    p.add_argument("--acquisition", choices=ACQUISITIONS, default="logei",
                   help="what GP search maximizes to pick the next config: logei (log "
                   "expected improvement), ei (expected improvement), pi (probability of "
                   "improvement), ucb (upper confidence bound)")
    _objective_options(p)
    p.add_argument("--seed", type=int, default=0, help="seeds the searcher and the training")
    p.add_argument("--storage", default=None,
                   help="Tune storage path or URI (default OUT/ray_results)")
    p.add_argument("--asha", action="store_true", help="stop poor trials early (ASHA on epochs)")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a crashed trial")
    p.add_argument("--out", default=None, help="run directory, new or empty (default: a new "
                   "raybo_out/ARCH-SEARCHER-TIMESTAMP)")
    _data_options(p)
    _prior_options(p)
    _common_options(p)

    r = sub.add_parser("resume", help="finish an interrupted `raybo tune` run",
                       formatter_class=_HelpFormatter,
                       description="Resume the Tune experiment(s) of a run directory with "
                       "Tuner.restore: finished trials are kept, unfinished ones continue from "
                       "their last checkpoint, and the outputs are rewritten.")
    r.add_argument("run_dir", help="the run directory (holds run.json)")
    _common_options(r)

    t = sub.add_parser("train", help="train one config, e.g. a run's best_config.json",
                       formatter_class=_HelpFormatter,
                       description="Train one fixed config of a bundled trainable as a single "
                       "Tune trial; prints every epoch and the final checkpoint.")
    t.add_argument("arch", choices=ARCHS, help="architecture")
    t.add_argument("--config", required=True, help="JSON file with the nested config")
    t.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    _resource_options(t)
    t.add_argument("--out", default=None, help="run directory (default: a new "
                   "raybo_out/ARCH-train-TIMESTAMP)")
    _common_options(t)
    for s in (p, r, t):
        s.set_defaults(subparser=s)  # so value errors print the subcommand's usage
    return parser


def _resource_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial (0.25 ok)")


# keys of config["data"] -> the options that set them
DATA_OPTION = {"path": "--data-path", "root": "--data-root", "text_column": "--text-column",
               "label_column": "--label-column"}


def _data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: digits for cnn/rnn/lstm/gru, the generated reverse "
                             "task for seq2seq/transformer)")
    g.add_argument("--data", choices=tuple(DATA_KIND), default=None, metavar="NAME",
                   help="; ".join(f"{n}: {w}" for n, w in WHAT.items()))
    where = g.add_mutually_exclusive_group()
    where.add_argument("--data-path", default=None, metavar="FILE",
                       help="the file of --data text, tsv or csv")
    where.add_argument("--data-root", default=None, metavar="DIR",
                       help="the directory of --data mnist or cifar10")
    g.add_argument("--text-column", default=None, help="--data csv: the text column (default: "
                   f"the first of {', '.join(TEXT_COLUMNS)})")
    g.add_argument("--label-column", default=None, help="--data csv: the label column "
                   f"(default: the first of {', '.join(LABEL_COLUMNS)})")


def data_spec(args: argparse.Namespace) -> dict[str, Any] | None:
    """``config["data"]`` from the data options (absolute paths: trials run in their own
    directories); None without ``--data``. ValueError naming the option for anything missing,
    checked here before Ray starts."""
    if args.data is None:
        for key, option in DATA_OPTION.items():
            if getattr(args, key if "column" in key else f"data_{key}") is not None:
                raise ValueError(f"{option} needs --data NAME")
        return None
    kind = DATA_KIND[args.data]
    if args.arch not in ARCHS_FOR_KIND[kind]:
        raise ValueError(f"--data {args.data} ({WHAT[args.data]}) trains "
                         f"{', '.join(ARCHS_FOR_KIND[kind])}, not {args.arch}")
    spec: dict[str, Any] = {"name": args.data}
    for key in ("path", "root"):
        value = getattr(args, f"data_{key}")
        if value is not None:
            spec[key] = str(Path(value).expanduser().resolve())
    for key in ("text_column", "label_column"):
        if getattr(args, key) is not None:
            if args.data != "csv":
                raise ValueError(f"{DATA_OPTION[key]} is for --data csv")
            spec[key] = getattr(args, key)
    try:
        check_data(spec, names=DATA_OPTION)
    except ValueError as err:
        raise ValueError(f"--data {args.data}: {err}") from None
    return spec


def _prior_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prior", action="append", default=None, metavar="KEY=VALUE",
                   help="believed-best value of a parameter, e.g. optim.lr=1e-3 (repeat for "
                   "more; keys as in best_config.json, levels joined by '.')")
    p.add_argument("--prior-confidence", choices=("low", "medium", "high"), default="medium",
                   help="how sure the --prior values are (default medium)")
    p.add_argument("--warm-start", default=None, metavar="RUN_DIR",
                   help="start from the finished trials of an earlier `raybo tune` run of the "
                   "same architecture, as observations")


def parse_prior(items: list[str] | None) -> dict[str, object] | None:
    """``["optim.lr=1e-3", "act=relu"]`` -> ``{"optim/lr": 0.001, "act": "relu"}`` (values read
    as JSON where they parse, else kept as text); ValueError naming ``--prior``."""
    if not items:
        return None
    prior: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--prior {item!r}: expected KEY=VALUE, e.g. optim.lr=1e-3")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        prior[key.strip().replace(".", "/")] = value
    return prior


def _objective_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", action="append", default=None,
                   help=METRIC_HELP + "; repeat for several objectives (a Pareto front: "
                   "pareto.csv, pareto.png), e.g. --metric val_loss --metric n_params")
    p.add_argument("--mode", action="append", choices=("min", "max"), default=None,
                   help="one per --metric, in order (default: each metric's own: max for "
                   "val_accuracy, else min)")
    p.add_argument("--constraint", action="append", default=None, metavar="'METRIC <= BOUND'",
                   help="a limit on another reported metric, e.g. 'inference_ms <= 2' (repeat "
                   "for more); trials breaking one are infeasible, never on the front")


def objectives(args: argparse.Namespace, valid: list[str]) -> None:
    """Check ``--metric``/``--mode``/``--constraint`` and set ``args.metric``/``args.mode``
    (a string for one metric, as before; lists for several) and ``args.constraint`` (a list
    of constraint strings, or None); ValueError naming the option."""
    from raybo.outcomes import parse_constraint

    metrics = args.metric or ["val_loss"]
    for m in metrics:
        if m not in valid:
            raise ValueError(f"--metric {m!r}: {args.arch} reports {', '.join(valid)}")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"--metric given twice for the same metric: {metrics}")
    modes = args.mode or [METRICS[m] for m in metrics]
    if len(modes) != len(metrics):
        raise ValueError(f"--mode given {len(modes)} times for {len(metrics)} --metric; give "
                         "one --mode per --metric, in order, or none (each metric's default)")
    constraints = []
    for text in args.constraint or []:
        try:
            c = parse_constraint(text)
        except ValueError as err:
            raise ValueError(f"--constraint {text!r}: "
                             f"{str(err).split(': ', 1)[-1]}") from None
        if c.metric in metrics:
            raise ValueError(f"--constraint {text!r} limits the objective {c.metric!r}; "
                             "constrain other metrics only")
        if c.metric not in valid:
            raise ValueError(f"--constraint {text!r}: {args.arch} reports {', '.join(valid)}")
        constraints.append(c.text())
    if len(metrics) > 1 and args.compare_random:
        raise ValueError("--compare-random compares one metric's best values; with several "
                         "--metric use --searcher random in a separate run")
    if (len(metrics) > 1 or constraints) and args.warm_start:
        raise ValueError("--warm-start reads one metric; drop it with several --metric or "
                         "--constraint")
    if len(metrics) > 1 and args.asha:
        raise ValueError("--asha stops trials on one metric; drop it with several --metric")
    args.metric = metrics[0] if len(metrics) == 1 else metrics
    args.mode = modes[0] if len(modes) == 1 else modes
    args.constraint = constraints or None


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs when starting Ray locally")
    p.add_argument("--verbose", type=int, nargs="?", const=1, default=0, choices=(0, 1, 2),
                   help="show Ray's own output (1) and every result (2)")


def validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject bad option values with a one-line error naming the option (exit code 2)."""
    parser = getattr(args, "subparser", parser)
    for name in ("trials", "concurrent", "epochs"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}")
    if hasattr(args, "cpus_per_trial"):
        if not args.cpus_per_trial > 0:
            parser.error(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial}")
        g = args.gpus_per_trial
        if not g >= 0:
            parser.error(f"--gpus-per-trial must be >= 0, got {g}")
        if g > 1 and g != int(g):
            parser.error(f"--gpus-per-trial above 1 must be a whole number of GPUs, got {g}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be >= 1, got {args.num_cpus}")
    if args.command != "tune":
        return
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.max_failures < 0:
        parser.error(f"--max-failures must be >= 0, got {args.max_failures}")
    try:
        args.data_spec = data_spec(args)
    except ValueError as err:
        parser.error(str(err))
    valid = metrics_for(DATA_KIND[args.data] if args.data else DEFAULT_KIND[args.arch])
    try:
        objectives(args, valid)
    except ValueError as err:
        parser.error(str(err))
    if args.compare_random and args.searcher != "gp":
        parser.error("--compare-random runs random search beside GP; drop --searcher random")
    if (args.prior or args.warm_start) and args.searcher != "gp":
        parser.error("--prior and --warm-start guide GP search; drop --searcher random")
    try:
        args.prior = parse_prior(args.prior)
    except ValueError as err:
        parser.error(str(err))
    if args.warm_start and not (Path(args.warm_start) / "trials.json").is_file():
        parser.error(f"--warm-start {args.warm_start}: not a finished raybo run directory "
                     "(no trials.json)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    validate(parser, args)
    return args


def cli_message(message: str) -> str:
    """An error raised below the CLI, with Python parameter names replaced by the options a
    user typed (``gpus_per_trial=0.5 exceeds ...`` -> ``--gpus-per-trial 0.5 exceeds ...``)."""
    for name, option in OPTION_OF.items():
        message = re.sub(rf"\b{name}=", f"{option} ", message)
        message = re.sub(rf"\b{name}\b", option, message)
    return message


# ------------------------------------------------------------------ entry point
def main(argv: list[str] | None = None) -> int:
    """``raybo`` console script; returns the exit code (2: bad option, checked before Ray)."""
    from raybo.app import commands

    parser = build_parser()
    args = parser.parse_args(argv)
    validate(parser, args)
    try:
        if args.command == "tune":
            plan = commands.plan_tune(args)
        elif args.command == "resume":
            plan = commands.plan_resume(args)
        else:
            plan = commands.plan_train(args)
    except (RunDirError, ValueError) as err:
        args.subparser.error(str(err))
    try:
        return plan()
    except ValueError as err:  # raised before any trial ran (resources, restore arguments)
        print(f"raybo {args.command}: error: {cli_message(str(err))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
