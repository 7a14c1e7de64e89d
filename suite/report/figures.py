"""Small plotting helpers shared by report sections: one look, one colour per entry, figures as wide as the page."""

from __future__ import annotations

import numpy as np

from suite.report.layout import level_label

# The floor of log-scaled Δf axes: a loss at f* (or below an exact f*, which the
# report warns about) is drawn here rather than vanishing off a log axis. For
# drawing only: tables show :meth:`LossScale.values`, never clamped.
DELTA_FLOOR = 1e-12
# Inches across the panels of a figure; the legend and the labels add about one
# more. The page shows every figure at the full width of its text column (about
# 1,150 CSS px on a wide screen), so text set in points reads at about the size
# of the page's own (a 9-point tick label is about 13 px there).
WIDTH = 10.0
# The gaps between panels, in inches: room for the tick labels and axis label
# of the panel to the right (less where panels share the y axis) and the title
# of the panel below.
_WSPACE = {True: 0.45, False: 0.95}
_HSPACE = 0.95
LEGEND_BESIDE = 16  # characters: entries named longer are listed under the panels
_STYLED = False


def style() -> None:
    """Headless rendering with seaborn's look, set once per process."""
    global _STYLED
    if _STYLED:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=1.05)
    _STYLED = True


def new(nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float = 3.4, **kw):
    """A figure of ``nrows × ncols`` panels, each ``width × height`` inches.

    Args:
      nrows, ncols: the grid of panels (``axes`` is always 2-D).
      width: inches per panel; by default the panels share :data:`WIDTH`, so the
        figure fills the page's width at a legible size.
      height: inches per panel.
      **kw: passed to ``plt.subplots`` (``sharex``, ``sharey``).
    """
    style()
    import matplotlib.pyplot as plt

    width = width or WIDTH / ncols
    # No layout engine: saving measures every label once (suite.report.layout),
    # and a constrained layout would measure them all again (half of a report's
    # time went there).
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
    params = fig.subplotpars
    # matplotlib's spaces are fractions of a panel; these gaps are set in inches.
    wide = (width * ncols * (params.right - params.left) - (ncols - 1) * _WSPACE[bool(kw.get("sharey"))]) / ncols
    tall = (height * nrows * (params.top - params.bottom) - (nrows - 1) * _HSPACE) / nrows
    fig.subplots_adjust(wspace=_WSPACE[bool(kw.get("sharey"))] / wide, hspace=_HSPACE / tall)
    return fig, axes


def plain(text: str) -> str:
    """Text shown as is by matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def seconds_axis(ax, values, which: str = "x") -> None:
    """An axis of durations: logarithmic where they span a decade or more, labelled in s, ms, µs.

    Within less than a decade a log axis has no power of ten to label and
    matplotlib labels every minor tick in scientific notation, wider than
    the space between them; a linear axis with a few round durations reads
    the same values without that clutter.
    """
    from matplotlib.ticker import EngFormatter, MaxNLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    wide = values.size > 0 and values.max() >= 10 * values.min()
    if wide:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_locator(MaxNLocator(nbins=5))
    axis.set_major_formatter(EngFormatter(unit="s", sep=" "))


class LossScale:
    """How a landscape's losses are drawn: Δf on a log axis when f* is exact, else f itself.

    A reference f* (a p-spin ground state) can be undercut by a finite
    instance, so Δf may be negative: those landscapes are drawn as raw loss on
    a linear axis, with f* as a dashed line.
    """

    def __init__(self, f_star: dict):
        self.f_opt = f_star["f_opt"]
        self.kind = f_star["kind"]
        self.levels = f_star["levels"]
        self.delta = self.kind == "exact"
        self.label = "Δf = f − f*" if self.delta else "loss f"

    def values(self, loss) -> np.ndarray:
        """The quantity of the axis label as measured (Δf may be ≤ 0): for tables."""
        loss = np.asarray(loss, dtype=np.float64)
        return loss - self.f_opt if self.delta else loss

    def __call__(self, loss):
        """The quantity as drawn: Δf at least :data:`DELTA_FLOOR` on a log axis. Figures only."""
        values = self.values(loss)
        return np.maximum(values, DELTA_FLOOR) if self.delta else values

    def axis(self, ax, which: str = "y") -> None:
        """Scales the axis and labels it."""
        if self.delta:
            (ax.set_yscale if which == "y" else ax.set_xscale)("log")
        (ax.set_ylabel if which == "y" else ax.set_xlabel)(self.label)

    def lines(self, ax, which: str = "y", *, labels: bool = True) -> None:
        """The landscape's reference levels (and a reference f*) as dotted lines, named on a y axis.

        Names alternate between the left and the right end, and where two
        still meet (the p-spin threshold and ground state lie close) the upper
        one is moved up when the figure is laid out (:mod:`suite.report.layout`).
        """
        marks = dict(self.levels)
        if self.kind == "reference" and not any(np.isclose(v, self.f_opt) for v in marks.values()):
            marks["f* (reference)"] = self.f_opt
        draw = ax.axhline if which == "y" else ax.axvline
        shown = [(name, value) for name, value in sorted(marks.items(), key=lambda kv: kv[1])
                 if not (self.delta and value - self.f_opt <= 0)]  # f* sits at a log axis' floor
        for i, (name, value) in enumerate(shown):
            at = float(self(value))
            draw(at, color="0.35", linestyle=":", linewidth=1)
            if labels and which == "y":
                right = i % 2 == 1
                level_label(ax.annotate(plain(name), (1.0 if right else 0.0, at),
                                        xycoords=("axes fraction", "data"), xytext=(-3 if right else 3, 2),
                                        textcoords="offset points", fontsize="small", color="0.3",
                                        ha="right" if right else "left", va="bottom"))


def legend(fig, colors: dict[str, str], entries) -> None:
    """One legend for the whole figure, entries in ranking order: right of the panels, or under them
    in columns where names are long (a column of long names beside the panels would narrow them)."""
    from matplotlib.lines import Line2D

    entries = list(entries)
    handles = [Line2D([], [], color=colors[e], linewidth=2) for e in entries]
    if not handles:
        return
    boxes = [ax.get_position() for ax in fig.axes]
    if max(len(str(e)) for e in entries) <= LEGEND_BESIDE:
        fig.legend(handles, [plain(e) for e in entries], loc="upper left", frameon=False,
                   bbox_to_anchor=(0.91, max((b.y1 for b in boxes), default=0.88)))
        return
    below = min((b.y0 for b in boxes), default=0.11) - 0.6 / fig.get_figheight()  # under the x axis labels
    fig.legend(handles, [plain(e) for e in entries], loc="upper center", bbox_to_anchor=(0.5, below),
               ncol=min(len(entries), 3), frameon=False)


def step_grid(longest: float) -> np.ndarray:
    """Log-spaced step counts from 1 to a little past ``longest``, for ECDFs."""
    top = max(float(longest), 10.0)
    return np.unique(np.round(np.logspace(0, np.log10(top * 1.05), 200)))
