"""What the built-in studies' checks share: reading a target's columns, and fits on log scales."""

from __future__ import annotations

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
