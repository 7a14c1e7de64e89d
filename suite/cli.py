"""The ``suite`` command: ``list``, ``check``, ``run``, ``report`` and ``publish``.

Errors a user can cause print one line (``suite: error: ...``) and exit with
code 2; a run in which some cells failed exits with code 1 after saving every
other cell; an interrupted run exits with 130 and keeps what finished.
"""

from __future__ import annotations

import sys
from pathlib import Path

from suite.arguments import parser as _parser
from suite.errors import UsageError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    from suite.terminal import print_warnings

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
    print_warnings(console, registry.warnings)
    return EXIT_OK


# --- suite check ------------------------------------------------------------------


def _check(args) -> int:
    from rich.console import Console

    from suite import config as cfg
    from suite import plan
    from suite.conformance import check_landscape, check_optimizer, check_wrapper
    from suite.errors import choices
    from suite.registry import load_registry
    from suite.terminal import print_warnings

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
            for values in plan.expand(spec.params, raw, f"{kind} {name!r}", base):
                targets.append((kind, spec, values))
    console = Console(soft_wrap=True)  # one line per check, whatever the terminal width
    print_warnings(console, registry.warnings)
    marks = {"passed": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[dim]-[/dim]"}
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for kind, spec, values in targets:
        console.print(f"[bold]{kind} {spec.name}[/bold] [dim]({spec.plugin})[/dim] "
                      f"{plan.label(spec.name, values)}", highlight=False)
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

# Flags that set the run's config; --resume continues under the run's own (the
# batch size and device count too: they can change the last bits of a result).
_CONFIG_FLAGS = (("CONFIG", "config"), ("--landscape", "landscape"), ("--optimizer", "optimizer"),
                 ("--wrap", "wrap"), ("--restarts", "restarts"), ("--instances", "instances"),
                 ("--steps", "steps"), ("--seed", "seed"), ("--out", "out"), ("--batch", "batch"),
                 ("--chunk", "chunk"), ("--devices", "devices"),
                 ("--matmul-precision", "matmul_precision"), ("--precision", "precision"),
                 ("--stop-at-target", "stop_at_target"), ("--tuning", "tuning"),
                 ("--diagnose", "diagnose"), ("--diagnose-restarts", "diagnose_restarts"))


def _build_config(args, check_out: bool = True):
    """The run's config and folder from the flags (or the resumed run's own)."""
    from suite import api
    from suite import config as cfg

    if args.resume:
        # `is not None`, not truthiness: --seed 0 and --batch 0 are values too.
        clashing = [flag for flag, name in _CONFIG_FLAGS
                    if getattr(args, name) is not None and getattr(args, name) != []]
        if clashing:
            raise UsageError(f"--resume continues the run with its own config; drop {', '.join(clashing)}")
        path = Path(args.resume)
        if not (path / "config.toml").is_file():
            raise UsageError(f"--resume {args.resume!r} is not a run folder (no config.toml in it)")
        config = cfg.from_toml(cfg.load_toml(path / "config.toml"), str(path / "config.toml"))
        config.plugins = list(config.plugins) + list(args.plugin)
        config.check()
        return config, path
    settings = {name: getattr(args, name) for name in (
        "restarts", "instances", "steps", "seed", "batch", "chunk", "devices", "matmul_precision",
        "precision", "stop_at_target", "tuning", "diagnose_restarts")}
    if args.diagnose:
        settings["diagnostics"] = [n.strip() for n in args.diagnose.split(",") if n.strip()]
    config = api.make_config(args.config, landscapes=args.landscape or None,
                             optimizers=args.optimizer or None, wrap=args.wrap or None, **settings)
    config.plugins = list(config.plugins) + list(args.plugin)
    return config, api.new_run_dir(args.out, check=check_out)


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
    from rich.console import Console

    from suite import api
    from suite.registry import load_registry
    from suite.terminal import RichProgress, print_leaderboard

    registry = load_registry(local_files=config.plugins)
    err = Console(stderr=True)
    progress = RichProgress(err, enabled=not args.quiet)
    try:
        run = api.run_config(config, out=out, resume=bool(args.resume), progress=progress,
                             compile_cache=args.compile_cache, command=["suite", *argv],
                             registry=registry, leader=leader)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished cells are kept in {out}; "
                  f"continue with: suite run --resume {out} (or report them: suite report {out})",
                  markup=False, highlight=False)
        return EXIT_INTERRUPTED
    if run is None:  # another process of a --distributed run: process 0 writes and reports
        return EXIT_OK
    print_leaderboard(run.tables, run.config, run.metadata.get("compile_cache"))
    failed = run.failed
    for (lname, error), rows in (failed.groupby(["landscape_label", "error"], sort=False)
                                 if len(failed) else []):
        err.print(f"failed: {len(rows)} cells on {lname} ({', '.join(rows['optimizer'].unique())}): {error}",
                  markup=False, highlight=False, style="red")
    if run.counts.get("skipped"):
        err.print(f"resumed: {run.counts['skipped']} finished cells skipped", highlight=False)
    print(f"run folder: {out}")
    if not args.no_report:
        path, headline = _write_report(out, registry, err, quiet=args.quiet)
        print(f"ranking stability: {headline}")
        print(f"report: {path}")
    return EXIT_FAILED_CELLS if len(failed) else EXIT_OK


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
    from suite.terminal import print_warnings

    folder = _require_run_dir(args.run_dir)
    if args.out and Path(args.out).is_dir():
        raise UsageError(f"--out {args.out!r} is a folder; give a file name such as {args.out}/report.html")
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True)
    print_warnings(err, registry.warnings)
    path, headline = _write_report(folder, registry, err, quiet=args.quiet, out=args.out)
    if not args.quiet:
        err.print(headline, highlight=False)
    print(path)
    return EXIT_OK


def _publish(args) -> int:
    from rich.console import Console

    from suite.registry import load_registry
    from suite.report.publish import publish
    from suite.terminal import print_warnings

    folders = [_require_run_dir(p) for p in args.run_dirs]
    site = Path(args.site)
    if site.exists() and not site.is_dir():
        raise UsageError(f"--site {args.site!r} is a file, not a folder")
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True)
    print_warnings(err, registry.warnings)
    with err.status("publishing", spinner="dots") as status:
        index = publish(folders, site, registry=registry, progress=lambda t: status.update(t))
    print(index)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
