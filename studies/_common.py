"""What the built-in studies' checks share: reading a target's columns, and fits on log scales."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

_TARGET = re.compile(r"(success|reached|ert|step_to_target)_(.+)")


def column(table: pd.DataFrame, kind: str, target: float) -> str:
    """The column of ``table`` holding ``kind`` (``ert``, ``success``, ``step_to_target``) at ``target``.

    Columns are named by the target printed to three digits (``ert_1e-06``);
    the one whose value is nearest ``target`` (within 1%) is returned.
    """
    best, gap = None, math.inf
    for name in table.columns:
        match = _TARGET.fullmatch(name)
        if not match or match.group(1) != kind:
            continue
        try:
            value = float(match.group(2))
        except ValueError:
            continue
        if abs(math.log(value / target)) < gap:
            best, gap = name, abs(math.log(value / target))
    if best is None or gap > 0.01:
        raise KeyError(f"no {kind} column at target {target:g}; the run's targets must include it")
    return best


def loglog_slope(x, y) -> float:
    """The least-squares slope of log y against log x (NaN with fewer than two finite positive points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def power_line(x, slope: float, through_x, through_y) -> list[float]:
    """y = c·x^slope through the point (through_x, through_y): a theory line drawn beside measurements."""
    return [float(through_y * (v / through_x) ** slope) for v in x]


def normal_quantile(confidence: float, comparisons: int = 1) -> float:
    """z of a two-sided interval at ``confidence``, Bonferroni-corrected over ``comparisons`` intervals.

    With m intervals each at 1 − (1 − confidence)/m, all m cover their true
    values together with probability at least ``confidence``.
    """
    from statistics import NormalDist

    alpha = (1.0 - float(confidence)) / max(int(comparisons), 1)
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def wilson(successes, trials, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial share (Wilson, J. Am. Stat. Assoc. 22, 1927).

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its
    coverage near 0 and 1; ``(nan, nan)`` without trials.
    """
    n = float(trials)
    if n <= 0:
        return math.nan, math.nan
    share = float(successes) / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    # At 0 or all successes the interval ends exactly at 0 or 1; say so rather than round below it.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def ok_restarts(data) -> pd.DataFrame:
    """The restarts of the cells that finished (``data.restarts`` limited to ``data.ok``'s cell ids)."""
    restarts = data.restarts
    if "cell_id" not in restarts or "cell_id" not in data.ok:
        return restarts
    return restarts[restarts["cell_id"].isin(data.ok["cell_id"])]


def declared_curve(cells: pd.DataFrame, column: str = "index_curve") -> np.ndarray:
    """The ``(loss, value)`` curve a landscape declares in ``cells[column]`` (JSON), as an array [k, 2].

    The first non-empty one is returned (every cell of one landscape setting
    declares the same curve); an empty [0, 2] array when none does.
    """
    for text in cells.get(column, pd.Series(dtype=object)).dropna():
        try:
            points = np.asarray(json.loads(text), dtype=float)
        except (TypeError, ValueError):
            continue
        if points.ndim == 2 and points.shape[1] == 2 and len(points):
            return points[np.argsort(points[:, 0], kind="stable")]
    return np.empty((0, 2))


def censored_median(steps, budget: float) -> tuple[float, bool]:
    """The median of steps to a target over restarts, some of which never reached it, and whether it is a bound.

    Restarts that did not reach the target (NaN or missing) count as ``budget``
    steps: they would have needed at least that many. When the upper middle
    restart is one of them, the median is only a lower bound (``True``);
    ``(nan, False)`` with no restarts.
    """
    values = np.asarray(pd.to_numeric(pd.Series(steps, dtype=object), errors="coerce"), float)
    if values.size == 0:
        return math.nan, False
    reached = np.isfinite(values)
    filled = np.where(reached, values, float(budget))
    order = np.argsort(filled, kind="stable")
    return float(np.median(filled)), bool(not reached[order][values.size // 2])
