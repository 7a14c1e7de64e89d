"""Reading a run folder's files: each one checked, and what is wrong with it said in one line.

A file may be missing, empty, a folder, not UTF-8, truncated, corrupt or of
the wrong type; :class:`FileProblem` names it and says which. Writing is in
:mod:`suite.results` (a temporary name of this process, then one rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pandas as pd

from suite.errors import UsageError, one_line

TABLES = ("restarts", "cells", "curves")
# Written only by runs with diagnostics (``suite.diagnostics``).
DIAGNOSTIC_TABLES = ("layers", "paths", "pictures")
CELL_RECORD = "cell.json"
STATUSES = ("ok", "failed")
# Columns renamed since runs were first written: old run folders read with today's names.
RENAMED = {"program": "group"}


class FileProblem(Exception):
    """A file of a run folder that cannot be read: ``path`` names it, ``what`` says what is wrong."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        super().__init__(f"{path} {what}")


def current(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with today's column names."""
    old = {k: v for k, v in RENAMED.items() if k in table.columns and v not in table.columns}
    return table.rename(columns=old) if old else table


def atomic_write(path: Path, text: str) -> None:
    """Writes ``text`` to a temporary name of this process, then renames it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a file; move it away so the run can write its "
                         f"{path.name}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileProblem(path, "is missing") from None
    except IsADirectoryError:
        raise FileProblem(path, "is a folder, not a file") from None
    except PermissionError:
        raise FileProblem(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({exc.strerror or exc})") from None


def read_json(path: Path) -> dict:
    """A JSON object from a file, or a FileProblem saying what is wrong with it."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise FileProblem(path, "is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(path, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}; "
                                f"truncated or corrupt)") from None
    except (ValueError, RecursionError) as exc:
        raise FileProblem(path, f"is not valid JSON ({one_line(exc)[:200]})") from None
    if not isinstance(value, dict):
        raise FileProblem(path, f"holds a JSON {type(value).__name__} where an object {{...}} belongs")
    return value


def read_parquet(path: Path) -> pd.DataFrame:
    """A parquet table, or a FileProblem saying what is wrong with it."""
    if path.is_dir():
        raise FileProblem(path, "is a folder, not a parquet table")
    if not path.is_file():
        raise FileProblem(path, "is missing" if not os.path.lexists(path) else "is not a regular file")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - arrow raises many kinds for a damaged file
        detail = one_line(exc).replace(f"Could not open Parquet input source '{path}': ", "")
        raise FileProblem(path, f"is not a readable parquet table ({detail[:160]})") from None


def check_table(table: pd.DataFrame, path: Path, name: str) -> pd.DataFrame:
    """``table`` (today's column names) if it holds what its name says: a cell id on every row, and
    cells their status."""
    table = current(table)
    if table.empty and not len(table.columns):
        return table  # a run with no such rows writes a table without columns
    needed = ("cell_id", "status") if name == "cells" else ("cell_id",)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise FileProblem(path, f"is not a {name} table (no {', '.join(missing)} column)")
    return table


def read_cell(part: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """``cells/<id>/``: its record and tables, every one checked; a FileProblem if any cannot be read."""
    if not part.is_dir():
        raise FileProblem(part, "is a file, not a cell folder")
    record = read_json(part / CELL_RECORD)
    status = record.get("status")
    if status not in STATUSES:
        raise FileProblem(part / CELL_RECORD, f"has status {status!r}; expected one of {', '.join(STATUSES)}")
    if not isinstance(record.get("conditions", {}), dict):
        raise FileProblem(part / CELL_RECORD, "has conditions that are not an object")
    needed = TABLES if status == "ok" else ("cells",)
    tables = {}
    for name in TABLES + DIAGNOSTIC_TABLES:
        file = part / f"{name}.parquet"
        if name not in needed and not os.path.lexists(file):
            continue
        table = check_table(read_parquet(file), file, name)
        if "cell_id" not in table.columns:
            raise FileProblem(file, f"is not a {name} table (no cell_id column)")
        if (table["cell_id"] != part.name).any():
            raise FileProblem(file, f"holds rows of another cell than {part.name}")
        tables[name] = table
    cells = tables["cells"]
    if "order" not in cells:  # its place in the plan: the tables are sorted by it
        raise FileProblem(part / "cells.parquet", "is not a cells table (no order column)")
    if len(cells) != 1 or cells["status"].iloc[0] != status:
        raise FileProblem(part / "cells.parquet", f"must hold one row, of status {status} as {CELL_RECORD} says")
    return record, tables


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def signature(part: Path) -> tuple:
    """What changes when a cell folder is rewritten: its files' inodes, sizes and times."""
    try:
        st = part.stat()
        head = (st.st_ino, st.st_mtime_ns)
        if not part.is_dir():
            return head + (st.st_size,)
        return head + tuple(sorted((e.name, e.stat().st_ino, e.stat().st_size, e.stat().st_mtime_ns)
                                   for e in part.iterdir()))
    except OSError:
        return (time.monotonic_ns(),)  # never equal: read it again
