"""The Python API: ``suite.run(...)`` runs a benchmark, ``suite.load(run_dir)`` reads one back.

Both return a :class:`Run`: the run folder's tidy tables as pandas
DataFrames, its leaderboard, and :meth:`Run.report` for the HTML report. The
``suite`` command is a thin layer over :func:`run_config`::

    import suite

    run = suite.run(landscapes=["bowl:dim=10:condition=10,1000"],
                    optimizers=["adam", "sgd:learning_rate=0.01,0.1"],
                    restarts=64, steps=500, out="reports/bowl")
    run.leaderboard()[["landscape_label", "rank", "entry", "p_value"]]
    run.report()  # reports/bowl/report.html
"""

from __future__ import annotations

import dataclasses
import datetime
import tomllib
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from suite import config as cfg
from suite import environment, plan, study
from suite.errors import UsageError, shown
from suite.registry import Registry, load_registry
from suite.results import RunDir, conditions
from suite.runner import Progress


def default_config_text() -> str:
    """The built-in default benchmark's TOML."""
    return resources.files("suite").joinpath("configs/default.toml").read_text()


@dataclasses.dataclass
class Run:
    """A run folder: its config, metadata and tables, read from disk on demand.

    Attributes:
      path: the run folder.
      counts: for a run just executed, ``{"ran", "skipped", "failed"}`` cells;
        empty for a loaded one.
      interrupted: whether the run was stopped before every cell finished.
    """

    path: Path
    counts: dict = dataclasses.field(default_factory=dict)
    interrupted: bool = False
    _tables: dict | None = dataclasses.field(default=None, repr=False)

    @property
    def config(self) -> cfg.RunConfig:
        """The resolved config the run was made from (``config.toml``)."""
        file = RunDir(self.path).config_path
        return cfg.from_toml(cfg.load_toml(file), str(file))

    @property
    def metadata(self) -> dict:
        """Versions, device, seed, git commit and times (``metadata.json``)."""
        return RunDir(self.path).read_metadata()

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the run by name: restarts, cells, curves (and diagnostics' ones)."""
        if self._tables is None:
            run_dir = RunDir(self.path)
            self._tables = run_dir.tables()
            for cell_id, problem in run_dir.unreadable.items():  # suite.resume runs them again
                warnings.warn(f"cell {cell_id} is left out: {problem}", RuntimeWarning, stacklevel=2)
        return self._tables

    @property
    def restarts(self) -> pd.DataFrame:
        """One row per restart per cell."""
        return self.tables["restarts"]

    @property
    def cells(self) -> pd.DataFrame:
        """One row per cell: conditions, timings and scores at every target."""
        return self.tables["cells"]

    @property
    def curves(self) -> pd.DataFrame:
        """Per cell, quantiles over restarts of the loss at the checkpoint steps."""
        return self.tables["curves"]

    @property
    def failed(self) -> pd.DataFrame:
        """The cells that failed, with their one-line errors."""
        cells = self.cells
        return cells[cells["status"] != "ok"] if not cells.empty else cells

    def leaderboard(self) -> pd.DataFrame:
        """Per landscape, every entry at its selected setting, ranked (see :func:`suite.metrics.leaderboard`)."""
        from suite.metrics import leaderboard

        cells = self.cells
        if cells.empty or not (cells["status"] == "ok").any():
            return pd.DataFrame()
        return leaderboard(cells, self.restarts)

    @property
    def verdict(self) -> dict | None:
        """A study's verdict record (``study.json``: claim, tolerance, verdict), or None for a plain run."""
        return study.load(self.path)

    def report(self, path: str | Path | None = None, *, plugins: Iterable[str] = ()) -> Path:
        """Writes the self-contained HTML report (default ``RUN_DIR/report.html``); returns its path."""
        from suite.report import write_report

        if path is not None and not isinstance(path, (str, Path)):
            raise UsageError(f"the report path must be a file name; got {path!r}")
        registry = load_registry(local_files=[*self._plugins(), *_names(plugins, "plugins")])
        return write_report(self.path, path, registry=registry)

    def _plugins(self) -> list[str]:
        try:
            return [p for p in self.config.plugins if Path(p).is_file()]
        except UsageError:
            return []


def load(run_dir: str | Path) -> Run:
    """The run in ``run_dir`` (finished, interrupted or still running)."""
    path = _folder(run_dir, "run folder")
    if not path.is_dir():
        raise UsageError(f"run folder {str(path)!r} does not exist")
    if not (path / "config.toml").is_file() and not (path / "cells.parquet").is_file():
        raise UsageError(f"{str(path)!r} is not a run folder (no config.toml or cells.parquet in it)")
    return Run(path, interrupted=bool(RunDir(path).read_metadata().get("interrupted")))


def _folder(value, what: str) -> Path:
    if not isinstance(value, (str, Path)):
        raise UsageError(f"{what} must be a folder path; got {value!r}")
    return Path(value)


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
            value = _names(value, name)
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


def _names(value, what: str) -> list[str]:
    """A list of names or paths from one, or from any list of them (a path is its text)."""
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
        return [str(v) for v in value]
    raise UsageError(f"{what} must be a name or a list of names (plugins: file paths); got {shown(value)}")


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
    path = _folder(run_dir, "the run folder to resume")
    config = RunDir(path).read_config("resume")
    config.plugins = list(config.plugins) + _names(plugins, "plugins")
    return run_config(config, out=path, resume=True, progress=progress, compile_cache=compile_cache,
                      command=["suite.resume(...)"], rerun_stale=rerun_stale)


def new_run_dir(out: str | Path | None, check: bool = True) -> Path:
    """``out``, refused if it already holds a run; by default a new ``reports/<date-time>/``."""
    if out is not None:
        path = _folder(out, "out")
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


def run_config(config: cfg.RunConfig, *, out: Path, resume: bool = False, progress: bool | Progress = True,
               compile_cache: str | None = None, command: list[str] | None = None,
               registry: Registry | None = None, leader: bool = True, cache=None,
               rerun_stale: bool = False) -> Run | None:
    """Resolves ``config``, runs every unfinished cell into ``out`` and gathers the tables.

    The lower layer of :func:`run` and ``suite run``. With ``leader=False``
    (another process of a ``--distributed`` run) it only computes; process 0
    writes. ``cache`` (a :class:`suite.compiler.ProgramCache`) keeps compiled
    programs across calls, for scripts that run the same programs again.
    The folder is held while it works: a second run into it is refused (:meth:`RunDir.claim`).
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
    cells = [plan.Cell(landscape, optimizer) for landscape in landscapes for optimizer in optimizers]
    if not leader:
        runner.execute(resolved, cells, run_dir, cache=cache)
        return None
    with run_dir.claim() as taken_over:
        metadata = run_dir.read_metadata() if resume else {}
        notices = run_dir.prepare(conditions(resolved), [c.id for c in cells], rerun_stale=rerun_stale,
                                  config_toml=None if resume else cfg.to_toml(resolved))
        metadata = metadata or environment.collect(  # a new run, or one whose metadata.json was lost
            config.seed, command or ["suite.run(...)"], registry.provenance(landscapes, optimizers))
        if resume:
            metadata.setdefault("resumed", []).append(environment.now())
        for notice in filter(None, [taken_over, *notices]):
            bar.warn(notice)
        metadata["compile_cache"] = cache_dir
        # The conditions of every number in the run, beside the config that set them.
        metadata |= {"precision": config.precision, "stop_at_target": config.stop_at_target,
                     "tuning": config.tuning}
        if config.study:  # the claim's test as stated before anything ran
            metadata.setdefault("study", config.study)
        run_dir.write_metadata(metadata)
        run_dir.write_plan(plan.plan_record(cells, landscapes, optimizers))

        bar.announce(f"{_count(len(cells), 'cell')} ({_count(len(landscapes), 'landscape')} × "
                     f"{_count(len(optimizers), 'optimizer setting')}), {_count(config.restarts, 'restart')} × "
                     f"{_count(config.steps, 'step')} → {out}")
        for warning in registry.warnings:
            bar.warn(warning)
        interrupted, counts = False, {}
        try:
            with bar:
                counts = runner.execute(resolved, cells, run_dir, progress=bar, cache=cache)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            tables = run_dir.gather()
            metadata["finished"] = environment.now()
            metadata["interrupted"] = interrupted
            run_dir.write_metadata(metadata)
        if config.study:  # a study: its verdict, from the tables just gathered, under the [study] stated first
            table, edited = study.stated(config.study, metadata)
            record = study.evaluate(tables, table, registry, planned=len(cells))
            record["verdict"]["notes"] += [edited] if edited else []
            study.write(out, record)
    return Run(Path(out), counts, interrupted, tables)


def _check_devices(devices: int) -> None:
    import jax

    found = jax.local_devices()
    if devices > len(found):
        raise UsageError(f"devices = {devices}, but this machine has {len(found)} {found[0].platform} "
                         f"device{'s' if len(found) > 1 else ''}; give at most {len(found)} (0: all)")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
