"""``suite run``: a run from a config and flags, or a resume, an extension (``--extend``) or a part (``--part``) of one."""

from __future__ import annotations

from pathlib import Path

from suite.errors import UsageError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_INTERRUPTED = 0, 1, 130


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
    from suite.results import RunDir
    from suite.runs import merged_plugins

    if args.resume:
        # `is not None`, not truthiness: --seed 0 and --batch 0 are values too.
        clashing = [flag for flag, name in _CONFIG_FLAGS
                    if getattr(args, name) is not None and getattr(args, name) != []]
        if clashing:
            raise UsageError(f"--resume continues the run with its own config; drop {', '.join(clashing)}")
        path = Path(args.resume)
        # Its config.toml as it is now, every error naming the file.
        config = RunDir(path).read_config("--resume")
        config.plugins = merged_plugins(config.plugins, list(args.plugin))
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


# What --extend keeps: every flag that sets a condition of the run (or its folder).
_EXTEND_KEEPS = [(flag, name) for flag, name in _CONFIG_FLAGS if name not in ("optimizer", "chunk", "wrap")]
# ... and what does not fit an extension at all.
_EXTEND_CLASHES = (("CONFIG", "config"), ("--out", "out"), ("--resume", "resume"), ("--rerun-stale", "rerun_stale"))


def _extended(args):
    """The run to extend (its config, with the --plugin files) and its folder; refuses flags it keeps."""
    from suite.results import RunDir
    from suite.runs import merged_plugins

    given = [(flag, name) for flag, name in dict.fromkeys(_CONFIG_FLAGS + _EXTEND_CLASHES)
             if getattr(args, name) not in (None, [], False)]
    clashing = [flag for flag, name in given if (flag, name) in _EXTEND_CLASHES]
    if clashing:
        raise UsageError(f"--extend adds entries to the run in its own folder, under its own config; drop "
                         f"{', '.join(clashing)}")
    kept = [flag for flag, name in given if (flag, name) in _EXTEND_KEEPS]
    if kept:
        raise UsageError(f"--extend adds entries under the run's own conditions; drop {', '.join(kept)} (a run "
                         f"with other conditions is a new run: compare the two with suite report RUN_A RUN_B)")
    if not args.optimizer:
        raise UsageError("--extend needs the entries to add: give one or more --optimizer NAME[:k=v...]")
    path = Path(args.extend)
    config = RunDir(path).read_config("--extend")
    config.plugins = merged_plugins(config.plugins, list(args.plugin))
    return config, path


def run(args, argv, *, write_report) -> int:
    """Runs ``suite run`` (a run, a resume, an extension or a part); ``write_report`` writes its report."""
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
    from suite.execution import parse_part

    part = parse_part(args.part) if args.part is not None else None
    if part and (args.distributed or args.extend):
        clash = "--distributed" if args.distributed else "--extend"
        raise UsageError(f"--part splits a run into independent jobs; drop {clash}")
    if args.extend is not None:
        config, out = _extended(args)
    else:
        config, out = _build_config(args, check_out=leader and part is None)
    # Imports that start JAX wait until the arguments are known to be good.
    from rich.console import Console

    from suite import api
    from suite.registry import load_registry
    from suite.runs import recorded_plugin_error
    from suite.terminal import RichProgress, print_leaderboard

    try:
        registry = load_registry(local_files=config.plugins)
    except UsageError as exc:  # a plugin file a resumed or extended run recorded: say where
        raise (recorded_plugin_error(exc, config.plugins, out / "config.toml") if args.resume or args.extend
               else exc) from None
    err = Console(stderr=True, soft_wrap=True)  # a line per message, even in a pipe
    progress = RichProgress(err, enabled=not args.quiet)
    try:
        if args.extend is not None:
            run = api.extend(out, args.optimizer, plugins=args.plugin, wrap=args.wrap, progress=progress,
                             compile_cache=args.compile_cache, command=["suite", *argv], registry=registry)
        else:
            run = api.run_config(config, out=out, resume=bool(args.resume), progress=progress,
                                 compile_cache=args.compile_cache, command=["suite", *argv],
                                 registry=registry, leader=leader, rerun_stale=args.rerun_stale, part=part)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished cells are kept in {out}; "
                  f"continue with: suite run --resume {out} (or report them: suite report {out})",
                  markup=False, highlight=False)
        return EXIT_INTERRUPTED
    if run is None:  # another process of a --distributed run: process 0 writes and reports
        return EXIT_OK
    if not part:  # a part's leaderboard would rank only its own share
        print_leaderboard(run.tables, run.config, run.metadata.get("compile_cache"))
    failed = run.failed
    for (lname, error), rows in (failed.groupby(["landscape_label", "error"], sort=False)
                                 if len(failed) else []):
        err.print(f"failed: {len(rows)} cell{'s' if len(rows) != 1 else ''} on {lname} ({', '.join(rows['optimizer'].unique())}): {error}",
                  markup=False, highlight=False, style="red")
    if run.counts.get("skipped"):
        skipped = run.counts["skipped"]
        err.print(f"{'extended' if args.extend else 'resumed'}: {skipped} finished cell{'s' if skipped != 1 else ''} "
                  f"{'kept' if args.extend else 'skipped'}", highlight=False)
    print(f"run folder: {out}")
    if part:  # other parts may still run: the whole run is gathered and reported once they are done
        print(f"part {part[0]}/{part[1]} done; when every part has finished: suite report {out} "
              f"(parts in separate folders: suite report FOLDER_1 FOLDER_2 ...)")
        return EXIT_FAILED_CELLS if len(failed) else EXIT_OK
    if args.no_report and args.extend and (out / "report.html").is_file():
        err.print(f"note: {out / 'report.html'} predates the new entries; suite report {out} rewrites it",
                  markup=False, highlight=False)
    if not args.no_report:
        path, headline = write_report(out, registry, err, quiet=args.quiet)
        print(f"ranking stability: {headline}")
        print(f"report: {path}")
    return EXIT_FAILED_CELLS if len(failed) else EXIT_OK
