"""The ``suite`` command: ``list``, ``check``, ``run``, ``report`` and ``publish``.

Errors a user can cause print one line (``suite: error: ...``) and exit with
code 2; a run in which some cells failed exits with code 1 after saving every
other cell; an interrupted run exits with 130 and keeps what finished.
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from importlib import resources
from pathlib import Path

from suite.errors import UsageError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits; we want one line
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="suite", description="Benchmark optimizers on synthetic loss landscapes.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lst = sub.add_parser("list", help="list landscapes, optimizers and wrappers with their parameters")
    lst.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                     help="load a single-file plugin (repeatable)")

    check = sub.add_parser(
        "check", help="run the conformance battery on landscapes or optimizers",
        description="Run the conformance battery on registered landscapes and optimizers "
                    "(all of them when no NAME is given) and print each check with the reason "
                    "it failed. Parameters default to the plugin's test_config; NAME:k=v sets "
                    "them, and a comma-separated value checks each value.")
    check.add_argument("names", nargs="*", metavar="NAME[:k=v...]", help="landscape, optimizer or wrapper")
    check.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                       help="load a single-file plugin (repeatable)")

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
    run.add_argument("--chunk", type=_int("--chunk"), help="steps per compiled chunk (0: automatic)")
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
    run.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                     help="load a single-file plugin (repeatable)")
    run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run, skipping finished cells")
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
                          "pictures, or all (default: none)")
    run.add_argument("--diagnose-restarts", type=_int("--diagnose-restarts"),
                     help="restarts per cell the end-point diagnostics examine (default 0: all "
                          "on landscapes of up to 100 parameters, else 64)")

    report = sub.add_parser(
        "report", help="write the self-contained HTML report of a run folder",
        description="Write one self-contained HTML file (figures embedded, works offline) from a "
                    "run folder alone: leaderboards, convergence, ECDFs, profiles, stability. A "
                    "partial run renders too and says what is missing.")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by suite run")
    report.add_argument("--out", metavar="FILE.html", help="where to write it (default: RUN_DIR/report.html)")
    report.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="load a single-file plugin with report sections (repeatable)")
    report.add_argument("--quiet", action="store_true", help="print only the path written")

    publish = sub.add_parser(
        "publish", help="build a static site of run reports",
        description="Copy each run's report and raw tables into a static site with an index "
                    "of runs (date, landscapes, optimizers, device, headline ranking). Runs "
                    "already in the site are kept; publishing a run again replaces it.")
    publish.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to publish")
    publish.add_argument("--site", required=True, metavar="DIR", help="the site folder (created if needed)")
    publish.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                         help="load a single-file plugin with report sections (repeatable)")
    return parser


def _int(flag):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer; got {text!r}") from None
    return parse


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            return _list(args)
        if args.command == "check":
            return _check(args)
        if args.command == "report":
            return _report(args)
        if args.command == "publish":
            return _publish(args)
        return _run(args, argv)
    except UsageError as exc:
        print(f"suite: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the run loop: no traceback
        print("suite: interrupted (finished cells are kept; continue a run with --resume RUN_DIR)",
              file=sys.stderr)
        return EXIT_INTERRUPTED


# --- suite list -------------------------------------------------------------------


def _list(args) -> int:
    from rich.console import Console

    from suite.registry import load_registry

    registry = load_registry(local_files=args.plugin)
    console = Console()
    for kind, specs in (("Landscapes", registry.landscapes), ("Optimizers", registry.optimizers),
                        ("Wrappers (chain onto any optimizer: adam+stale:tau=8)", registry.wrappers)):
        console.print(f"[bold underline]{kind}[/bold underline]")
        for name in sorted(specs):
            spec = specs[name]
            console.print(f"\n[bold cyan]{name}[/bold cyan] [dim]({spec.plugin})[/dim]", highlight=False)
            console.print(f"  {spec.doc}", highlight=False)
            for p in spec.params:
                console.print(f"  [green]{p.name}[/green] = {p.default!r}  [dim]{p.describe()}[/dim]"
                              f"  {p.doc}", highlight=False)
                sweep = getattr(spec, "sweep", {}).get(p.name)
                if sweep:
                    console.print(f"      default sweep: {', '.join(f'{v:g}' for v in sweep)}",
                                  highlight=False)
        console.print()
    console.print("[bold underline]Report sections[/bold underline] (suite report lays them out by order)")
    for spec in sorted(registry.sections.values(), key=lambda s: (s.scope != "run", s.order, s.name)):
        console.print(f"  [bold cyan]{spec.name}[/bold cyan] [dim]({spec.plugin}; {spec.scope}, "
                      f"order {spec.order})[/dim] {spec.title}: {spec.doc}", highlight=False)
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    return EXIT_OK


# --- suite check ------------------------------------------------------------------


def _check(args) -> int:
    from rich.console import Console

    from suite import config as cfg
    from suite.conformance import check_landscape, check_optimizer, check_wrapper
    from suite.errors import choices
    from suite.registry import load_registry

    registry = load_registry(local_files=args.plugin)
    tables = (("landscape", registry.landscapes), ("optimizer", registry.optimizers),
              ("wrapper", registry.wrappers))
    targets = []  # (kind, spec, values)
    for text in args.names or [n for _, table in tables for n in sorted(table)]:
        name, raw = cfg.parse_component(text, "suite check")
        specs = [(kind, found[name]) for kind, found in tables if name in found]
        if not specs:
            raise UsageError(f"unknown landscape, optimizer or wrapper {name!r}; choose from: "
                             f"{choices([n for _, table in tables for n in table])}")
        for kind, spec in specs:
            base = {k: (v,) for k, v in spec.test_config.items()}
            for values in cfg.expand(spec.params, raw, f"{kind} {name!r}", base):
                targets.append((kind, spec, values))
    console = Console(soft_wrap=True)  # one line per check, whatever the terminal width
    for problem in registry.problems:
        console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    marks = {"passed": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[dim]-[/dim]"}
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for kind, spec, values in targets:
        console.print(f"[bold]{kind} {spec.name}[/bold] [dim]({spec.plugin})[/dim] "
                      f"{cfg.label(spec.name, values)}", highlight=False)
        run = {"landscape": check_landscape, "optimizer": check_optimizer, "wrapper": check_wrapper}[kind]
        for result in run(spec, values):
            totals[result.status] += 1
            detail = f": {result.detail}" if result.detail else ""
            style = "dim" if result.status == "skipped" else ""
            text = f"  {marks[result.status]} {result.check}{detail}"
            console.print(f"[{style}]{text}[/{style}]" if style else text, highlight=False)
    console.print(f"{totals['passed']} passed, {totals['failed']} failed, "
                  f"{totals['skipped']} skipped", highlight=False)
    return EXIT_FAILED_CELLS if totals["failed"] else EXIT_OK


# --- suite run --------------------------------------------------------------------


def default_config_text() -> str:
    return resources.files("suite").joinpath("configs/default.toml").read_text()


def _build_config(args, check_out: bool = True):
    from suite import config as cfg

    if args.resume:
        clashing = [flag for flag, value in (
            ("CONFIG", args.config), ("--landscape", args.landscape), ("--optimizer", args.optimizer),
            ("--wrap", args.wrap),
            ("--restarts", args.restarts), ("--instances", args.instances),
            ("--steps", args.steps), ("--seed", args.seed),
            ("--out", args.out), ("--batch", args.batch), ("--chunk", args.chunk), ("--devices", args.devices),
            ("--matmul-precision", args.matmul_precision), ("--precision", args.precision),
            ("--stop-at-target", args.stop_at_target), ("--tuning", args.tuning),
            ("--diagnose", args.diagnose), ("--diagnose-restarts", args.diagnose_restarts))
            if value is not None and value != []]
        if clashing:
            raise UsageError(f"--resume continues the run with its own config; drop {', '.join(clashing)}")
        path = Path(args.resume)
        if not (path / "config.toml").is_file():
            raise UsageError(f"--resume {args.resume!r} is not a run folder (no config.toml in it)")
        config = cfg.from_toml(cfg.load_toml(path / "config.toml"), str(path / "config.toml"))
        config.plugins = list(config.plugins) + list(args.plugin)
        return config, path
    import tomllib
    if args.config:
        config = cfg.from_toml(cfg.load_toml(args.config), args.config)
    else:
        config = cfg.from_toml(tomllib.loads(default_config_text()), "the default benchmark")
    if args.landscape:
        config.landscapes = [cfg.Component(n, v) for n, v in
                             (cfg.parse_component(t, "--landscape") for t in args.landscape)]
    if args.optimizer:
        config.optimizers = [cfg.parse_optimizer(t, "--optimizer") for t in args.optimizer]
    if args.wrap:
        config.wrappers = [cfg.Component(*cfg.parse_component(t, "--wrap")) for t in args.wrap]
    if args.diagnose:
        names = [n.strip() for n in args.diagnose.split(",") if n.strip()]
        config.diagnostics = list(cfg.DIAGNOSTICS) if names == ["all"] else names
    if args.diagnose_restarts is not None:
        config.diagnose_restarts = args.diagnose_restarts
    if args.matmul_precision is not None:
        config.matmul_precision = args.matmul_precision
    for name in ("precision", "stop_at_target", "tuning"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    for name in ("restarts", "instances", "steps", "seed", "batch", "chunk", "devices"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    config.plugins = list(config.plugins) + list(args.plugin)
    config.check()
    if args.out:
        out = Path(args.out)
        if check_out and (out / "config.toml").exists():
            raise UsageError(f"run folder {args.out!r} already holds a run; "
                             f"continue it with --resume {args.out} or choose another --out")
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("reports") / stamp
        n = 1
        while out.exists():
            n += 1
            out = Path("reports") / f"{stamp}-{n}"
    return config, out


def _run(args, argv) -> int:
    lonely = [flag for flag, value in (("--coordinator", args.coordinator), ("--num-processes", args.num_processes),
                                       ("--process-id", args.process_id)) if value is not None]
    if lonely and not args.distributed:
        raise UsageError(f"{', '.join(lonely)}: used only with --distributed; add it or drop them")
    if args.distributed and not (args.out or args.resume):
        raise UsageError("--distributed needs --out RUN_DIR (or --resume RUN_DIR): every process "
                         "must name the same run folder, on a file system they share")
    leader = True
    if args.distributed:
        from suite import environment
        # Before anything else touches JAX: the runtime must start first.
        leader = environment.init_distributed(args.coordinator, args.num_processes, args.process_id)[0] == 0
    config, out = _build_config(args, check_out=leader)
    # Imports that start JAX wait until the arguments are known to be good.
    from suite import config as cfg
    from suite import environment, runner
    from suite.config import Cell
    from suite.registry import load_registry
    from suite.results import RunDir

    registry = load_registry(local_files=config.plugins)
    landscapes, optimizers = cfg.resolve(config, registry)
    resolved = cfg.resolved_config(config, landscapes, optimizers)
    cache_dir = environment.enable_compile_cache(args.compile_cache)
    cells = [Cell(l, o) for l in landscapes for o in optimizers]

    run_dir = RunDir(out)
    if not leader:  # another process of a --distributed run: compute, process 0 writes and reports
        runner.execute(resolved, cells, run_dir)
        return EXIT_OK
    plan = _plan(cells, landscapes, optimizers)
    if args.resume:
        metadata = run_dir.read_metadata()
        metadata.setdefault("resumed", []).append(environment.now())
    else:
        run_dir.create(cfg.to_toml(resolved))
        metadata = environment.collect(config.seed, ["suite", *argv],
                                       sorted({c.spec.plugin for c in landscapes + optimizers}))
    metadata["compile_cache"] = cache_dir
    # The conditions of every number in the run, beside the config that set them.
    metadata |= {"precision": config.precision, "stop_at_target": config.stop_at_target,
                 "tuning": config.tuning}
    run_dir.write_metadata(metadata)
    run_dir.write_plan(plan)

    from rich.console import Console
    err = Console(stderr=True)
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    err.print(f"{len(cells)} cells ({len(landscapes)} landscapes × {len(optimizers)} optimizer "
              f"settings), {config.restarts} restarts × {config.steps} steps → {out}", highlight=False)
    progress = _RichProgress(err, enabled=not args.quiet)
    interrupted = False
    try:
        with progress:
            counts = runner.execute(resolved, cells, run_dir, progress=progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        tables = run_dir.gather()
        metadata["finished"] = environment.now()
        metadata["interrupted"] = interrupted
        run_dir.write_metadata(metadata)
    if interrupted:
        err.print(f"interrupted: finished cells are kept in {out}; "
                  f"continue with: suite run --resume {out} (or report them: suite report {out})",
                  highlight=False)
        return EXIT_INTERRUPTED

    _print_leaderboard(tables, resolved, cache_dir)
    cells = tables["cells"]
    failed = cells[cells["status"] != "ok"] if not cells.empty else cells
    for (lname, error), rows in (failed.groupby(["landscape_label", "error"], sort=False)
                                 if len(failed) else []):
        err.print(f"[red]failed:[/red] {len(rows)} cells on {lname} "
                  f"({', '.join(rows['optimizer'].unique())}): {error}", highlight=False)
    if counts["skipped"]:
        err.print(f"resumed: {counts['skipped']} finished cells skipped", highlight=False)
    print(f"run folder: {out}")
    if not args.no_report:
        path, headline = _write_report(out, registry, err, quiet=args.quiet)
        print(f"ranking stability: {headline}")
        print(f"report: {path}")
    return EXIT_FAILED_CELLS if len(failed) else EXIT_OK


def _plan(cells, landscapes, optimizers) -> dict:
    """What ``plan.json`` records: every planned cell, and the components' own descriptions."""
    components = {"landscapes": {}, "optimizers": {}, "wrappers": {}}
    for item in landscapes:
        components["landscapes"][item.spec.name] = {"doc": item.spec.doc, "plugin": item.spec.plugin}
    for setting in optimizers:
        components["optimizers"][setting.spec.name] = {"doc": setting.spec.doc, "plugin": setting.spec.plugin}
        for w in setting.wrappers:
            components["wrappers"][w.spec.name] = {"doc": w.spec.doc, "plugin": w.spec.plugin}
    return {"cells": [{"cell_id": c.id, "landscape_label": c.landscape.label,
                       "optimizer_label": c.optimizer.label, "entry": c.optimizer.entry} for c in cells],
            "components": components}


