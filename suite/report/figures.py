"""Small plotting helpers shared by report sections: one look, one colour per entry."""

from __future__ import annotations

import numpy as np

# The floor of log-scaled Δf axes: a loss at f* (or below an exact f*, which the
# report warns about) is drawn here rather than vanishing off a log axis. For
# drawing only: tables show :meth:`LossScale.values`, never clamped.
DELTA_FLOOR = 1e-12
_STYLED = False


def style() -> None:
    """Headless rendering with seaborn's look, set once per process."""
    global _STYLED
    if _STYLED:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=0.95)
    _STYLED = True


def new(nrows: int = 1, ncols: int = 1, *, width: float = 4.6, height: float = 3.0, **kw):
    """A figure of ``nrows × ncols`` panels, each ``width × height`` inches."""
    style()
    import matplotlib.pyplot as plt

    # No layout engine: saving with bbox_inches="tight" already measures every
    # label once, and a constrained layout would measure them all again (half
    # of a report's time went there).
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
    fig.subplots_adjust(wspace=0.32 if kw.get("sharey") else 0.42, hspace=0.5)
    return fig, axes


def plain(text: str) -> str:
    """Text shown as is by matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


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

        Names alternate between the left and the right end, so two close
        levels (the p-spin threshold and ground state) do not overprint.
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
                ax.annotate(plain(name), (1.0 if right else 0.0, at), xycoords=("axes fraction", "data"),
                            xytext=(-2 if right else 2, 2), textcoords="offset points", fontsize=7,
                            color="0.3", ha="right" if right else "left")


def legend(fig, colors: dict[str, str], entries) -> None:
    """One legend for the whole figure, entries in ranking order."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[e], linewidth=2) for e in entries]
    if handles:
        fig.legend(handles, [plain(e) for e in entries], loc="upper left", bbox_to_anchor=(0.91, 0.89),
                   fontsize=7, frameon=False)


def step_grid(longest: float) -> np.ndarray:
    """Log-spaced step counts from 1 to a little past ``longest``, for ECDFs."""
    top = max(float(longest), 10.0)
    return np.unique(np.round(np.logspace(0, np.log10(top * 1.05), 200)))
