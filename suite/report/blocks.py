"""What a report section returns: text, notes, tables and figures, never raw HTML.

Sections (built-in or from plugins) build these blocks; :mod:`suite.report.html`
turns them into markup and escapes every string on the way, so a plugin, a
config or a results file can put any text in a report and run nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import io

import pandas as pd


@dataclasses.dataclass
class Text:
    """A paragraph of plain text."""

    text: str


@dataclasses.dataclass
class Code:
    """Preformatted text: a command, a config file."""

    text: str


@dataclasses.dataclass
class Note:
    """A highlighted remark: ``kind`` is ``"info"`` or ``"warning"`` (missing cells, uncertain ranks)."""

    text: str
    kind: str = "info"


@dataclasses.dataclass
class Table:
    """A table shown as is (cells are formatted with ``str``; floats with ``float_format``).

    Attributes:
      frame: the rows to show; the index is dropped unless ``index`` is true.
      caption: a sentence under the table.
      sortable: clicking a header sorts by that column.
      float_format: format of float cells.
      index: show the frame's index as the first column.
    """

    frame: pd.DataFrame
    caption: str = ""
    sortable: bool = True
    float_format: str = "{:.3g}"
    index: bool = False


@dataclasses.dataclass
class Figure:
    """A matplotlib figure, embedded as a PNG, with the sentence that says how to read it.

    Attributes:
      figure: a ``matplotlib.figure.Figure``; it is closed once embedded.
      caption: how to read the figure (shown under it).
      flags: remarks shown beside the figure, e.g. that its f* is a reference value.
      alt: text for screen readers; defaults to the caption.
    """

    figure: object
    caption: str
    flags: list[str] = dataclasses.field(default_factory=list)
    alt: str = ""

    def png_base64(self, dpi: int = 90) -> str:
        """The figure as base64 PNG (closes the figure)."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        try:
            self.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        finally:
            plt.close(self.figure)
        return base64.b64encode(buffer.getvalue()).decode("ascii")


BLOCKS = (Text, Code, Note, Table, Figure)
