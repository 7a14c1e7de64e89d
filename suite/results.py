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
                         place, so a cell is either complete or absent)
    report.html          the self-contained report (``suite report``)

The three top-level tables are gathered from ``cells/`` at the end of a run,
when it is interrupted, and on ``--resume``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

TABLES = ("restarts", "cells", "curves")
# Written only by runs with diagnostics (``suite.diagnostics``).
DIAGNOSTIC_TABLES = ("layers", "paths", "pictures")


class RunDir:
    """A run folder on disk."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def parts(self) -> Path:
        return self.path / "cells"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    def create(self, config_toml: str) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.config_path, config_toml)

    def finished(self) -> set[str]:
        """Ids of cells that finished successfully (failed ones are retried)."""
        done = set()
        if not self.parts.is_dir():
            return done
        for part in self.parts.iterdir():
            meta = part / "cell.json"
            if part.name.startswith(".") or not meta.is_file():
                continue
            if json.loads(meta.read_text()).get("status") == "ok":
                done.add(part.name)
        return done

    def write_cell(self, cell_id: str, status: str, tables: dict[str, pd.DataFrame]) -> None:
        """Writes one cell's tables to a hidden folder, then renames it into place."""
        final = self.parts / cell_id
        tmp = Path(tempfile.mkdtemp(prefix=f".{cell_id}.", dir=self.parts))
        for name, table in tables.items():
            table.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "cell.json").write_text(json.dumps({"status": status}))
        if final.exists():  # a failed attempt being retried on resume
            shutil.rmtree(final)
        os.replace(tmp, final)

    def gather(self) -> dict[str, pd.DataFrame]:
        """Concatenates every finished cell into the top-level tables, and writes them."""
        tables = self.collect()
        for name, table in tables.items():
            if name in DIAGNOSTIC_TABLES and table.empty:
                continue  # a run without diagnostics has none of their tables
            tmp = self.path / f".{name}.parquet.tmp"
            table.to_parquet(tmp, index=False)
            os.replace(tmp, self.path / f"{name}.parquet")
        return tables

    def collect(self) -> dict[str, pd.DataFrame]:
        """The top-level tables as the cells written so far make them (nothing is written)."""
        frames: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES + DIAGNOSTIC_TABLES}
        if self.parts.is_dir():
            for part in sorted(p for p in self.parts.iterdir() if not p.name.startswith(".")):
                for name in frames:
                    file = part / f"{name}.parquet"
                    if file.is_file():
                        frames[name].append(_current(pd.read_parquet(file)))
        tables = {}
        for name, parts in frames.items():
            parts = [p for p in parts if not p.empty]
            tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if not tables["cells"].empty:
            tables["cells"] = tables["cells"].sort_values("order", kind="stable").reset_index(drop=True)
            order = dict(zip(tables["cells"]["cell_id"], tables["cells"]["order"]))
            for name in ("restarts", "curves", *DIAGNOSTIC_TABLES):
                if not tables[name].empty:
                    key = tables[name]["cell_id"].map(order)
                    tables[name] = (tables[name].assign(_order=key)
                                    .sort_values("_order", kind="stable")
                                    .drop(columns="_order").reset_index(drop=True))
        return tables

    def tables(self) -> dict[str, pd.DataFrame]:
        """The run's tables for reading: the gathered ones when they are up to date.

        A run that was killed, or is still running, has cells newer than its
        top-level tables (or none): those are collected from ``cells/``. A
        folder of published tables without ``cells/`` is read as it is.
        """
        top = [self.path / f"{name}.parquet" for name in TABLES]
        parts = [p for p in self.parts.iterdir() if not p.name.startswith(".")] if self.parts.is_dir() else []
        fresh = all(f.is_file() for f in top) and all(
            p.stat().st_mtime <= min(f.stat().st_mtime for f in top) for p in parts)
        if parts and not fresh:
            return self.collect()
        return {name: _current(pd.read_parquet(self.path / f"{name}.parquet"))
                if (self.path / f"{name}.parquet").is_file() else pd.DataFrame()
                for name in TABLES + DIAGNOSTIC_TABLES}

    @property
    def plan_path(self) -> Path:
        return self.path / "plan.json"

    def write_plan(self, plan: dict) -> None:
        """The cells the run means to finish and the docs of its components, for reports."""
        _atomic_write(self.plan_path, json.dumps(plan, indent=1) + "\n")

    def read_plan(self) -> dict:
        return json.loads(self.plan_path.read_text()) if self.plan_path.is_file() else {}

    def read_metadata(self) -> dict:
        file = self.path / "metadata.json"
        return json.loads(file.read_text()) if file.is_file() else {}

    def write_metadata(self, metadata: dict) -> None:
        _atomic_write(self.path / "metadata.json", json.dumps(metadata, indent=2, default=str) + "\n")


# Columns renamed since runs were first written: old run folders read with today's names.
RENAMED = {"program": "group"}


def _current(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with today's column names."""
    old = {k: v for k, v in RENAMED.items() if k in table.columns and v not in table.columns}
    return table.rename(columns=old) if old else table


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
