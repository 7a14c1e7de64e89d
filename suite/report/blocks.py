"""What a report section returns: text, notes, tables and figures, never raw HTML.

Sections (built-in or from plugins) build these blocks; :mod:`suite.report.render`
turns them into markup and escapes every string on the way, so a plugin, a
config or a results file can put any text in a report and run nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import io

import pandas as pd

# How figures are embedded: SVG, sharp at any zoom and on any screen. Measured
# against PNG at 2× (sharp on high-DPI screens) on the same reports, SVG made
# them about 35% smaller and quicker to write and to load.
IMAGE_FORMAT = "svg"
SVG_LIMIT = 400_000  # bytes: a heavier SVG figure is embedded as PNG at 2× where that is smaller
CSS_DPI = 96  # CSS pixels per inch: a figure's natural size on the page
PNG_SCALE = 2  # device pixels per CSS pixel of a PNG figure (high-DPI screens)


@dataclasses.dataclass
class Text:
    """A paragraph of plain text."""

    text: str


@dataclasses.dataclass
class Code:
    """Preformatted text: a command, a config file.

    Attributes:
      text: shown as is, in a monospaced font; long lines scroll.
      fold: if given, the line that stands for the text, which stays folded
        until the reader opens it (a long config file).
    """

    text: str
    fold: str = ""


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
      fold: if given, the line that stands for the table, which stays folded
        until the reader opens it (a long list).
    """

    frame: pd.DataFrame
    caption: str = ""
    sortable: bool = True
    float_format: str = "{:.3g}"
    index: bool = False
    fold: str = ""


@dataclasses.dataclass(frozen=True)
class Image:
    """An encoded figure: its MIME type, base64 bytes, and size in CSS pixels at 100%."""

    mime: str
    data: str
    width: int
    height: int


@dataclasses.dataclass
class Figure:
    """A matplotlib figure, embedded in the page, with the sentence that says how to read it.

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

    def encode(self, image_format: str | None = None) -> Image:
        """The figure laid out (:func:`suite.report.layout.layout`) and saved as an :class:`Image`; closes it.

        Args:
          image_format: ``"svg"`` or ``"png"``; by default :data:`IMAGE_FORMAT`, or PNG where an
            SVG would be heavier than :data:`SVG_LIMIT` and the PNG is lighter.
        """
        import matplotlib
        import matplotlib.pyplot as plt

        from suite.report.layout import layout

        def save(kind: str) -> bytes:
            buffer = io.BytesIO()
            if kind == "svg":
                # Text as paths: it looks the same whatever fonts the reader has. No metadata block (its
                # date would make each rendering differ, and the rest names matplotlib's URLs); ids drawn
                # from a fixed salt, not a random one: the same run gives the same bytes.
                with matplotlib.rc_context({"svg.hashsalt": "suite-report"}):
                    self.figure.savefig(buffer, format="svg", bbox_inches=box,
                                        metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
            else:
                self.figure.savefig(buffer, format="png", dpi=PNG_SCALE * CSS_DPI, bbox_inches=box)
            return buffer.getvalue()

        kind = image_format or IMAGE_FORMAT
        try:
            box = layout(self.figure)
            data = save(kind)
            if kind == "svg" and not image_format and len(data) > SVG_LIMIT:
                # Tens of thousands of points make a vector image heavy: a picture of them is lighter.
                png = save("png")
                if len(png) < len(data):
                    kind, data = "png", png
        finally:
            plt.close(self.figure)
        return Image(mime="image/svg+xml" if kind == "svg" else "image/png",
                     data=base64.b64encode(data).decode("ascii"),
                     width=round(box.width * CSS_DPI), height=round(box.height * CSS_DPI))


BLOCKS = (Text, Code, Note, Table, Figure)
