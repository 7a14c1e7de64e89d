"""The ``suite`` command: ``list``, ``check``, ``run``, ``report``, ``publish``, ``study`` and ``export``.

Errors a user can cause print one line (``suite: error: ...``) and exit with
code 2; a run in which some cells failed exits with code 1 after saving every
other cell; an interrupted run exits with 130 and keeps what finished.
"""

from __future__ import annotations

import sys
from pathlib import Path

from suite.arguments import parser as _parser
from suite.errors import UsageError, close_interrupts, hold_interrupts, watch_interrupts

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# What each command imports that holds compiled extensions: imported first, with
# Ctrl-C held until they are in (jaxlib fails, or crashes, when interrupted half-way).
_HEAVY = {"list": ("suite.registry", "rich.console"),
          "check": ("suite.registry", "rich.console", "suite.conformance"),
          "run": ("suite.registry", "rich.console", "pandas", "pyarrow.parquet"),
          "report": ("suite.registry", "rich.console", "pandas", "pyarrow.parquet", "matplotlib"),
          "publish": ("suite.registry", "rich.console", "pandas", "pyarrow.parquet", "matplotlib"),
          "study": ("suite.registry", "rich.console", "pandas", "pyarrow.parquet", "matplotlib"),
          "export": ("pandas", "pyarrow.parquet")}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    Ctrl-C anywhere (imports, plugins, the run, the report) ends the command
    with one line and exit code 130, never a traceback, and is never lost.
    """
    program = argv is None  # the process itself: a Ctrl-C while it exits stays quiet
    argv = sys.argv[1:] if argv is None else argv
    with watch_interrupts(restore=not program) as watch:
        try:
            try:
                code = _command(argv)
            finally:
                close_interrupts()  # from here on a Ctrl-C is only counted
        except UsageError as exc:
            print(f"suite: error: {exc}", file=sys.stderr)
            code = EXIT_USAGE
        except KeyboardInterrupt:  # a second Ctrl-C, or one outside the run loop: no traceback
            code = None
        if code != EXIT_INTERRUPTED and watch is not None and watch.received:
            code = None  # a Ctrl-C that something swallowed on the way still ends the command
        if code is None:
            print("suite: interrupted" + (" (finished cells are kept; continue a run with --resume RUN_DIR)"
                                          if argv[:1] == ["run"] else ""), file=sys.stderr)
            code = EXIT_INTERRUPTED
    return code


def _command(argv: list[str]) -> int:
    import importlib

    args = _parser().parse_args(argv)
    with hold_interrupts():
        for module in _HEAVY.get(args.command, ()):
            importlib.import_module(module)
    if args.command == "list":
        return _list(args)
    if args.command == "check":
        return _check(args)
    if args.command == "report":
        return _report(args)
    if args.command == "publish":
        return _publish(args)
    if args.command == "study":
        from suite.study_cli import study

        return study(args, argv, write_report=_write_report)
    if args.command == "export":
        from suite.export import export

        return export(args.run_dir, args.format, args.out, quiet=args.quiet)
    from suite.run_cli import run

    return run(args, argv, write_report=_write_report)


# --- suite list -------------------------------------------------------------------


def _list(args) -> int:
    from rich.console import Console
    from rich.text import Text

    from suite.registry import load_registry
    from suite.terminal import print_warnings, printable

    registry = load_registry(local_files=args.plugin)
    console = Console()
    # Text from plugins is printed as it is (rich.text.Text), never read as markup.
    for kind, specs in (("Landscapes", registry.landscapes), ("Optimizers", registry.optimizers),
                        ("Wrappers (chain onto any optimizer: adam+stale:tau=8)", registry.wrappers)):
        console.print(Text(kind, style="bold underline"))
        for name in sorted(specs):
            spec = specs[name]
            console.print()
            console.print(Text.assemble((name, "bold cyan"), " ", (f"({spec.plugin})", "dim")), highlight=False)
            console.print(Text(f"  {printable(spec.doc)}"), highlight=False)
            for p in spec.params:
                console.print(Text.assemble("  ", (p.name, "green"), f" = {p.default!r}  ",
                                            (p.describe(), "dim"), f"  {printable(p.doc)}"), highlight=False)
                sweep = getattr(spec, "sweep", {}).get(p.name)
                if sweep:
                    console.print(Text(f"      default sweep: {', '.join(_value_text(v) for v in sweep)}"),
                                  highlight=False)
        console.print()
    console.print(Text.assemble(("Report sections", "bold underline"), " (suite report lays them out by order)"))
    for spec in sorted(registry.sections.values(), key=lambda s: (s.scope != "run", s.order, s.name)):
        console.print(Text.assemble("  ", (spec.name, "bold cyan"), " ",
                                    (f"({spec.plugin}; {spec.scope}, order {spec.order})", "dim"),
                                    printable(f" {spec.title}: {spec.doc}")), highlight=False)
    console.print()
    console.print(Text.assemble(("Studies", "bold underline"), " (suite study list shows their claims)"))
    for name, spec in sorted(registry.studies.items()):
        console.print(Text.assemble("  ", (name, "bold cyan"), " ", (f"({spec.plugin})", "dim"),
                                    printable(f" {spec.doc}")), highlight=False)
    print_warnings(console, registry.warnings)
    return EXIT_OK


def _value_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- suite check ------------------------------------------------------------------


def _check(args) -> int:
    from rich.console import Console
    from rich.text import Text

    from suite import config as cfg
    from suite import plan
    from suite.conformance import check_landscape, check_optimizer, check_wrapper
    from suite.errors import choices
    from suite.registry import load_registry
    from suite.terminal import print_warnings, printable

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
    # Names, values and details come from plugins: printed as they are (Text), never as markup.
    marks = {"passed": ("✓", "green"), "failed": ("✗", "red"), "skipped": ("-", "dim")}
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for kind, spec, values in targets:
        console.print(Text.assemble((f"{kind} {spec.name}", "bold"), " ", (f"({spec.plugin})", "dim"), " ",
                                    plan.label(spec.name, values)), highlight=False)
        run = {"landscape": check_landscape, "optimizer": check_optimizer, "wrapper": check_wrapper}[kind]
        for result in run(spec, values):
            totals[result.status] += 1
            detail = f": {printable(result.detail)}" if result.detail else ""
            line = Text.assemble("  ", marks[result.status], f" {result.check}{detail}")
            if result.status == "skipped":
                line.stylize("dim")
            console.print(line, highlight=False)
    console.print(f"{totals['passed']} passed, {totals['failed']} failed, "
                  f"{totals['skipped']} skipped", markup=False, highlight=False)
    return EXIT_FAILED_CELLS if totals["failed"] else EXIT_OK


# --- suite report and suite publish ---------------------------------------------------


def _write_report(run_dir, registry, console, *, quiet: bool, out=None, allow_mismatch: bool = False):
    """Writes the report (of one run, or of several compared), with a spinner naming the section at work;
    returns (path, headline)."""
    from suite.report import Report, headline, write, writes_into
    from suite.report.study import refresh

    folders = run_dir if isinstance(run_dir, list) else [run_dir]
    if len(folders) > 1:
        from suite.report.runs import combine

        report = combine(folders, allow_mismatch=allow_mismatch)
    else:
        report = Report(folders[0])
        refresh(report, registry, keep=writes_into(folders[0], out))
    with console.status("writing the report", spinner="dots") if not quiet else _Nothing() as status:
        def progress(text):
            if status is not None:  # a section's title comes from its plugin: text, not markup
                from rich.text import Text

                status.update(Text(f"report: {text}"))
        path = write(report, out, registry.sections, progress=progress)
    return path, headline(report)


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _require_run_dir(path: str) -> Path:
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{path!r} is a file, not a run folder; give a folder written by suite run")
    if not folder.is_dir():
        raise UsageError(f"run folder {path!r} does not exist; give a folder written by suite run")
    if not (folder / "config.toml").is_file() and not (folder / "cells.parquet").is_file():
        raise UsageError(f"{path!r} is not a run folder (no config.toml or cells.parquet in it); "
                         "give a folder written by suite run")
    return folder


def _report(args) -> int:
    from rich.console import Console

    from suite.registry import load_registry
    from suite.report import report_target
    from suite.terminal import print_warnings

    folders = [_require_run_dir(p) for p in args.run_dirs]
    if args.allow_mismatch and len(folders) == 1:
        raise UsageError("--allow-mismatch is for comparing runs: give two or more run folders")
    report_target(folders if len(folders) > 1 else folders[0], args.out)  # refused before any work
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True, soft_wrap=True)
    print_warnings(err, registry.warnings)
    path, headline = _write_report(folders, registry, err, quiet=args.quiet, out=args.out,
                                   allow_mismatch=args.allow_mismatch)
    if not args.quiet:
        err.print(headline, markup=False, highlight=False)
    print(path)
    return EXIT_OK


def _publish(args) -> int:
    from rich.console import Console
    from rich.text import Text

    from suite.registry import load_registry
    from suite.report.publish import check, publish
    from suite.terminal import print_warnings

    folders = [_require_run_dir(p) for p in args.run_dirs]
    site = Path(args.site)
    check(folders, site)  # refused before any work: a place that is not the suite's, a run inside the site
    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True, soft_wrap=True)
    print_warnings(err, registry.warnings)
    with err.status("publishing", spinner="dots") as status:
        index = publish(folders, site, registry=registry, progress=lambda t: status.update(Text(t)))
    print(index)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