# --- suite report and suite publish ---------------------------------------------------


def _write_report(run_dir, registry, console, *, quiet: bool, out=None):
    """Writes the report, with a spinner naming the section at work; returns (path, headline)."""
    from suite.report import Report, headline, write

    report = Report(run_dir)
    with console.status("writing the report", spinner="dots") if not quiet else _Nothing() as status:
        def progress(text):
            if status is not None:
                status.update(f"report: {text}")
        path = write(report, out, registry.sections, progress=progress)
    return path, headline(report)


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _require_run_dir(path: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"run folder {path!r} does not exist")
    if not (folder / "config.toml").is_file() and not (folder / "cells.parquet").is_file():
        raise UsageError(f"{path!r} is not a run folder (no config.toml or cells.parquet in it)")
    return folder


def _report(args) -> int:
    from rich.console import Console

    from suite.registry import load_registry

    folder = _require_run_dir(args.run_dir)
    if args.out and Path(args.out).is_dir():
        raise UsageError(f"--out {args.out!r} is a folder; give a file name such as {args.out}/report.html")
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True)
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    path, headline = _write_report(folder, registry, err, quiet=args.quiet, out=args.out)
    if not args.quiet:
        err.print(headline, highlight=False)
    print(path)
    return EXIT_OK


def _publish(args) -> int:
    from rich.console import Console

    from suite.registry import load_registry
    from suite.report.publish import publish

    folders = [_require_run_dir(p) for p in args.run_dirs]
    site = Path(args.site)
    if site.exists() and not site.is_dir():
        raise UsageError(f"--site {args.site!r} is a file, not a folder")
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True)
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    with err.status("publishing", spinner="dots") as status:
        index = publish(folders, site, registry=registry, progress=lambda t: status.update(t))
    print(index)
    return EXIT_OK


