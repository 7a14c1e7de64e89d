"""The study section at the top of a study's report: the claim, theory against measurement, the verdict.

It draws ``study.json`` (:mod:`suite.study`), which a study run writes when it
finishes and ``suite report`` refreshes from the tables; a plain run has no
such section.
"""

from __future__ import annotations

import pandas as pd

import suite
from suite.report.blocks import Figure, Note, Table, Text
from suite.report.figures import new, plain
from suite.verdict import Verdict

HEADLINES = {"reproduced": "Reproduced", "not reproduced": "Not reproduced",
             "inconclusive": "Inconclusive", "error": "No verdict (error)"}


def study(report):
    """The study's claim, theory curves against measured points, the verdict and its numbers."""
    record = getattr(report, "study", None)
    if record is None:
        if getattr(report, "study_table", None):
            yield Note("This run is a study, but it has no verdict yet (study.json): it did not finish. "
                       f"Finish it with: suite run --resume {report.path}", "warning")
        return
    verdict = Verdict.from_json(record["verdict"])
    size = record.get("size") or "?"
    yield Text(f"Study {record.get('study', '')} (size {size}). Claim: {' '.join(record.get('claim', '').split())}")
    for reference in record.get("references", []):
        yield Text(f"Reference: {reference}")
    tolerance = record.get("tolerance", {})
    if tolerance:
        yield Text("Tolerances stated in the study file before it ran: "
                   + ", ".join(f"{k} = {v}" for k, v in tolerance.items()) + ".")
    kind = "info" if verdict.status == "reproduced" else "warning"
    yield Note(f"Verdict: {HEADLINES.get(verdict.status, verdict.status)}. {verdict.summary}", kind)
    if size == "tiny":
        yield Note("Size tiny checks the machinery only: too few restarts and steps for the verdict to mean "
                   "anything. Run --size small or full for the claim.", "warning")
    for note in verdict.notes:
        yield Note(note, "warning")
    for plot in verdict.plots:
        yield figure(plot)
    if verdict.comparisons:
        rows = [{"quantity": c.quantity, "measured": c.measured, "theory": c.theory, "tolerance": c.tolerance,
                 "within": "yes" if c.passed else "no", "note": c.note} for c in verdict.comparisons]
        yield Table(pd.DataFrame(rows), caption="Each measured figure against theory at the stated tolerance; "
                                                "the verdict is reproduced only when every one is within it.",
                    float_format="{:.4g}")
    if verdict.numbers:
        yield Table(pd.DataFrame(list(verdict.numbers)), caption="The measured numbers the check used.",
                    float_format="{:.4g}")


def refresh(report, registry, *, keep: bool = False) -> None:
    """Gives a study's ``report`` the verdict of its tables as they are now; ``keep`` writes it to ``study.json``.

    A run resumed or re-reported gets the verdict of everything that finished,
    under the ``[study]`` table stated when it began. Where the study's check
    is not installed (a plugin study reported without ``--plugin``), the
    verdict written when it ran is shown, with a note, and never overwritten.
    A folder that cannot be written keeps its old ``study.json``.
    """
    from suite import study as study_files
    from suite.errors import UsageError

    if not report.study_table or report.cells.empty:
        return
    table, edited = study_files.stated(report.study_table, report.metadata)
    name = str(table.get("name", ""))
    if name not in registry.studies and report.study is not None:
        verdict = report.study["verdict"]
        notes = [*verdict.get("notes", []), f"The check of study {name!r} is not installed here (load its plugin "
                                            "with --plugin FILE.py): this is the verdict written when it ran."]
        report.study = {**report.study, "verdict": {**verdict, "notes": notes}}
        return
    tables = {"cells": report.cells, "restarts": report.restarts, "curves": report.curves,
              "layers": report.layers, "paths": report.paths, "pictures": report.pictures}
    planned = len(report.plan.get("cells", [])) or None
    report.study = study_files.evaluate(tables, table, registry, planned=planned)
    if edited:
        report.study["verdict"]["notes"].append(edited)
    if keep:
        try:
            study_files.write(report.path, report.study)
        except UsageError:
            pass


def figure(plot) -> Figure:
    """The matplotlib figure of a study plot: theory as dashed lines, measurements as markers with intervals."""
    fig, axes = new(height=4.4)
    ax = axes[0, 0]
    colors, color = iter(f"C{i}" for i in range(1000)), "0.35"
    for series in plot.series:  # a theory line takes the color of the measurement drawn before it
        x = [float("nan") if v is None else v for v in series.x]
        y = [float("nan") if v is None else v for v in series.y]
        if series.kind == "theory":
            ax.plot(x, y, "--", color=color, lw=1.3, label=plain(series.label))
            continue
        color = next(colors)
        if series.low is not None and series.high is not None:
            low = [b if v is None else v for v, b in zip(series.low, y)]
            high = [b if v is None else v for v, b in zip(series.high, y)]
            err = [[max(0.0, b - lo) for b, lo in zip(y, low)], [max(0.0, hi - b) for b, hi in zip(y, high)]]
            ax.errorbar(x, y, yerr=err, fmt="o", color=color, ms=5, capsize=3, label=plain(series.label))
        else:
            ax.plot(x, y, "o", color=color, ms=5, label=plain(series.label))
    if plot.x_log:
        ax.set_xscale("log")
    if plot.y_log:
        ax.set_yscale("log")
    ax.set_xlabel(plain(plot.x_label))
    ax.set_ylabel(plain(plot.y_label))
    ax.set_title(plain(plot.title))
    ax.legend(frameon=False)
    caption = plot.caption or "Markers: measured; lines: theory."
    return Figure(fig, caption)


@suite.hookimpl
def register_report_sections(register):
    register("study", study, title="Study: claim, theory and verdict", order=1)
