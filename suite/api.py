"""The Python API: ``suite.run(...)`` runs a benchmark, ``suite.load(run_dir)`` reads one back.

Both return a :class:`Run`: the run folder's tidy tables as pandas
DataFrames, its leaderboard, and :meth:`Run.report` for the HTML report.
``suite.extend(run_dir, optimizers=[...])`` adds entries to a run under its
own conditions, and ``suite.compare([run_a, run_b])`` reports compatible runs
together. The ``suite`` command is a thin layer over these::

    import suite

    run = suite.run(landscapes=["bowl:dim=10:condition=10,1000"],
                    optimizers=["adam", "sgd:learning_rate=0.01,0.1"],
                    restarts=64, steps=500, out="reports/bowl")
    run.leaderboard()[["landscape_label", "rank", "entry", "p_value"]]
    run.report()  # reports/bowl/report.html
    suite.extend("reports/bowl", optimizers=["lion"])  # one more entry, the same starts
"""

from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from suite import config as cfg
from suite import plan
from suite.errors import UsageError, shown
from suite.execution import new_run_dir, run_config
from suite.registry import load_registry
from suite.results import RunDir
from suite.runner import Progress
from suite.runs import Run, as_folder, as_names, load, merged_plugins, recorded_plugin_error

__all__ = ["Run", "compare", "default_config_text", "extend", "load", "make_config", "new_run_dir", "resume", "run",
           "run_config"]


def default_config_text() -> str:
    """The built-in default benchmark's TOML."""
    return resources.files("suite").joinpath("configs/default.toml").read_text()


def make_config(config: str | Path | dict | cfg.RunConfig | None = None, *,
                landscapes: Iterable[str | dict] | None = None,
                optimizers: Iterable[str | dict] | None = None,
                wrap: Iterable[str | dict] | None = None, **settings: Any) -> cfg.RunConfig:
    """A checked :class:`~suite.config.RunConfig` from a config and overrides.

    Args:
      config: a TOML file, parsed TOML (a dict), a ``RunConfig``, or None for
        the built-in default benchmark.
      landscapes, optimizers, wrap: replace the config's lists; each item is
        the command line's text (``"bowl:dim=10"``, ``"adam+stale:tau=8"``) or
        a TOML table as a dict (``{"name": "bowl", "dim": [10, 20]}``).
      settings: run keys (``restarts``, ``steps``, ``seed``, ``precision``, ...;
        see :data:`suite.config.RUN_KEYS`).
    """
    if isinstance(config, cfg.RunConfig):
        config = dataclasses.replace(config)
    elif isinstance(config, dict):
        config = cfg.from_toml(config, "the config given")
    elif config is None:
        config = cfg.from_toml(tomllib.loads(default_config_text()), "the default benchmark")
    elif isinstance(config, (str, Path)):
        config = _from_file(Path(config))
    else:
        raise UsageError(f"config must be a TOML file path, a dict of TOML tables or a RunConfig; "
                         f"got {type(config).__name__}")
    if landscapes is not None:
        config.landscapes = _components(landscapes, "landscape")
    if optimizers is not None:
        config.optimizers = _components(optimizers, "optimizer")
    if wrap is not None:
        config.wrappers = _components(wrap, "wrap")
    for name, value in settings.items():
        if name not in cfg.RUN_KEYS:
            raise UsageError(f"unknown setting {name!r}; choose from: {', '.join(sorted(cfg.RUN_KEYS))}")
        if value is None:
            continue
        if name in ("plugins", "diagnostics"):
            value = as_names(value, name)
        if name == "plugins":  # as --plugin: added to the config's own
            value = list(config.plugins) + value
        elif name == "targets" and not isinstance(value, (str, bytes)):
            try:
                value = tuple(value)
            except TypeError:
                pass  # a lone number: check() says what targets must be
        setattr(config, name, value)
    config.check()
    return config


def _from_file(path: Path) -> cfg.RunConfig:
    """The config in a TOML file; its plugin files are found beside it (else from the current folder)."""
    config = cfg.from_toml(cfg.load_toml(path), str(path))
    if isinstance(config.plugins, list):
        config.plugins = [str(path.parent / p) if isinstance(p, str) and not Path(p).is_absolute()
                          and (path.parent / p).is_file() else p for p in config.plugins]
    return config


