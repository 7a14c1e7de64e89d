"""``suite export``: a run folder written in the format of the field's own analysis tools.

``coco`` writes COCO's text format (``.info``, ``.dat``, ``.tdat``), which
``cocopp`` reads (:mod:`suite.export.coco`); ``ioh`` writes IOHprofiler's
format, which IOHanalyzer and ``iohinspector`` read (:mod:`suite.export.ioh`).
"""

from __future__ import annotations

from pathlib import Path

from suite.errors import UsageError

FORMATS = ("coco", "ioh")


def export(run_dir: str | Path, format: str, out: str | Path, *, quiet: bool = False) -> int:
    """Writes the run in ``run_dir`` to the folder ``out`` in ``format``; prints the folder; returns 0."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose from: {', '.join(FORMATS)}")
    if format == "coco":
        from suite.export.coco import write
    else:
        from suite.export.ioh import write
    folder = write(Path(run_dir), Path(out))
    print(folder)
    return 0
