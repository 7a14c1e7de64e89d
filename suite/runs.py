"""A run folder read back: :class:`Run` (its config, metadata, tables, leaderboard, report) and :func:`load`."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Iterable

import pandas as pd

from suite import config as cfg
from suite import study
from suite.errors import UsageError, shown
from suite.registry import load_registry
from suite.results import RunDir


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
        registry = load_registry(local_files=[*self._plugins(), *as_names(plugins, "plugins")])
        return write_report(self.path, path, registry=registry)

    def _plugins(self) -> list[str]:
        try:
            return [p for p in self.config.plugins if Path(p).is_file()]
        except UsageError:
            return []


def load(run_dir: str | Path) -> Run:
    """The run in ``run_dir`` (finished, interrupted or still running)."""
    path = as_folder(run_dir, "run folder")
    if not path.is_dir():
        raise UsageError(f"run folder {str(path)!r} does not exist")
    if not (path / "config.toml").is_file() and not (path / "cells.parquet").is_file():
        raise UsageError(f"{str(path)!r} is not a run folder (no config.toml or cells.parquet in it)")
    return Run(path, interrupted=bool(RunDir(path).read_metadata().get("interrupted")))


def as_folder(value, what: str) -> Path:
    if not isinstance(value, (str, Path)):
        raise UsageError(f"{what} must be a folder path; got {value!r}")
    return Path(value)


def as_names(value, what: str) -> list[str]:
    """A list of names or paths from one, or from any list of them (a path is its text)."""
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
        return [str(v) for v in value]
    raise UsageError(f"{what} must be a name or a list of names (plugins: file paths); got {shown(value)}")


def merged_plugins(recorded: list[str], given: list[str]) -> list[str]:
    """A run's recorded plugin files and those given again (``--plugin``), each file once."""
    out, seen = [], set()
    for path in [*recorded, *given]:
        key = str(Path(path).resolve()) if isinstance(path, str) else path
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def recorded_plugin_error(exc: UsageError, recorded: list[str], config_path: Path) -> UsageError:
    """``exc`` (from loading plugins) saying, where it is about a plugin file the run recorded, where that is."""
    if any(str(p) in str(exc) for p in recorded):
        return UsageError(f"{exc} (a plugin the run recorded in {config_path}: put the file back, or edit its "
                          f"path there)")
    return exc