def _components(items, kind: str) -> list[cfg.Component]:
    """Components from the command line's text or TOML tables (dicts), in the order given."""
    if isinstance(items, (str, dict)):
        items = [items]
    field = {"landscape": "landscapes", "optimizer": "optimizers", "wrap": "wrappers"}[kind]
    example = {"landscape": "'bowl:dim=10'", "optimizer": "'adam+stale:tau=8'", "wrap": "'noise:eta=0.1'"}[kind]
    try:
        items = list(items)
    except TypeError:
        raise UsageError(f"{field} must be a list of {kind} texts such as {example} or tables (dicts); "
                         f"got {shown(items)}") from None
    out = []
    for item in items:
        if isinstance(item, str) and kind == "optimizer":
            out.append(cfg.parse_optimizer(item, "optimizer"))
        elif isinstance(item, str):
            out.append(cfg.Component(*cfg.parse_component(item, kind)))
        elif isinstance(item, dict):
            out += getattr(cfg.from_toml({kind: [item]}, f"the {kind} given"), field)
        else:
            raise UsageError(f"{kind} {shown(item)}: give text such as {example} or a table (a dict with a name)")
    return out


def run(config: str | Path | dict | cfg.RunConfig | None = None, *,
        landscapes: Iterable[str | dict] | None = None, optimizers: Iterable[str | dict] | None = None,
        wrap: Iterable[str | dict] | None = None, out: str | Path | None = None,
        progress: bool | Progress = True, compile_cache: str | None = None, **settings: Any) -> Run:
    """Runs a benchmark and returns it.

    Args:
      config: a TOML file, parsed TOML, a ``RunConfig``, or None: the built-in
        default benchmark.
      landscapes, optimizers, wrap: replace the config's lists (see :func:`make_config`).
      out: the run folder (default ``reports/<date-time>/``); it must not hold a run yet.
      progress: True draws a progress bar on stderr, False nothing, or a
        :class:`suite.runner.Progress` of your own.
      compile_cache: JAX's persistent compilation cache folder, or ``"off"``.
      settings: run keys: ``restarts``, ``steps``, ``seed``, ``instances``,
        ``targets``, ``precision``, ``stop_at_target``, ``tuning``,
        ``diagnostics``, ``plugins``, ... (:data:`suite.config.RUN_KEYS`).

    Returns:
      The :class:`Run`; cells that failed are in ``run.failed``, not raised.

    Raises:
      UsageError: a bad name, value or folder (one line naming it).
      KeyboardInterrupt: after keeping every finished cell (continue with :func:`resume`).
    """
    source = (str(Path(config).resolve()) if isinstance(config, (str, Path))
              else "RunConfig(...)" if isinstance(config, cfg.RunConfig) else config)
    given = {"config": source, "landscapes": landscapes, "optimizers": optimizers, "wrap": wrap, "out": out,
             **settings}
    call = "suite.run(" + ", ".join(f"{k}={shown(v)}" for k, v in given.items() if v is not None) + ")"
    config = make_config(config, landscapes=landscapes, optimizers=optimizers, wrap=wrap, **settings)
    return run_config(config, out=new_run_dir(out), progress=progress, compile_cache=compile_cache,
                      command=[call])


def resume(run_dir: str | Path, *, plugins: Iterable[str] = (), progress: bool | Progress = True,
           compile_cache: str | None = None, rerun_stale: bool = False) -> Run:
    """Finishes an interrupted run under its own config, skipping the cells that finished.

    Cells whose files cannot be read run again; cells run under other conditions than
    ``config.toml`` says make it refuse, or with ``rerun_stale=True`` run again.
    """
    path = as_folder(run_dir, "the run folder to resume")
    config = RunDir(path).read_config("resume")
    config.plugins = merged_plugins(config.plugins, as_names(plugins, "plugins"))
    return run_config(config, out=path, resume=True, progress=progress, compile_cache=compile_cache,
                      command=["suite.resume(...)"], rerun_stale=rerun_stale)


