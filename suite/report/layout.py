"""Lays a report figure out before it is saved, so that no tick label or level label overprints another.

Whether two labels collide is known only once their text is measured, which
matplotlib does when it draws. :func:`layout` draws the figure once without
rendering, then, per axis, turns crowded category labels (entry names) to a
slant and hides numeric tick labels that would overlap a neighbour (thinning,
majors first), and moves up each reference-level label that meets another.
It returns the tight bounding box, which saving would otherwise measure in a
draw of its own, so the layout costs no extra pass.
"""

from __future__ import annotations

import math

PAD = 1.5  # pixels kept clear between two labels
_LEVEL = "_suite_level"  # set on the reference-level labels that layout may move


def level_label(text):
    """Marks ``text`` (an annotation offset in points) as a level label that :func:`layout` may move up."""
    setattr(text, _LEVEL, True)
    return text


def overlap(a, b, pad: float = PAD) -> bool:
    """Whether two display-space boxes come closer than ``pad`` pixels in both directions."""
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


def tick_labels(axis) -> list[tuple[object, bool]]:
    """``(label, major)`` of every tick label the next draw shows on ``axis``, majors first, in axis order."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * max(abs(low), abs(high), 1e-300)
    found = []
    for major in (True, False):
        locs = axis.get_majorticklocs() if major else axis.get_minorticklocs()
        ticks = axis.get_major_ticks(len(locs)) if major else axis.get_minor_ticks(len(locs))
        for loc, tick in sorted(zip(locs, ticks), key=lambda pair: pair[0]):
            if not (low - slack <= loc <= high + slack) or not tick.get_visible():
                continue
            found += [(label, major) for label in (tick.label1, tick.label2)
                      if label.get_visible() and label.get_text().strip()]
    return found


def clashes(labels, renderer) -> int:
    """How many pairs of ``labels`` (Text artists) overprint one another."""
    boxes = [label.get_window_extent(renderer) for label in labels]
    return sum(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _categorical(axis) -> bool:
    """Whether the axis names categories (ticks placed one per name, as a heatmap or a bar chart places
    them): thinning would drop names, so they are slanted instead."""
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.ticker import FixedFormatter, FixedLocator

    return isinstance(axis.get_major_locator(), FixedLocator) or isinstance(
        axis.get_major_formatter(), (FixedFormatter, StrCategoryFormatter))


def _thin(axis, renderer) -> None:
    """Slants crowded category labels on an x axis, then hides any label that still meets a kept one."""
    labels = tick_labels(axis)
    if clashes([label for label, _ in labels], renderer) == 0:
        return
    if axis.axis_name == "x" and _categorical(axis) and len(labels) > 1:
        # Labels slanted alike, each ending at its tick, are parallel strips: they stay apart when the
        # distance between ticks times the sine of the slant exceeds a line's height.
        height = max(label.get_window_extent(renderer).height for label, _ in labels)
        anchors = sorted(label.get_transform().transform(label.get_position())[0] for label, _ in labels)
        spacing = min(b - a for a, b in zip(anchors, anchors[1:]))
        for angle in (30, 45, 90):
            if spacing * math.sin(math.radians(angle)) >= height + PAD:
                for label, _ in labels:
                    label.set(rotation=angle, ha="right", rotation_mode="anchor")
                return
    kept = []
    for label, _ in labels:  # majors first: a minor label never hides a major one
        box = label.get_window_extent(renderer)
        if any(overlap(box, other) for other in kept):
            label.set_visible(False)
        else:
            kept.append(box)


def _stack_levels(ax, renderer) -> None:
    """Moves each level label above any lower one it meets, so that every name stays readable."""
    levels = sorted((t for t in ax.texts if getattr(t, _LEVEL, False) and t.get_visible()), key=lambda t: t.xy[1])
    points_per_pixel = 72.0 / ax.figure.dpi
    placed = []
    for text in levels:
        for _ in range(len(placed) + 1):
            box = text.get_window_extent(renderer)
            met = [other for other in placed if overlap(box, other)]
            if not met:
                break
            dx, dy = text.xyann
            text.xyann = (dx, dy + (max(other.y1 for other in met) - box.y0 + PAD + 0.5) * points_per_pixel)
        placed.append(text.get_window_extent(renderer))


def layout(fig, pad_inches: float = 0.1):
    """Draws ``fig`` once, resolves overprinting labels, and returns its tight bounding box in inches."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        _stack_levels(ax, renderer)
        for axis in (ax.xaxis, ax.yaxis):
            _thin(axis, renderer)
    return fig.get_tightbbox(renderer).padded(pad_inches)


__all__ = ["layout", "level_label", "overlap", "tick_labels"]
