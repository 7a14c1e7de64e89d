"""The ``suite`` command's arguments: every subcommand and flag, with its help text."""

from __future__ import annotations

import argparse

from suite.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits; we want one line
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    """The parser of ``suite``: its errors raise UsageError (one line, exit 2), never argparse's usage dump."""
    parser = _Parser(prog="suite", description="Benchmark optimizers on synthetic loss landscapes.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lst = sub.add_parser("list", help="list landscapes, optimizers and wrappers with their parameters")
    _plugin_flag(lst)

    check = sub.add_parser(
        "check", help="run the conformance battery on landscapes or optimizers",
        description="Run the conformance battery on registered landscapes and optimizers "
                    "(all of them when no NAME is given) and print each check with the reason "
                    "it failed. Parameters default to the plugin's test_config; NAME:k=v sets "
                    "them, and a comma-separated value checks each value.")
    check.add_argument("names", nargs="*", metavar="NAME[:k=v...]", help="landscape, optimizer or wrapper")
    _plugin_flag(check)

    run = sub.add_parser(
        "run", help="run a benchmark (the built-in default when given nothing)",
        description="Run a benchmark from a TOML config and/or flags. --landscape and "
                    "--optimizer replace the config's lists; with neither, the built-in "
                    "default benchmark's are used. A comma-separated value is a sweep.")
    run.add_argument("config", nargs="?", help="TOML config file")
    run.add_argument("--landscape", action="append", default=[], metavar="NAME[:k=v...]",
                     help="landscape with parameters, e.g. bowl:dim=10:condition=10,1000 (repeatable)")
    run.add_argument("--optimizer", action="append", default=[], metavar="NAME[:k=v...][+WRAPPER[:k=v...]]",
                     help="optimizer with hyperparameters and wrappers, e.g. adam:learning_rate=1e-3,1e-2 "
                          "or adam+stale:tau=8 (repeatable)")
    run.add_argument("--wrap", action="append", default=[], metavar="WRAPPER[:k=v...]",
                     help="wrap every optimizer, outside its own wrappers, e.g. noise:eta=0.3 (repeatable)")
    run.add_argument("--restarts", type=_int("--restarts"), help="random restarts per cell")
    run.add_argument("--instances", type=_int("--instances"),
                     help="random instances of each landscape setting (default 1)")
    run.add_argument("--steps", type=_int("--steps"), help="optimizer steps per restart")
    run.add_argument("--seed", type=_int("--seed"), help="root of every random draw")
    run.add_argument("--batch", type=_int("--batch"), help="most restarts per compiled batch (0: automatic)")
    run.add_argument("--chunk", type=_int("--chunk"), help="steps per chunk (0: sized to about a second each)")
    run.add_argument("--matmul-precision", metavar="P",
                     help="float32 matrix multiplies: default (TF32 on recent GPUs), float32, tensorfloat32 "
                          "or bfloat16 (faster, less precise)")
    run.add_argument("--precision", metavar="P",
                     help="float32 (default) or float64 (JAX's x64 mode) for every point, loss and "
                          "summary: float64 when a target is finer than float32 resolves at f*")
    run.add_argument("--stop-at-target", action="store_true", default=None,
                     help="fixed-target mode: a restart stops when it reaches the last target, and its "
                          "final loss is the loss there (default: every restart runs every step; "
                          "final loss is f(x_T))")
    run.add_argument("--tuning", metavar="MODE",
                     help="how hyperparameters you leave unset are tuned: grid (each optimizer's declared "
                          "sweep; the default) or budget:N (exactly N quasi-random settings per optimizer)")
    run.add_argument("--devices", type=_int("--devices"),
                     help="local devices the restarts shard over (0, the default: all of them)")
    run.add_argument("--out", metavar="RUN_DIR", help="the run folder (default: reports/<run-id>/)")
    _plugin_flag(run)
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run, skipping finished cells")
    run.add_argument("--extend", metavar="RUN_DIR",
                     help="add the --optimizer entries to a run under its own conditions (landscapes, seed, "
                          "restarts, steps, targets, ...: the same starts), then rewrite its tables and report")
    run.add_argument("--part", metavar="I/N",
                     help="run only the I-th of N deterministic shares of the cells (a job of a SLURM array); "
                          "parts share --out or use their own; suite run --resume or suite report gathers them")
    run.add_argument("--rerun-stale", action="store_true",
                     help="run again the cells of the run folder that ran under other conditions (restarts, "
                          "steps, seed, targets, precision, ...) than its config now says, instead of refusing")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-report", action="store_true", help="do not write report.html at the end")
    run.add_argument("--distributed", action="store_true",
                     help="one of several processes (hosts): start JAX's multi-process runtime; every "
                          "process runs its share of the restarts and process 0 writes the run folder")
    run.add_argument("--coordinator", metavar="HOST:PORT",
                     help="with --distributed: process 0's address (default $JAX_COORDINATOR_ADDRESS)")
    run.add_argument("--num-processes", type=_int("--num-processes"),
                     help="with --distributed: how many processes (default $JAX_NUM_PROCESSES)")
    run.add_argument("--process-id", type=_int("--process-id"),
                     help="with --distributed: this process's index (default $JAX_PROCESS_ID)")
    run.add_argument("--compile-cache", metavar="DIR",
                     help="JAX's persistent compilation cache: a folder, or 'off' (default: "
                          "$SUITE_COMPILE_CACHE, else ~/.cache/suite/jax)")
    run.add_argument("--diagnose", metavar="NAMES",
                     help="landscape diagnostics, comma-separated: hessian, layers, path, minima, "
                          "pictures, sparsity, or all (default: none)")
    run.add_argument("--diagnose-restarts", type=_int("--diagnose-restarts"),
                     help="restarts per cell the end-point diagnostics examine (default 0: all "
                          "on landscapes of up to 100 coordinates, else 64)")

    report = sub.add_parser(
        "report", help="write the self-contained HTML report of a run folder (or compare several)",
        description="Write one self-contained HTML file (figures embedded, works offline) from a "
                    "run folder alone: leaderboards, convergence, ECDFs, profiles, stability. A "
                    "partial run renders too and says what is missing. Several run folders made under "
                    "the same conditions are merged into one leaderboard, each entry named with its run.")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="a run folder written by suite run; several: compatible runs compared in one report")
    report.add_argument("--out", metavar="FILE.html",
                        help="where to write it (default: RUN_DIR/report.html; comparing runs: "
                             "compare-A-B.html beside the first)")
    report.add_argument("--allow-mismatch", action="store_true",
                        help="compare runs made under different conditions (seed, restarts, steps, targets, "
                             "...), flagging every landscape where they differ, instead of refusing")
    _plugin_flag(report, "with report sections")
    report.add_argument("--quiet", action="store_true", help="print only the path written")

    publish = sub.add_parser(
        "publish", help="build a static site of run reports",
        description="Copy each run's report and raw tables into a static site with an index "
                    "of runs (date, landscapes, optimizers, device, headline ranking). Runs "
                    "already in the site are kept; publishing a run again replaces it.")
    publish.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to publish")
    publish.add_argument("--site", required=True, metavar="DIR", help="the site folder (created if needed)")
    _plugin_flag(publish, "with report sections")
    _study(sub)
    _export(sub)
    return parser


