"""``suite study list`` and ``suite study run NAME|all``: the studies, their claims and their verdicts."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED_CELLS, EXIT_INTERRUPTED = 0, 1, 130
STYLES = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow", "error": "red"}


def study(args, argv, *, write_report) -> int:
    """Runs ``suite study ACTION``; ``write_report(folder, registry, console, quiet=...)`` writes a report."""
    from rich.console import Console

    from suite.registry import load_registry
    from suite.terminal import print_warnings

    registry = load_registry(local_files=args.plugin)
    err = Console(stderr=True, soft_wrap=True)
    print_warnings(err, registry.warnings)
    if args.action == "list":
        return _list(registry)
    return _run(args, argv, registry, err, write_report)


def _list(registry) -> int:
    from rich.console import Console
    from rich.text import Text

    from suite import study
    from suite.errors import UsageError
    from suite.terminal import printable

    console = Console(soft_wrap=True)
    console.print(Text("Studies (suite study run NAME --size tiny|small|full)", "bold underline"))
    for name, spec in sorted(registry.studies.items()):
        console.print()
        console.print(Text.assemble((name, "bold"), f" ({printable(spec.plugin)})"), highlight=False)
        try:
            table = study.read(spec)["study"]
        except UsageError as exc:
            console.print(Text(f"  cannot be read: {printable(str(exc))}", "red"), highlight=False)
            continue
        console.print(Text(f"  {printable(' '.join(table['claim'].split()))}"), highlight=False)
        for reference in table.get("references", []):
            console.print(Text(f"  · {printable(str(reference))}", "dim"), highlight=False)
    if not registry.studies:
        console.print("no studies are installed")
    return EXIT_OK


def _run(args, argv, registry, err, write_report) -> int:
    from rich.text import Text

    from suite import api, study, study_api
    from suite.registry import load_registry
    from suite.terminal import RichProgress, printable

    selected = study_api.names(args.names, registry)
    configs = {name: study.config(registry.study(name), args.size) for name in selected}
    folders = study_api.folders(selected, args.size, args.out, many=len(selected) > 1)
    records, failed = {}, 0
    for position, name in enumerate(selected, 1):
        config, out = configs[name], folders[name]
        if len(selected) > 1:
            err.print(Text.assemble((f"study {position}/{len(selected)}: ", "bold"), name), highlight=False)
        local = registry if not config.plugins else load_registry(local_files=[*args.plugin, *config.plugins])
        try:
            run = api.run_config(config, out=out, progress=RichProgress(err, enabled=not args.quiet),
                                 compile_cache=args.compile_cache, command=["suite", *argv], registry=local)
        except KeyboardInterrupt:
            err.print(f"interrupted: finished cells are kept in {out}; continue with: suite run --resume {out}",
                      markup=False, highlight=False)
            return EXIT_INTERRUPTED
        failed += len(run.failed)
        if not args.no_report:
            path, _ = write_report(out, local, err, quiet=args.quiet)
        record = run.verdict or {}
        records[name] = record
        verdict = record.get("verdict", {})
        status = verdict.get("status", "error")
        err.print(Text.assemble((f"{name}: {status}", f"bold {STYLES.get(status, '')}"),
                                printable(f" — {verdict.get('summary', 'no verdict was written')}")),
                  highlight=False)
        print(f"{name}: {status}: {out}" + ("" if args.no_report else f" (report: {path})"))
    if len(selected) > 1:
        counts = {}
        for record in records.values():
            status = record.get("verdict", {}).get("status", "error")
            counts[status] = counts.get(status, 0) + 1
        err.print(", ".join(f"{n} {s}" for s, n in counts.items()) +
                  f"; publish them with: suite publish {' '.join(str(f) for f in folders.values())} --site SITE",
                  markup=False, highlight=False)
    return EXIT_FAILED_CELLS if failed else EXIT_OK
