"""The HTML report of a run folder (``suite report``) and the published site (``suite publish``).

Plugins add report sections through the ``register_report_sections`` hook;
their ``render`` functions return the blocks defined here (``Text``, ``Code``,
``Note``, ``Table``, ``Figure``) and read the run through :class:`Report`.
"""

from __future__ import annotations

import os
from pathlib import Path

from suite.errors import UsageError
from suite.report.blocks import Code, Figure, Note, Table, Text
from suite.report.data import Report
from suite.report.files import REPORT_TITLE, is_suite_html, os_error, within, writable_folder, write_atomic

__all__ = ["Code", "Figure", "Note", "Report", "Table", "Text", "headline", "report_target", "write", "writes_into",
           "write_report"]


def write_report(run_dir: str | Path | list, out: str | Path | None = None, *, registry=None,
                 progress=None, allow_mismatch: bool = False) -> Path:
    """Writes the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``).

    Args:
      run_dir: a run folder (complete, partial or still running), or a list of
        them: compatible runs compared in one report (:func:`suite.report.runs.combine`).
      out: the HTML file to write (atomically): a new file, or an HTML report the suite
        wrote; inside the run folder only its ``report.html`` (see :func:`report_target`).
        A comparison's default is ``compare-A-B.html`` beside the first run.
      registry: where the report sections come from; by default every
        installed plugin's (:func:`suite.registry.load_registry`).
      progress: called with a short description before each section.
      allow_mismatch: compare runs made under different conditions, flagging each
        landscape where they differ, instead of refusing.

    Returns:
      The path written.
    """
    from suite.registry import load_registry

    from suite.report.study import refresh

    folders = [run_dir] if isinstance(run_dir, (str, Path)) else list(run_dir)
    if len(folders) > 1:
        from suite.report.runs import combine

        out = report_target(folders, out)  # refused before any work
        report = combine(folders, allow_mismatch=allow_mismatch)
        return write(report, out, (registry or load_registry()).sections, progress=progress)
    registry = registry or load_registry()
    report = Report(folders[0])
    refresh(report, registry, keep=writes_into(folders[0], out))
    return write(report, out, registry.sections, progress=progress)


def writes_into(run_dir: str | Path, out: str | Path | None) -> bool:
    """Whether a report to ``out`` is the run folder's own ``report.html`` (and may refresh its ``study.json``)."""
    return out is None or Path(out).resolve() == (Path(run_dir) / "report.html").resolve()


def report_target(run_dir: str | Path | list, out: str | Path | None = None) -> Path:
    """The file the report of ``run_dir`` (or of several, compared) may be written to, or a UsageError.

    A report may be written to a new file, or replace an HTML report that the
    suite wrote (an ``.html`` file that starts with the report's doctype,
    generator and title); inside a run folder only to its own ``report.html``,
    and a comparison of several runs never inside one of them. The folder it
    goes in must be writable.
    """
    runs = [Path(run_dir)] if isinstance(run_dir, (str, Path)) else [Path(r) for r in run_dir]
    compared = len(runs) > 1
    if out is not None:
        path = Path(out)
    elif compared:
        names = [r.resolve().name for r in runs]
        stem = "-".join(names[:3]) + (f"-and-{len(names) - 3}-more" if len(names) > 3 else "")
        path = runs[0].resolve().parent / f"compare-{stem[:120]}.html"
    else:
        path = runs[0] / "report.html"
    name = str(path)
    if path.is_symlink():
        raise UsageError(f"report {name!r} is a symbolic link; give a new file name such as report.html")
    if path.is_dir():
        example = path / ("compare.html" if compared else "report.html")
        raise UsageError(f"report {name!r} is a folder; give a file name such as {str(example)!r}")
    mine = {r.resolve() for r in runs}
    for folder in list(path.resolve().parents)[:12]:  # another run's folder is that run's alone
        if folder not in mine and _is_run_folder(folder):
            raise UsageError(f"report {name!r} is inside {str(folder)!r}, the folder of a run it is not the report "
                             f"of; write it outside every run folder")
    for run in runs:
        if within(path, run) and (compared or path.resolve() != run.resolve() / "report.html"):
            where = ("a comparison of several runs goes outside every one of them" if compared else
                     f"only report.html may be written; give {str(run / 'report.html')!r} or a file outside it")
            raise UsageError(f"report {name!r} is inside the run folder {str(run)!r}, where {where}")
    if os.path.lexists(path):
        if not path.is_file():
            raise UsageError(f"report {name!r} exists and is not a regular file; give a new file name")
        if not is_suite_html(path, REPORT_TITLE):
            raise UsageError(f"report {name!r} exists and is not an HTML report written by suite; refusing "
                             "to overwrite it: give a new file name, or an existing suite report (.html)")
    writable_folder(path.parent, f"report {name!r}")
    return path


def _is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a run (its tables, or a config beside a plan or cells), not only a config file."""
    return (folder / "cells.parquet").is_file() or (folder / "config.toml").is_file() and (
        (folder / "plan.json").is_file() or (folder / "cells").is_dir())


def write(report: Report, out: str | Path | None, sections: dict, *, progress=None) -> Path:
    """Renders ``report`` with ``sections`` and writes it atomically (default ``RUN_DIR/report.html``).

    Raises:
      UsageError: ``out`` is a place :func:`report_target` refuses, or the write failed
        (the message names the path and why; nothing else is touched).
    """
    from suite.report.render import render

    folders = [r.path for r in report.runs] or report.path
    out = report_target(folders, out)  # before rendering: a refusal costs nothing
    html = render(report, sections, progress=progress)
    out = report_target(folders, out)  # again: the place may have changed meanwhile
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, html)
    except OSError as exc:
        raise os_error(exc, f"cannot write the report {str(out)!r}") from None
    return out


def headline(report: Report) -> str:
    """One line: the top entry (or the tied ones), how often it stays on top under the bootstrap,
    the landscapes that were not ranked at the run's hardest target, and those compared runs differ on."""
    from suite.report.text import count, top_place

    if report.overall.empty:
        return "no finished cell to rank"
    overall = report.overall
    top = overall.iloc[0]
    tied = list(overall.loc[overall["rank"] == 1, "entry"])
    resamples = report.stability["resamples"]
    share = float(top["top_share"])
    if top_place(overall["rank"], share) == "tied":
        line = f"tied for first: {', '.join(tied)} (mean rank {top['mean_rank']:.2f})"
    else:
        verdict = (" (uncertain: another seed could change the winner)"
                   if top_place(overall["rank"], share) == "uncertain" else "")
        line = (f"top entry {top['entry']}: mean rank {top['mean_rank']:.2f}, first in {share:.0%} of "
                f"{count(resamples, 'bootstrap replicate')}{verdict}")
    for landscape in report.landscapes:
        at = report.ranked_at(landscape)
        if at["unsolved"] or at["below_resolution"]:
            why = "below resolution" if at["below_resolution"] else "unsolved"
            line += f"; {landscape}: {why} at {report.target}; ranked at {at['label']}"
        if report.warning(landscape):
            line += f"; {landscape}: f* violated"
        if landscape in report.mismatch:
            line += f"; {landscape}: MISMATCH between the runs compared"
    return line
