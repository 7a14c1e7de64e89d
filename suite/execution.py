"""Running a config into a run folder: the layer under ``suite.run``, ``suite.resume``, ``suite.extend`` and ``suite run``.

:func:`run_config` resolves a config, holds the folder, runs every
unfinished cell and gathers the tables. Two ways of running only some cells
go through it too: a *part* (``--part I/N``) runs a deterministic share of the
plan, so independent jobs split a run with no coordinator; an *extension*
(``--extend``) adds entries to a finished run under its own conditions.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

from suite import config as cfg
from suite import environment, plan, study
from suite.errors import UsageError, shown
from suite.registry import Registry, load_registry
from suite.results import RunDir, conditions
from suite.results.conditions import shown_value
from suite.results.files import atomic_write
from suite.runner import Progress
from suite.runs import Run, as_folder

# Where each part of a split run records its own metadata (host, device, times).
PARTS = "parts"


def new_run_dir(out: str | Path | None, check: bool = True) -> Path:
    """``out``, refused if it already holds a run; by default a new ``reports/<date-time>/``."""
    if out is not None:
        path = as_folder(out, "out")
        if path.exists() and not path.is_dir():
            raise UsageError(f"out {str(out)!r} is a file, not a folder; choose a folder for the run")
        if check and (path / "config.toml").exists():
            raise UsageError(f"run folder {str(out)!r} already holds a run; continue it with "
                             f"suite run --resume {out} (suite.resume in Python) or choose another folder")
        return path
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = Path("reports") / stamp, 1
    while path.exists():
        n += 1
        path = Path("reports") / f"{stamp}-{n}"
    return path


def parse_part(value) -> tuple[int, int]:
    """``"I/N"`` (or ``(I, N)``) as ``(I, N)`` with 1 ≤ I ≤ N; a one-line UsageError otherwise."""
    try:
        i, n = (value.split("/") if isinstance(value, str) else value)
        i, n = int(i), int(n)
    except (TypeError, ValueError):
        raise UsageError(f"--part must be I/N, this job's share of N (1/4, 2/4, ...); got {shown(value)}") from None
    if not 1 <= i <= n or n > 100_000:
        raise UsageError(f"--part {i}/{n}: I must be between 1 and N (and N at most 100000); got {shown(value)}")
    return i, n


def run_config(config: cfg.RunConfig, *, out: Path, resume: bool = False, progress: bool | Progress = True,
               compile_cache: str | None = None, command: list[str] | None = None,
               registry: Registry | None = None, leader: bool = True, cache=None,
               rerun_stale: bool = False, part: tuple[int, int] | None = None,
               extend: list[str] | None = None) -> Run | None:
    """Resolves ``config``, runs every unfinished cell into ``out`` and gathers the tables.

    The lower layer of :func:`suite.run` and ``suite run``. With ``leader=False``
    (another process of a ``--distributed`` run) it only computes; process 0
    writes. ``cache`` (a :class:`suite.compiler.ProgramCache`) keeps compiled
    programs across calls, for scripts that run the same programs again.
    The folder is held while it works: a second run into it is refused (:meth:`RunDir.claim`).

    ``part`` ``(i, n)`` runs only the i-th of n shares of the cells
    (:func:`suite.runner.share`) and joins a folder that holds the same run;
    it gathers no top-level tables, since other parts may still be writing
    (``suite run --resume`` or ``suite report`` of the folder does). ``extend``
    names the entries an extension adds: ``config`` (the run's own plus them)
    replaces ``config.toml``, and the metadata records them.

    Returns the :class:`Run` (None on a non-leader).
    """
    from suite import runner
    from suite.terminal import progress_for

    bar = progress_for(progress)
    _check_devices(config.devices)
    if config.study and (config.study.get("size") not in study.SIZES or not config.study.get("name")):
        raise UsageError("this config is a study's (it has a [study] table): run it with suite study run NAME "
                         "--size tiny|small|full (suite.run_study in Python), or delete the table to run it plain")
    registry = registry or load_registry(local_files=config.plugins)
    run_dir = RunDir(out)
    try:
        landscapes, optimizers = plan.resolve(config, registry)
    except UsageError as exc:  # a resumed run's own config is what is wrong: name it
        raise UsageError(f"{run_dir.config_path}: {exc}") if resume else exc from None
    resolved = plan.resolved_config(config, landscapes, optimizers)
    cache_dir = environment.enable_compile_cache(compile_cache)
    planned = [plan.Cell(landscape, optimizer) for landscape in landscapes for optimizer in optimizers]
    cells = runner.share(planned, *part) if part else planned
    if not leader:
        runner.execute(resolved, cells, run_dir, cache=cache)
        return None
    toml = cfg.to_toml(resolved)
    with run_dir.claim(part) as taken_over:
        joining = part is not None and not resume and run_dir.config_path.exists()
        if joining:  # another part made the folder: it must hold this very run
            _same_run(run_dir, toml)
        existing = resume or joining
        record_of_plan = plan.plan_record(planned, landscapes, optimizers)
        if existing:  # finished cells measured the components as they were then
            _same_sources(run_dir, record_of_plan["components"])
        metadata = run_dir.read_metadata() if existing else {}
        notices = run_dir.prepare(conditions(resolved), [c.id for c in planned], rerun_stale=rerun_stale,
                                  config_toml=None if existing else toml, sweep=part is None)
        if extend:
            atomic_write(run_dir.config_path, toml)
        record = environment.collect(config.seed, command or ["suite.run(...)"],
                                     registry.provenance(landscapes, optimizers))
        if not metadata:  # a new run, or one whose metadata.json was lost
            metadata = dict(record) | ({"parts": part[1]} if part else {})
        if resume and not part and not extend:
            metadata.setdefault("resumed", []).append(environment.now())
        if extend:
            metadata.setdefault("extended", []).append(
                {"at": environment.now(), "entries": extend, "command": record["command"],
                 "host": record["host"], "device": record["device"], "git_commit": record["git_commit"]})
        for notice in filter(None, [taken_over, *notices]):
            bar.warn(notice)
        metadata["compile_cache"] = cache_dir
        # The conditions of every number in the run, beside the config that set them.
        metadata |= {"precision": config.precision, "stop_at_target": config.stop_at_target,
                     "tuning": config.tuning}
        if config.study:  # the claim's test as stated before anything ran
            metadata.setdefault("study", config.study)
        if part is None or not run_dir.path.joinpath("metadata.json").exists():
            run_dir.write_metadata(metadata)
        run_dir.write_plan(record_of_plan)

        share = f"part {part[0]}/{part[1]}: " if part else ""
        bar.announce(f"{share}{_count(len(cells), 'cell')} ({_count(len(landscapes), 'landscape')} × "
                     f"{_count(len(optimizers), 'optimizer setting')}"
                     + (f", of {len(planned)}" if part else "") + f"), {_count(config.restarts, 'restart')} × "
                     f"{_count(config.steps, 'step')} → {out}")
        for warning in registry.warnings:
            bar.warn(warning)
        interrupted, counts = False, {}
        own = dict(record, part=f"{part[0]}/{part[1]}", cells=[c.id for c in cells]) if part else None
        try:
            with bar:
                counts = runner.execute(resolved, cells, run_dir, progress=bar, cache=cache)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            if part:  # other parts may still be writing: the tables are gathered when the run is whole
                tables = run_dir.collect()
                _write_part(run_dir, part, own | {"finished": environment.now(), "interrupted": interrupted,
                                                  "counts": counts})
            else:
                tables = run_dir.gather()
                metadata["finished"] = environment.now()
                metadata["interrupted"] = interrupted
                run_dir.write_metadata(metadata)
        if config.study and not part:  # a study: its verdict, from the tables just gathered, under the [study] stated first
            table, edited = study.stated(config.study, metadata)
            record = study.evaluate(tables, table, registry, planned=len(planned))
            record["verdict"]["notes"] += [edited] if edited else []
            study.write(out, record)
    return Run(Path(out), counts, interrupted, tables)


def _same_run(run_dir: RunDir, toml: str) -> None:
    """Refuses a part joining a folder whose ``config.toml`` is another run's, naming the first differing key."""
    have, want = cfg.load_toml(run_dir.config_path), tomllib.loads(toml)
    if have == want:
        return
    key = next(k for k in sorted(set(have) | set(want), key=lambda k: (k in ("landscape", "optimizer"), k))
               if have.get(k) != want.get(k))
    raise UsageError(f"run folder {str(run_dir.path)!r} holds another run: its config.toml differs in {key!r} "
                     f"({shown_value(have.get(key))} there, {shown_value(want.get(key))} here); give every part the same "
                     f"config and flags, or another --out")


def _same_sources(run_dir: RunDir, components: dict) -> None:
    """Refuses to go on with a run whose landscape, optimizer or wrapper code changed since its cells ran.

    ``plan.json`` records each component's source (the distribution and
    version it came from, or a plugin file's sha256); new cells of a changed
    component would sit beside old cells of the same name measured on other code.
    """
    try:
        before = run_dir.read_plan().get("components", {})
    except UsageError:
        return  # no readable record to hold the run to (a resume rewrites it)
    for kind, specs in components.items():
        for name, spec in specs.items():
            old, new = (before.get(kind) or {}).get(name, {}).get("source"), spec.get("source")
            if old and new and old != new:
                raise UsageError(
                    f"the {kind[:-1]} {name!r} changed since the run's cells were measured ({shown_value(old)} then, "
                    f"{shown_value(new)} now): new cells would not measure what the finished ones did; put it back, or "
                    f"start a new run (and compare the two with suite report RUN_A RUN_B)")


def _write_part(run_dir: RunDir, part: tuple[int, int], record: dict) -> None:
    """``parts/part-I-of-N.json``: what this part ran, where and when (the folder's metadata.json is the first part's)."""
    folder = run_dir.path / PARTS
    folder.mkdir(exist_ok=True)
    atomic_write(folder / f"part-{part[0]}-of-{part[1]}.json", json.dumps(record, indent=1, default=str) + "\n")


def _check_devices(devices: int) -> None:
    import jax

    found = jax.local_devices()
    if devices > len(found):
        raise UsageError(f"devices = {devices}, but this machine has {len(found)} {found[0].platform} "
                         f"device{'s' if len(found) > 1 else ''}; give at most {len(found)} (0: all)")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