def _print_leaderboard(tables: dict, config, cache_dir=None) -> None:
    """The leaderboard of a finished run on the terminal: ``tables`` has ``cells`` and ``restarts``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    import pandas as pd

    from suite.metrics import SELECTION_RULE, TIE_LEVEL, leaderboard, p_text, target_label

    cells, restarts = tables["cells"], tables["restarts"]
    if cells.empty or not (cells["status"] == "ok").any():
        return
    hardest = target_label(config.targets[-1])
    board = leaderboard(cells, restarts)
    if board.empty:
        return
    console = Console()
    if not console.is_terminal:  # a file or a pipe has no width: keep the table whole
        console = Console(width=160)
    mode = ("fixed-target mode: a restart stops at the last target; final loss is the loss there"
            if config.stop_at_target else "final loss is f(x_T), every restart runs every step")
    console.print(f"[bold]Conditions[/bold]: {mode}; {config.precision}; tuning {config.tuning}", highlight=False)
    console.print(f"[bold]Leaderboard[/bold]: success means Δf = f − f* ≤ the target, reached and still "
                  f"held at the last step; {SELECTION_RULE}. Every setting is kept in cells.parquet.",
                  highlight=False)
    for landscape, rows in board.groupby("landscape_label", sort=False):
        label = str(rows["rank_target"].iloc[0])
        title = landscape
        if rows["f_opt_kind"].iloc[0] == "reference":
            title += (f"  (f* = {rows['f_opt'].iloc[0]:g} is a reference value, not this "
                      f"instance's proven minimum: Δf can go below 0)")
        table = Table(title=title, title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("#", "optimizer", "setting", f"success ≤{label}", "relapsed", "ERT", "p vs lead",
                       "tried", "median f", "best f", "div.", "µs/step"):
            # Names are never cut: a narrow terminal folds the other columns instead.
            is_entry = column == "optimizer"
            table.add_column(column, justify="left" if column in ("optimizer", "setting") else "right",
                             min_width=int(rows["entry"].str.len().max()) if is_entry else None,
                             no_wrap=is_entry, overflow="fold")
        below = float(label) < float(rows["resolution"].iloc[0])
        for _, row in rows.iterrows():
            ert_value = float(row[f"ert_{label}"])
            p_value = float(row["p_value"])
            table.add_row(
                str(row["rank"]), row["entry"], _swept(cells, row),
                "below resolution" if below else f"{row[f'success_{label}']:.0%}",
                f"{row['relapse_rate']:.0%}",
                "–" if below else "∞" if math.isinf(ert_value) else f"{ert_value:.0f}",
                p_text(p_value),
                str(int(row["settings_tried"])),
                f"{row['median_final_loss']:.2g}", f"{row['best_loss']:.2g}",
                f"{row['divergence_rate']:.0%}", f"{row['seconds_per_step'] * 1e6:.1f}",
            )
        console.print(table, highlight=False)
        if bool(rows["below_resolution"].iloc[0]):
            console.print(f"  below resolution: Δf ≤ {hardest} is finer than float rounding at f* "
                          f"(≈ {rows['resolution'].iloc[0]:.2g}); ranked at Δf ≤ {label}. To score it, run with "
                          f"--precision float64 or write the landscape relative to f*", highlight=False)
        elif bool(rows["unsolved"].iloc[0]):
            why = ("" if bool(rows["held_half"].iloc[0]) else
                   " (no setting held any target on half its restarts: mostly a final-loss comparison)")
            console.print(f"  unsolved at {hardest}: no setting held it; ranked at Δf ≤ {label}{why}",
                          highlight=False)
        warning = next((str(w) for w in rows.get("warning", pd.Series(dtype=str)).fillna("") if w), "")
        if warning:
            console.print(f"  [bold red]warning:[/bold red] {warning}", highlight=False)
    console.print(f"equal # means tied: p vs lead is the paired sign test against the first entry of the tie "
                  f"group above (or its own), p ≥ {TIE_LEVEL:g} joins it; relapsed = share that reached a target "
                  f"and ended above it; ERT counts first hits; tried = settings of the entry on the landscape "
                  f"(its tuning budget)", highlight=False)
    if board["at_edge"].astype(bool).any():
        console.print("* the best value is at the edge of the sweep: the optimum may lie outside it",
                      highlight=False)
    programs = cells[cells["status"] == "ok"].drop_duplicates("program")
    total_compile, total_run = programs["compile_seconds"].sum(), programs["run_seconds"].sum()
    cache = f"; compilation cache {cache_dir}" if cache_dir else "; compilation cache off"
    console.print(f"compile {total_compile:.1f} s, run {total_run:.1f} s "
                  f"(ERT in steps; µs/step is one cell's share of its program{cache})", highlight=False)


def _swept(cells, row) -> str:
    """The entry's own hyperparameters that vary across its settings, with this row's values."""
    from suite.metrics import setting_text

    ok = cells[cells["status"] == "ok"]
    return setting_text(ok, row, names={"learning_rate": "lr"})  # the one name every table shows; keep it narrow


class _RichProgress:
    """Adapts :class:`suite.runner.Progress` to a rich progress bar on stderr."""

    def __init__(self, console, enabled: bool):
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            disable=not enabled, transient=False)
        self._task = None

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def start(self, total: float) -> None:
        self._task = self._progress.add_task("cells", total=total)

    def describe(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def advance(self, amount: float) -> None:
        self._progress.advance(self._task, amount)


if __name__ == "__main__":
    sys.exit(main())
