"""The run folder: resolved config, metadata, and tidy tables written cell by cell.

Layout of ``reports/<run-id>/``::

    config.toml          the resolved config (every parameter explicit)
    metadata.json        versions, device, seed, git commit, start/end time
    plan.json            every cell the run means to finish, and the docs of its
                         landscapes, optimizers and wrappers (for reports)
    restarts.parquet     one row per restart per cell
    cells.parquet        one row per cell: sizes, timings, success rates, ERT
    curves.parquet       per cell, quantiles over restarts at checkpoint steps
    cells/<id>/          what each cell wrote when it finished (renamed into
                         place, so a cell is either complete or absent), with
                         ``cell.json``: its status and the conditions it ran under
    report.html          the self-contained report (``suite report``)
    .lock                while a run works in the folder: its pid and host

The three top-level tables are gathered from ``cells/`` at the end of a run,
when it is interrupted, and on ``--resume``.

What is safe: every file is written to a temporary name holding the writer's
pid and renamed into place, so a reader sees the old file or the new one,
never a part. One run at a time works in a folder (:mod:`suite.results.lock`).
A file that cannot be read is named in a one-line
:class:`~suite.errors.UsageError` (:mod:`suite.results.files`); a cell whose
own files cannot be read counts as unfinished, so a resume runs it again, and
readers leave it out and name it (:attr:`RunDir.unreadable`). A resume under
other conditions is refused (:mod:`suite.results.conditions`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from suite.errors import UsageError
from suite.results import lock
from suite.results.conditions import CONDITIONS, changed, conditions, fingerprint, stale_cells
from suite.results.files import (
    CELL_RECORD, DIAGNOSTIC_TABLES, RENAMED, STATUSES, TABLES, FileProblem, atomic_write, check_table, mtime,
    read_cell, read_json, read_parquet, remove, signature,
)
from suite.results.lock import LOCK

__all__ = ["CELL_RECORD", "CONDITIONS", "DIAGNOSTIC_TABLES", "LOCK", "RENAMED", "STATUSES", "TABLES", "CellState",
           "FileProblem", "RunDir", "changed", "conditions", "fingerprint"]

# A cell folder's name: the cell id (12 hex digits).
_CELL_ID = re.compile(r"[0-9a-f]{12}")
# Temporary files and folders this package writes (and those of older versions).
_TEMPORARY = re.compile(r"\..*\.tmp|\.[0-9a-f]{12}\.[A-Za-z0-9_]{8}")
_TOP_TEMPORARY = re.compile(r"\.(restarts|cells|curves|layers|paths|pictures)\.parquet\..*tmp"
                            r"|\.(metadata\.json|plan\.json|config\.toml)\..*tmp")


@dataclasses.dataclass(frozen=True)
class CellState:
    """What ``cells/<id>/`` holds.

    Attributes:
      status: ``ok`` or ``failed``; None when the cell's files cannot be read.
      conditions: the conditions it ran under; None if it was written before
        cells recorded them (it is taken to match its folder's config).
      problem: why it cannot be read (one line naming the file), or ``""``.
    """

    status: str | None
    conditions: dict | None = None
    problem: str = ""


class RunDir:
    """A run folder on disk.

    Attributes:
      unreadable: cell id -> why its files cannot be read, for the cells the
        last :meth:`collect`, :meth:`tables` or :meth:`scan` left out.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.unreadable: dict[str, str] = {}
        self._states: dict[str, tuple[tuple, CellState]] = {}

    @property
    def parts(self) -> Path:
        return self.path / "cells"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK

    def create(self, config_toml: str) -> None:
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
            atomic_write(self.config_path, config_toml)
        except OSError as exc:
            raise UsageError(f"cannot create the run folder {str(self.path)!r}: {exc.strerror or exc}") from None

    def read_config(self, what: str = "run folder"):
        """The folder's ``config.toml`` as a checked :class:`~suite.config.RunConfig`; errors name the file."""
        from suite import config as cfg

        if not os.path.lexists(self.config_path):
            raise UsageError(f"{what} {str(self.path)!r} is not a run folder (no config.toml in it)")
        config = cfg.from_toml(cfg.load_toml(self.config_path), str(self.config_path))
        try:
            config.check()
        except UsageError as exc:
            raise UsageError(f"{self.config_path}: {exc}") from None
        return config

    # --- one run at a time ----------------------------------------------------------

    @contextlib.contextmanager
    def claim(self, part: tuple[int, int] | None = None) -> Iterator[str | None]:
        """Holds the run folder for this process while the block runs (:func:`suite.results.lock.claim`).

        ``part`` ``(i, n)``: only the i-th of n shares of the cells (``--part i/n``),
        held beside the other parts of its split (:func:`suite.results.lock.part_lock`).
        Yields a notice when the lock of a process that died was taken over.
        """
        name, clashes = lock.part_lock(part)
        with lock.claim(self.path, name=name, clashes=clashes) as notice:
            yield notice

    def prepare(self, run_conditions: dict, planned: list[str], *, config_toml: str | None,
                rerun_stale: bool, sweep: bool = True) -> list[str]:
        """Readies the claimed folder for a run (``config_toml``: a new one) or a resume (None).

        Refuses (one line) a new run into a folder that holds one, a ``cells``
        that is not a folder, and finished cells that ran under other
        conditions (unless ``rerun_stale``: those are removed, to run again).
        Then sweeps what killed runs left (unless not ``sweep``: a part of a
        split run, whose fellow parts may be writing) and, for a new run, writes ``config.toml``.

        Returns:
          One-line notices: cells that cannot be read (they run again), stale cells removed.
        """
        resume = config_toml is None
        if not resume and os.path.lexists(self.config_path):
            raise UsageError(f"run folder {str(self.path)!r} already holds a run; continue it with "
                             f"suite run --resume {self.path} (suite.resume in Python) or choose another folder")
        if os.path.lexists(self.parts) and not self.parts.is_dir():
            raise UsageError(f"{self.parts} is a file, not the folder of the run's cells; move it away")
        for file in (self.path / "metadata.json", self.plan_path):  # rewritten below: refuse before any write
            if file.is_dir():
                raise UsageError(f"{file} is a folder, not a file; move it away so the run can write it")
        states = self.scan()
        stale, what = stale_cells({cid: s.conditions for cid, s in states.items() if s.status == "ok"},
                                  run_conditions, planned, self.path, resume=resume, rerun=rerun_stale)
        if sweep:
            self.sweep()
        known = set(planned)
        notices = [f"cell {cid} runs again: {problem}" if cid in known else
                   f"cell {cid} is left out of the tables (it is not in this run's plan): {problem}"
                   for cid, problem in self.unreadable.items()]
        if stale:
            self.discard(stale)
            notices.append(f"{what}: running them again")
        if not resume:
            self.create(config_toml)
        return notices

    def sweep(self) -> None:
        """Removes temporaries that killed runs left (call it holding the folder: :meth:`claim`)."""
        with contextlib.suppress(OSError):
            for entry in self.path.iterdir():
                if _TOP_TEMPORARY.fullmatch(entry.name):
                    remove(entry)
            if self.parts.is_dir():
                for entry in self.parts.iterdir():
                    if _TEMPORARY.fullmatch(entry.name):
                        remove(entry)

    # --- the cells ------------------------------------------------------------------

    def _cell_paths(self) -> list[Path]:
        """``cells/<id>`` of every cell written (hidden temporaries left out), sorted."""
        if not self.parts.is_dir():
            return []
        try:
            entries = list(self.parts.iterdir())
        except OSError as exc:
            raise UsageError(f"{self.parts} cannot be read: {exc.strerror or exc}") from None
        # A stray file is a cell only if it has a cell's name (a cell folder overwritten).
        return sorted(p for p in entries if not p.name.startswith(".")
                      and (p.is_dir() or _CELL_ID.fullmatch(p.name)))

    def scan(self) -> dict[str, CellState]:
        """Every cell written so far and its state; cells whose files cannot be read say why."""
        states = {part.name: self._state(part) for part in self._cell_paths()}
        self.unreadable = {k: s.problem for k, s in states.items() if s.problem}
        return states

    def _state(self, part: Path) -> CellState:
        seen = signature(part)
        cached = self._states.get(part.name)
        if cached is not None and cached[0] == seen:
            return cached[1]
        try:
            record, _ = read_cell(part)
            state = CellState(record["status"], record.get("conditions"))
        except FileProblem as exc:
            state = CellState(None, None, str(exc))
        self._states[part.name] = (seen, state)
        return state

    def finished(self, conditions: dict | None = None) -> set[str]:
        """Ids of cells that finished successfully (failed ones are retried).

        A cell whose files cannot be read is not finished (it runs again). With
        ``conditions`` (:func:`conditions` of the run), neither is a cell that
        recorded other conditions.
        """
        return {cid for cid, state in self.scan().items() if state.status == "ok" and (
            conditions is None or state.conditions is None or changed(state.conditions, conditions) is None)}

    def write_cell(self, cell_id: str, status: str, tables: dict[str, pd.DataFrame],
                   conditions: dict | None = None) -> None:
        """Writes one cell's tables to a hidden folder, then renames it into place.

        ``conditions`` (:func:`conditions` of the run config) goes into its
        ``cell.json``, so a resume under other conditions can tell.
        """
        self.parts.mkdir(parents=True, exist_ok=True)
        final = self.parts / cell_id
        tmp = Path(tempfile.mkdtemp(prefix=f".{cell_id}.{os.getpid()}.", suffix=".tmp", dir=self.parts))
        old = None
        try:
            for name, table in tables.items():
                table.to_parquet(tmp / f"{name}.parquet", index=False)
            record: dict[str, Any] = {"status": status}
            if conditions is not None:
                record |= {"fingerprint": fingerprint(conditions), "conditions": conditions}
            (tmp / CELL_RECORD).write_text(json.dumps(record, indent=1) + "\n")
            if os.path.lexists(final):  # a failed, stale or unreadable attempt being replaced
                old = self.parts / f".{cell_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old.tmp"
                os.replace(final, old)
            os.replace(tmp, final)
        except BaseException:
            remove(tmp)
            raise
        if old is not None:
            remove(old)

    def discard(self, cell_ids) -> None:
        """Removes cells (stale ones a resume runs again), each by one rename out of sight."""
        for cell_id in cell_ids:
            part = self.parts / cell_id
            if os.path.lexists(part):
                old = self.parts / f".{cell_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old.tmp"
                os.replace(part, old)
                remove(old)

    # --- the tables -----------------------------------------------------------------

    def gather(self) -> dict[str, pd.DataFrame]:
        """Concatenates every finished cell into the top-level tables, and writes them."""
        tables = self.collect()
        for name, table in tables.items():
            if name in DIAGNOSTIC_TABLES and table.empty:
                continue  # a run without diagnostics has none of their tables
            tmp = self.path / f".{name}.parquet.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            try:
                table.to_parquet(tmp, index=False)
                os.replace(tmp, self.path / f"{name}.parquet")
            finally:
                tmp.unlink(missing_ok=True)
        return tables

    def collect(self) -> dict[str, pd.DataFrame]:
        """The top-level tables as the cells written so far make them (nothing is written).

        Cells whose files cannot be read are left out and named in :attr:`unreadable`.
        """
        frames: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES + DIAGNOSTIC_TABLES}
        self.unreadable = {}
        for part in self._cell_paths():
            try:
                _, tables = read_cell(part)
            except FileProblem as exc:
                if not os.path.lexists(part):
                    continue  # replaced while we read (a running run retrying it)
                try:  # ... or being replaced right now: look once more
                    _, tables = read_cell(part)
                except FileProblem:
                    self.unreadable[part.name] = str(exc)
                    continue
            for name, table in tables.items():
                frames[name].append(table)
        tables = {}
        for name, parts in frames.items():
            parts = [p for p in parts if not p.empty]
            tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if not tables["cells"].empty:
            tables["cells"] = self._plan_order(tables["cells"]).sort_values("order", kind="stable").reset_index(drop=True)
            order = dict(zip(tables["cells"]["cell_id"], tables["cells"]["order"]))
            for name in ("restarts", "curves", *DIAGNOSTIC_TABLES):
                if not tables[name].empty:
                    key = tables[name]["cell_id"].map(order)
                    tables[name] = (tables[name].assign(_order=key)
                                    .sort_values("_order", kind="stable")
                                    .drop(columns="_order").reset_index(drop=True))
        return tables

    def _plan_order(self, cells: pd.DataFrame) -> pd.DataFrame:
        """``cells`` with ``order`` its place in ``plan.json``, which an extension rewrites; else as written."""
        try:
            planned = {c["cell_id"]: i for i, c in enumerate(self.read_plan().get("cells", []))}
        except UsageError:
            planned = {}
        if not planned:
            return cells
        return cells.assign(order=cells["cell_id"].map(planned).fillna(cells["order"] + len(planned)).astype(int))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run's tables for reading: the gathered ones when they are up to date.

        A run that was killed, or is still running, has cells newer than its
        top-level tables (or none): those are collected from ``cells/``, as they
        are when a top-level table cannot be read. A folder of published tables
        without ``cells/`` is read as it is; a table there that cannot be read
        is a one-line :class:`UsageError`.
        """
        self.unreadable = {}
        top = {name: self.path / f"{name}.parquet" for name in TABLES + DIAGNOSTIC_TABLES}
        parts = self._cell_paths()
        if parts:
            oldest_top = min(mtime(top[n]) for n in TABLES)
            if not all(top[n].is_file() for n in TABLES) or any(mtime(p) > oldest_top for p in parts):
                return self.collect()
        out = {}
        for name, file in top.items():
            if not os.path.lexists(file):
                out[name] = pd.DataFrame()
                continue
            try:
                out[name] = check_table(read_parquet(file), file, name)
            except FileProblem as exc:
                if parts:  # the cells still hold it
                    return self.collect()
                raise UsageError(f"{exc}, and the run folder has no cells/ to gather it from again") from None
        return out

    # --- plan and metadata ----------------------------------------------------------

    @property
    def plan_path(self) -> Path:
        return self.path / "plan.json"

    def write_plan(self, plan: dict) -> None:
        """The cells the run means to finish and the docs of its components, for reports."""
        atomic_write(self.plan_path, json.dumps(plan, indent=1) + "\n")

    def read_plan(self) -> dict:
        """``plan.json``, or ``{}`` without one; a one-line UsageError if it cannot be read."""
        plan = self._read_json(self.plan_path, "suite run --resume rewrites it")
        cells = plan.get("cells", [])
        if not isinstance(cells, list) or not all(isinstance(c, dict) and isinstance(c.get("cell_id"), str)
                                                  for c in cells):
            raise UsageError(f"{self.plan_path} is not a plan: its 'cells' must be a list of objects, each "
                             f"with a cell_id; suite run --resume rewrites it")
        return plan

    def read_metadata(self) -> dict:
        """``metadata.json``, or ``{}`` without one; a one-line UsageError if it cannot be read."""
        return self._read_json(self.path / "metadata.json", "restore it, or delete it to record the run anew")

    def write_metadata(self, metadata: dict) -> None:
        atomic_write(self.path / "metadata.json", json.dumps(metadata, indent=2, default=str) + "\n")

    def _read_json(self, file: Path, remedy: str) -> dict:
        if not os.path.lexists(file):
            return {}
        try:
            return read_json(file)
        except FileProblem as exc:
            raise UsageError(f"{exc}; {remedy}") from None

    # --- one run at a time ----------------------------------------------------------

