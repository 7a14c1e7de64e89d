"""``suite export``: a run folder written in the format of the field's own analysis tools.

``coco`` writes COCO's text format (``.info``, ``.dat``, ``.tdat``), which
``cocopp`` reads (:mod:`suite.export.coco`); ``ioh`` writes IOHprofiler's
format, which IOHanalyzer and ``iohinspector`` read (:mod:`suite.export.ioh`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from suite.errors import UsageError

FORMATS = ("coco", "ioh")


def export(run_dir: str | Path, format: str, out: str | Path, *, quiet: bool = False) -> int:
    """Writes the run in ``run_dir`` to the folder ``out`` in ``format``; prints the folder; returns 0."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose from: {', '.join(FORMATS)}")
    run_dir, out = Path(run_dir), Path(out)
    is_run = (run_dir / "config.toml").is_file() or (run_dir / "cells.parquet").is_file()
    if is_run and (out.resolve() == run_dir.resolve() or run_dir.resolve() in out.resolve().parents):
        raise UsageError(f"--out {str(out)!r} is inside the run folder {str(run_dir)!r}; export outside it")
    if format == "coco":
        from suite.export.coco import write
    else:
        from suite.export.ioh import write
    folder = write(run_dir, out)
    if not quiet and (note := _partial(run_dir)):
        print(f"note: {note}", file=sys.stderr)
    print(folder)
    return 0


def _partial(run_dir: Path) -> str:
    """A line saying the run is unfinished (interrupted, or one part of a split run), or ``""``."""
    from suite.results import RunDir

    run = RunDir(run_dir)
    try:
        planned = {c["cell_id"] for c in run.read_plan().get("cells", [])}
    except UsageError:
        return ""
    cells = run.tables()["cells"]
    done = set(cells["cell_id"]) if not cells.empty else set()
    missing = len(planned - done)
    return (f"the run is partial: {missing} of its {len(planned)} planned cells never ran (interrupted, or a part "
            f"of a split run), so the export holds only what finished" if missing else "")
