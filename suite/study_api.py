"""Running studies from Python: ``suite.run_study("ill_conditioning", size="small")``.

A study run is an ordinary run (:func:`suite.api.run_config`) of the study's
config at a size; its folder also holds ``study.json``, the verdict, which
``Run.verdict`` reads and the report draws at its top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from suite import api, plan, study
from suite.config import RunConfig
from suite.errors import UsageError
from suite.registry import Registry, load_registry
from suite.results import RunDir

ALL = "all"


def default_folder(name: str, size: str) -> Path:
    """Where ``suite study run NAME`` writes by default: ``reports/studies/<size>/<name>``."""
    return Path("reports") / "studies" / size / name


def names(requested: Iterable[str], registry: Registry) -> list[str]:
    """The studies ``requested`` names (``all``: every registered one, sorted), each checked."""
    requested = list(requested)
    if not requested:
        raise UsageError(f"name a study or all; choose from: {', '.join(sorted(registry.studies)) or 'none'}")
    if ALL in requested:
        if len(requested) > 1:
            raise UsageError("all runs every study: give it alone")
        return sorted(registry.studies)
    for name in requested:
        registry.study(name)
    if len(set(requested)) != len(requested):
        raise UsageError(f"a study is named twice: {', '.join(requested)}")
    return requested


def folders(selected: list[str], size: str, out: str | Path | None, *, many: bool,
            resume: bool = False) -> dict[str, Path]:
    """The run folder of each study: ``out`` itself for one study, ``out/<name>`` for several.

    Every folder is checked before any study runs, so a run of all of them is
    not stopped half-way: one that already holds a run is refused (with
    ``resume``, continued), and so is an ``out`` that is a file, empty, or a run.
    """
    if out is not None:
        if not str(out).strip():
            raise UsageError("out is empty; give a folder for the study runs")
        if many and Path(out).exists() and not Path(out).is_dir():
            raise UsageError(f"out {str(out)!r} is a file, not a folder; choose a folder for the study runs")
        if many and (Path(out) / "config.toml").exists():
            raise UsageError(f"out {str(out)!r} holds a run; studies go in a folder of their own, one per study")
    if out is None:
        chosen = {name: default_folder(name, size) for name in selected}
    elif many:
        chosen = {name: Path(out) / name for name in selected}
    else:
        chosen = {selected[0]: Path(out)}
    return {name: api.new_run_dir(path, check=not resume) for name, path in chosen.items()}


def config_for(name: str, size: str, folder: Path, registry: Registry, *, resume: bool = False,
               plugins: Iterable[str] = ()) -> RunConfig:
    """Study ``name``'s config at ``size``, resolved against ``registry`` (errors name the study).

    With ``resume`` and a folder that holds a run, the folder's own config, which
    must be this study's at this size.
    """
    if resume and (folder / "config.toml").exists():
        config = RunDir(folder).read_config("the study run to resume")
        mine = config.study
        if mine.get("name") != name or mine.get("size") != size:
            raise UsageError(f"{str(folder)!r} holds {_what(mine)}, not study {name!r} at size {size}; "
                             "give another --out, or the name and size it ran with")
    else:
        config = study.config(registry.study(name), size)
    config.plugins = list(dict.fromkeys([*config.plugins, *(str(Path(p).resolve()) for p in plugins)]))
    try:
        plan.resolve(config, registry)
    except UsageError as exc:
        raise UsageError(f"study {name!r} (size {size}): {exc}") from None
    return config


def _what(table: dict) -> str:
    return f"study {table['name']!r} at size {table.get('size')}" if table.get("name") else "a plain run"


def run_study(name: str, *, size: str = "small", out: str | Path | None = None, progress=True,
              compile_cache: str | None = None, registry: Registry | None = None, plugins: Iterable[str] = (),
              command: list[str] | None = None) -> api.Run:
    """Runs study ``name`` at ``size`` (``tiny``, ``small`` or ``full``) into ``out``; returns the :class:`Run`.

    ``out`` defaults to ``reports/studies/<size>/<name>`` and must not hold a run
    yet (continue an interrupted one with :func:`suite.resume`). ``plugins``:
    single-file plugins (a third-party study's), recorded with the run so that a
    resume or a report finds its check. The verdict is ``run.verdict`` (``study.json``).
    """
    plugins = [str(p) for p in plugins]
    registry = registry or load_registry(local_files=plugins)
    registry.study(name)
    folder = folders([name], size, out, many=False)[name]
    config = config_for(name, size, folder, registry, plugins=plugins)
    # Loaded again only when the study's own config names plugins the caller did not give.
    extra = set(config.plugins) - {str(Path(p).resolve()) for p in plugins}
    return api.run_config(config, out=folder, progress=progress, compile_cache=compile_cache,
                          command=command or [f"suite.run_study({name!r}, size={size!r})"],
                          registry=load_registry(local_files=config.plugins) if extra else registry)