def _export(sub) -> None:
    export = sub.add_parser(
        "export", help="write a run in COCO's or IOHprofiler's format, for cocopp, IOHanalyzer and iohinspector",
        description="Write a run folder's results in the format of the field's own analysis tools: coco (the "
                    ".info/.dat/.tdat files that cocopp reads; one algorithm folder per entry) or ioh "
                    "(IOHprofiler's .json and .dat files that IOHanalyzer and iohinspector read).")
    export.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by suite run")
    export.add_argument("--format", required=True, metavar="FORMAT", dest="format", help="coco or ioh")
    export.add_argument("--out", required=True, metavar="DIR", help="the folder to write (created if needed)")
    export.add_argument("--quiet", action="store_true", help="print only the folder written")


def _study(sub) -> None:
    study = sub.add_parser(
        "study", help="reproduce a difficulty of training as a published claim, with a verdict",
        description="A study is a run config plus a published claim and a check: it runs the experiment, "
                    "draws theory beside measurement at the top of the report, and says reproduced or "
                    "not, with the numbers (study.json in the run folder).")
    actions = study.add_subparsers(dest="action", required=True, parser_class=_Parser)
    lst = actions.add_parser("list", help="list the studies with their claims")
    _plugin_flag(lst, "with studies")
    run = actions.add_parser(
        "run", help="run studies and give their verdicts",
        description="Run one or more studies (all: every one) at a size: tiny (seconds, checks the "
                    "machinery, too small for a verdict), small (minutes on a laptop CPU, the default) "
                    "or full (the published scale, for a GPU). Each study is an ordinary run folder: "
                    "suite report, suite publish and suite run --resume work on it.")
    run.add_argument("names", nargs="+", metavar="NAME", help="a study name, or all")
    run.add_argument("--size", default="small", metavar="SIZE", help="tiny, small (default) or full")
    run.add_argument("--out", metavar="DIR",
                     help="the run folder of one study; with several, the folder that holds one per study "
                          "(default: reports/studies/<size>/<name>)")
    _plugin_flag(run, "with studies")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-report", action="store_true", help="do not write report.html at the end")
    run.add_argument("--resume", action="store_true",
                     help="continue the studies whose folders hold an interrupted (or finished) run of the same "
                          "study and size, and start the others")
    run.add_argument("--compile-cache", metavar="DIR",
                     help="JAX's persistent compilation cache: a folder, or 'off'")


def _plugin_flag(parser, what: str = "") -> None:
    """``--plugin FILE.py`` (repeatable): a single-file plugin, ``what`` saying what it brings."""
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help=f"load a single-file plugin{' ' + what if what else ''} (repeatable)")


def _int(flag):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer; got {text!r}") from None
    return parse
