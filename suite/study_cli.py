"""``suite study list`` and ``suite study run NAME|all``: the studies, their claims and their verdicts."""

from __future__ import annotations

from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
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
    from suite.errors import UsageError
    from suite.registry import load_registry
    from suite.terminal import RichProgress, printable

    if args.size not in study.SIZES:
        raise UsageError(f"unknown study size {args.size!r}; choose from: {', '.join(study.SIZES)}")
    selected = study_api.names(args.names, registry)
    many = len(selected) > 1 or args.names == [study_api.ALL]
    folders = study_api.folders(selected, args.size, args.out, many=many, resume=args.resume)
    # Every config resolved before any study runs: a bad one is refused with nothing run.
    configs = {name: study_api.config_for(name, args.size, folders[name], registry, resume=args.resume,
                                          plugins=args.plugin) for name in selected}
    again = " ".join(["suite study run", *args.names, "--size", args.size,
                      *(["--out", str(args.out)] if args.out is not None else []),
                      *(f"--plugin {p}" for p in args.plugin), "--resume"])
    counts, failed = {}, False
    for position, name in enumerate(selected, 1):
        config, out = configs[name], folders[name]
        if many:
            err.print(Text.assemble((f"study {position}/{len(selected)}: ", "bold"), name), highlight=False)
        # Loaded again only for plugins the study's config names beyond those given on the command line.
        extra = set(config.plugins) - {str(Path(p).resolve()) for p in args.plugin}
        local = load_registry(local_files=config.plugins) if extra else registry
        resume = args.resume and (out / "config.toml").exists()
        try:
            run = api.run_config(config, out=out, resume=resume, progress=RichProgress(err, enabled=not args.quiet),
                                 compile_cache=args.compile_cache, command=["suite", *argv], registry=local)
            path = None if args.no_report else write_report(out, local, err, quiet=args.quiet)[0]
        except KeyboardInterrupt:
            err.print(f"interrupted: finished cells are kept in {out}; continue with: {again}",
                      markup=False, highlight=False)
            return EXIT_INTERRUPTED
        verdict = (run.verdict or {}).get("verdict", {})
        status = verdict.get("status", "error")
        counts[status] = counts.get(status, 0) + 1
        failed = failed or len(run.failed) > 0 or status == "error"
        err.print(Text.assemble((f"{name}: {status}", f"bold {STYLES.get(status, '')}"),
                                printable(f" — {verdict.get('summary', 'no verdict was written')}")),
                  highlight=False)
        print(f"{name}: {status}: {out}" + ("" if path is None else f" (report: {path})"))
    if many:
        err.print(", ".join(f"{n} {s}" for s, n in counts.items()) +
                  f"; publish them with: suite publish {' '.join(str(f) for f in folders.values())} --site SITE",
                  markup=False, highlight=False)
    # A claim that does not reproduce is a finding (0); failed cells or a broken check are not (1).
    return EXIT_FAILED if failed else EXIT_OK
