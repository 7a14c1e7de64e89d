"""Running studies from Python: ``suite.study_api.run_study("ill_conditioning", size="small")``.

A study run is an ordinary run (:func:`suite.api.run_config`) of the study's
config at a size; its folder also holds ``study.json``, the verdict, which
``Run.verdict`` reads and the report draws at its top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from suite import api, study
from suite.errors import UsageError
from suite.registry import Registry, load_registry

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


def folders(selected: list[str], size: str, out: str | Path | None, *, many: bool) -> dict[str, Path]:
    """The run folder of each study: ``out`` itself for one study, ``out/<name>`` for several.

    Every folder is checked before any study runs, so a run of all of them is
    not stopped half-way by a folder that already holds a run.
    """
    if out is None:
        chosen = {name: default_folder(name, size) for name in selected}
    elif many:
        chosen = {name: Path(out) / name for name in selected}
    else:
        chosen = {selected[0]: Path(out)}
    return {name: api.new_run_dir(path) for name, path in chosen.items()}


def run_study(name: str, *, size: str = "small", out: str | Path | None = None, progress=True,
              compile_cache: str | None = None, registry: Registry | None = None,
              command: list[str] | None = None) -> api.Run:
    """Runs study ``name`` at ``size`` (``tiny``, ``small`` or ``full``) into ``out``; returns the :class:`Run`.

    ``out`` defaults to ``reports/studies/<size>/<name>`` and must not hold a run
    yet (continue an interrupted one with :func:`suite.resume`). The verdict is
    ``run.verdict`` (``study.json``).
    """
    registry = registry or load_registry()
    spec = registry.study(name)
    config = study.config(spec, size)
    if config.plugins:  # a third-party study's own single-file plugins
        registry = load_registry(local_files=config.plugins)
    folder = folders([name], size, out, many=False)[name]
    return api.run_config(config, out=folder, progress=progress, compile_cache=compile_cache,
                          command=command or [f"suite.study_api.run_study({name!r}, size={size!r})"],
                          registry=registry)
