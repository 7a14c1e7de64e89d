"""The HTML report of a run folder (``suite report``) and the published site (``suite publish``).

Plugins add report sections through the ``register_report_sections`` hook;
their ``render`` functions return the blocks defined here (``Text``, ``Code``,
``Note``, ``Table``, ``Figure``) and read the run through :class:`Report`.
"""

from __future__ import annotations

import os
from pathlib import Path

from suite.report.blocks import Code, Figure, Note, Table, Text
from suite.report.data import Report

__all__ = ["Code", "Figure", "Note", "Report", "Table", "Text", "headline", "write", "write_report"]


def write_report(run_dir: str | Path, out: str | Path | None = None, *, registry=None,
                 progress=None) -> Path:
    """Writes the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``).

    Args:
      run_dir: a run folder (complete, partial or still running).
      out: the HTML file to write (atomically).
      registry: where the report sections come from; by default every
        installed plugin's (:func:`suite.registry.load_registry`).
      progress: called with a short description before each section.

    Returns:
      The path written.
    """
    from suite.registry import load_registry

    registry = registry or load_registry()
    return write(Report(run_dir), out, registry.sections, progress=progress)


def write(report: Report, out: str | Path | None, sections: dict, *, progress=None) -> Path:
    """Renders ``report`` with ``sections`` and writes it atomically (default ``RUN_DIR/report.html``)."""
    from suite.report.render import render

    html = render(report, sections, progress=progress)
    out = Path(out) if out else report.path / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return out


def headline(report: Report) -> str:
    """One line: the top entry (or the tied ones), how often it stays on top under the bootstrap,
    and the landscapes that were not ranked at the run's hardest target."""
    from suite.report.data import CONFIDENT

    if report.overall.empty:
        return "no finished cell to rank"
    overall = report.overall
    top = overall.iloc[0]
    tied = list(overall.loc[overall["rank"] == 1, "entry"])
    resamples = report.stability["resamples"]
    if len(tied) > 1:
        line = f"tied for first: {', '.join(tied)} (mean rank {top['mean_rank']:.2f})"
    else:
        share = float(top["top_share"])
        verdict = "" if share >= CONFIDENT else " (uncertain: another seed could change the winner)"
        line = (f"top entry {top['entry']}: mean rank {top['mean_rank']:.2f}, first in {share:.0%} of "
                f"{resamples} bootstrap replicates{verdict}")
    for landscape in report.landscapes:
        at = report.ranked_at(landscape)
        if at["unsolved"] or at["below_resolution"]:
            why = "below resolution" if at["below_resolution"] else "unsolved"
            line += f"; {landscape}: {why} at {report.target}; ranked at {at['label']}"
        if report.warning(landscape):
            line += f"; {landscape}: f* violated"
    return line
