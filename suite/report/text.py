"""Text shared by the built-in report sections: counts, percentages, ERTs, p-values, shares of restarts."""

from __future__ import annotations

import math

from suite import metrics
from suite.report.data import Report


def _count(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _ert_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.0f}"


def _pct(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"


_p_text = metrics.p_text


def _share(report: Report, landscape: str, label: str, value) -> str:
    """A share of restarts at a target, or 'below resolution' when float rounding decides there."""
    if report.below_resolution(landscape, label):
        return "below resolution"
    return _pct(float(value))