def extend(run_dir: str | Path, optimizers: Iterable[str | dict], *, plugins: Iterable[str] = (),
           wrap: Iterable[str | dict] = (), progress: bool | Progress = True, compile_cache: str | None = None,
           command: list[str] | None = None, registry=None) -> Run:
    """Adds entries to a run under its exact conditions, runs their cells, and returns the whole run.

    Everything that shapes a number stays as the run's ``config.toml`` says:
    landscapes and instances, seed, restarts, steps, targets, precision,
    tuning mode, diagnostics, batch size and device count. So restart i of a
    new entry starts where restart i of every old entry started (common random
    numbers), and the tables hold every entry as one run of them all would. The
    new optimizers (``--optimizer`` text or TOML tables) are resolved as a run
    resolves them (sweeps, tuning budget) and appended to ``config.toml``;
    ``wrap`` wraps them (only them: a run's own ``--wrap`` is part of its old
    entries). Cells the run left unfinished finish too.

    Raises:
      UsageError: no optimizer, a study's folder or a folder of tables alone, an
        entry the run already holds, a plugin changed since the run, or a run
        folder that cannot be read (one line naming it).
    """
    path = as_folder(run_dir, "the run folder to extend")
    folder = RunDir(path)
    config = folder.read_config("--extend")
    if config.study:
        raise UsageError(f"{str(path)!r} is a study's run: its verdict is about its own entries; run the study "
                         f"again, or extend a plain run")
    if not folder.parts.is_dir() and (path / "cells.parquet").is_file():
        raise UsageError(f"{str(path)!r} holds a run's tables but not its cells/ (a published copy?): extending it "
                         f"would run every old cell again; extend the run folder it came from")
    added = _components(optimizers, "optimizer")
    if not added:
        raise UsageError("extend needs the entries to add: give one or more optimizers")
    wrappers = _components(wrap, "wrap") if wrap else []
    added = [dataclasses.replace(c, wrappers=[*c.wrappers, *wrappers]) for c in added]
    recorded = list(config.plugins)
    config.plugins = merged_plugins(recorded, as_names(plugins, "plugins"))
    if registry is None:
        try:
            registry = load_registry(local_files=config.plugins)
        except UsageError as exc:
            raise recorded_plugin_error(exc, recorded, folder.config_path) from None
    try:
        old = plan.resolve(config, registry)[1]
    except UsageError as exc:
        raise UsageError(f"{folder.config_path}: {exc}") from None
    new = plan.resolve(dataclasses.replace(config, optimizers=added), registry)[1]
    held = {o.entry for o in old}
    again = [o.entry for o in new if o.entry in held]
    if again:
        finished = folder.finished()
        ids = {plan.Cell(landscape, o).id for landscape in plan.resolve(config, registry)[0]
               for o in old if o.entry == again[0]}
        if ids - finished:
            raise UsageError(f"the run in {str(path)!r} already holds the entry {again[0]!r}, with "
                             f"{len(ids - finished)} of its cells unfinished (an extension was interrupted?): "
                             f"finish them with suite run --resume {path}")
        raise UsageError(f"the run in {str(path)!r} already holds the entry {again[0]!r}; to measure it again, "
                         f"run it into another folder and compare: suite report {path} OTHER_RUN")
    extended = dataclasses.replace(config, optimizers=[*config.optimizers, *added])
    return run_config(extended, out=path, resume=True, progress=progress, compile_cache=compile_cache,
                      command=command or ["suite.extend(...)"], registry=registry,
                      extend=list(dict.fromkeys(o.entry for o in new)))


def compare(run_dirs: Iterable[str | Path], out: str | Path | None = None, *, allow_mismatch: bool = False,
            plugins: Iterable[str] = ()) -> Path:
    """Writes one report of several compatible runs (as ``suite report RUN_A RUN_B``); returns its path.

    The runs must have run under the same conditions on every landscape they
    share (seed, restarts, steps, targets, precision, ...), else a one-line
    UsageError names the first difference; ``allow_mismatch=True`` reports them
    with each such landscape flagged. The report says which run each entry came from.
    """
    from suite.report import write_report

    folders = [as_folder(p, "run folder") for p in ([run_dirs] if isinstance(run_dirs, (str, Path)) else run_dirs)]
    if len(folders) < 2:
        raise UsageError(f"compare needs two or more run folders; got {len(folders)} (suite.load(...).report() "
                         f"reports one)")
    return write_report(folders, out, registry=load_registry(local_files=as_names(plugins, "plugins")),
                        allow_mismatch=allow_mismatch)
