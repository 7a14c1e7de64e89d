"""What a study's check returns: the claim's figures measured against theory, and the verdict.

A study (``suite study run NAME``) is a run config plus a published claim and a
*check*, ``check(data: StudyData) -> Verdict``, registered through the
``register_studies`` hook. The check reads the run's tables only, compares
each measured figure with its theory value at a tolerance stated in the
study's TOML file (``[study.tolerance]``, read as ``data.tolerance``), and
returns the comparisons, the numbers and the plots of theory against
measurement. The verdict follows from the comparisons by one rule
(:func:`Verdict.of`): all pass, *reproduced*; any fails, *not reproduced*; a
measurement too weak to decide (too few successes, cells that failed), the
check says *inconclusive* and why. Everything here is plain data, written to
``study.json`` and drawn at the top of the run's report.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

STATUSES = ("reproduced", "not reproduced", "inconclusive", "error")
VERSION = 1  # of study.json's layout
TEXT_LIMIT = 4000  # characters of any one text a check returns: a report and an index stay readable


def _number(value) -> float | None:
    """A JSON-safe float: None for missing or non-finite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One measured figure against its theory value, and whether it is within the stated tolerance.

    Build it with :meth:`within` (a relative or absolute tolerance),
    :meth:`bracket` (the theory value must lie in a measured interval) or
    :meth:`at_least` / :meth:`at_most` (a one-sided bound), so that every
    check decides "passed" by the same arithmetic and states it the same way.
    """

    quantity: str
    measured: float | None
    theory: float | None
    tolerance: str
    passed: bool
    note: str = ""

    @classmethod
    def within(cls, quantity: str, measured, theory, *, rel: float | None = None, abs: float | None = None,
               note: str = "") -> Comparison:
        """Passed when |measured − theory| ≤ ``abs`` + ``rel``·|theory| (a missing measurement fails)."""
        if rel is None and abs is None:
            raise ValueError("Comparison.within needs rel or abs")
        bound = (abs or 0.0) + (rel or 0.0) * math.fabs(float(theory))
        parts = ([f"±{rel:.0%}"] if rel else []) + ([f"±{abs:g}"] if abs else [])
        m = _number(measured)
        return cls(quantity, m, _number(theory), " and ".join(parts),
                   m is not None and math.fabs(m - float(theory)) <= bound, note)

    @classmethod
    def bracket(cls, quantity: str, low, high, theory, *, note: str = "") -> Comparison:
        """Passed when ``low ≤ theory ≤ high``: the measurement brackets the theory value.

        ``measured`` is the midpoint; the interval is stated as the tolerance.
        """
        lo, hi = _number(low), _number(high)
        inside = lo is not None and hi is not None and lo <= float(theory) <= hi
        mid = None if lo is None or hi is None else (lo + hi) / 2
        return cls(quantity, mid, _number(theory), f"theory in the measured [{_g(lo)}, {_g(hi)}]", inside, note)

    @classmethod
    def at_least(cls, quantity: str, measured, bound, *, note: str = "") -> Comparison:
        """Passed when measured ≥ ``bound``: a one-sided bound, so no theory value (the bound is the tolerance)."""
        m = _number(measured)
        return cls(quantity, m, None, f"≥ {bound:g}", m is not None and m >= float(bound), note)

    @classmethod
    def at_most(cls, quantity: str, measured, bound, *, note: str = "") -> Comparison:
        """Passed when measured ≤ ``bound``: a one-sided bound, so no theory value (the bound is the tolerance)."""
        m = _number(measured)
        return cls(quantity, m, None, f"≤ {bound:g}", m is not None and m <= float(bound), note)


def _g(value) -> str:
    return "—" if value is None else f"{value:.4g}"


@dataclasses.dataclass(frozen=True)
class Series:
    """One curve or set of points of a plot: theory is drawn as a line, measurement as markers.

    ``low`` and ``high`` (optional) are the measurement's interval at each x,
    drawn as error bars.
    """

    label: str
    x: Sequence[float]
    y: Sequence[float]
    kind: str = "measured"  # or "theory"
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None

    def __post_init__(self):
        if self.kind not in ("measured", "theory"):
            raise ValueError(f"Series kind must be measured or theory; got {self.kind!r}")
        # Lists, tuples, numpy arrays and pandas Series alike become lists of floats (None where missing).
        for name in ("x", "y", "low", "high"):
            values = getattr(self, name)
            if values is not None:
                object.__setattr__(self, name, [_number(v) for v in np.asarray(values, dtype=float).ravel()])
        if len(self.x) != len(self.y):
            raise ValueError(f"Series {self.label!r}: {len(self.x)} x values but {len(self.y)} y values")


@dataclasses.dataclass(frozen=True)
class Plot:
    """The claim's figure: theory curves against measured points, with axis labels and scales."""

    title: str
    x_label: str
    y_label: str
    series: Sequence[Series]
    x_log: bool = False
    y_log: bool = False
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A study's verdict: status, one or two sentences with the numbers, and the evidence.

    Attributes:
      status: one of :data:`STATUSES`.
      summary: what was measured against what, with the numbers.
      comparisons: each measured figure against theory at its tolerance.
      plots: theory against measurement.
      numbers: a tidy table of the measured figures (rows of plain values).
      notes: what weakens the measurement (failed cells, few successes, ...).
    """

    status: str
    summary: str
    comparisons: Sequence[Comparison] = ()
    plots: Sequence[Plot] = ()
    numbers: Sequence[dict] = ()
    notes: Sequence[str] = ()

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"a verdict's status is one of {', '.join(STATUSES)}; got {self.status!r}")
        if not isinstance(self.summary, str):
            raise TypeError(f"a verdict's summary is text; got {type(self.summary).__name__}")

    @classmethod
    def of(cls, comparisons: Sequence[Comparison], summary: str, *, plots: Sequence[Plot] = (),
           numbers: pd.DataFrame | Sequence[dict] = (), inconclusive: str | None = None,
           notes: Sequence[str] = ()) -> Verdict:
        """The verdict the comparisons give: reproduced when every one passed, not reproduced when any
        failed; ``inconclusive`` (a reason) when the measurement cannot decide, whatever they say."""
        if inconclusive:
            status, notes = "inconclusive", [inconclusive, *notes]
        elif not comparisons:
            status, notes = "inconclusive", ["the check compared nothing", *notes]
        else:
            status = "reproduced" if all(c.passed for c in comparisons) else "not reproduced"
        if isinstance(numbers, pd.DataFrame):
            numbers = numbers.to_dict("records")
        return cls(status, summary, tuple(comparisons), tuple(plots), tuple(numbers), tuple(notes))

    def to_json(self) -> dict:
        """Plain JSON data (non-finite numbers become null)."""
        def clean(value):
            if isinstance(value, dict):
                return {str(k)[:TEXT_LIMIT]: clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
                return [clean(v) for v in value]
            if isinstance(value, bool) or value is None:
                return value
            if isinstance(value, str):
                return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT - 1] + "…"
            if isinstance(value, np.generic):
                return clean(value.item())
            if isinstance(value, float):
                return _number(value)
            return value if isinstance(value, int) and not isinstance(value, bool) else clean(str(value))

        return clean(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        """The verdict :meth:`to_json` wrote."""
        plots = tuple(Plot(**{**p, "series": tuple(Series(**s) for s in p["series"])}) for p in data.get("plots", ()))
        return cls(status=data["status"], summary=data["summary"],
                   comparisons=tuple(Comparison(**c) for c in data.get("comparisons", ())),
                   plots=plots, numbers=tuple(data.get("numbers", ())), notes=tuple(data.get("notes", ())))


@dataclasses.dataclass
class StudyData:
    """What a check reads: the run's tables and the study's stated settings.

    Attributes:
      cells, restarts, curves: the run's tables (see the README's "Run folder").
      tables: every table of the run by name (``layers``, ``paths``, ... with diagnostics).
      study: the ``[study]`` table of the config (claim, references, tolerance, size).
      tolerance: ``study["tolerance"]``, the tolerances stated up front.
      size: the size it ran at (``tiny``, ``small``, ``full``).
    """

    cells: pd.DataFrame
    restarts: pd.DataFrame
    curves: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    study: dict[str, Any]

    @property
    def tolerance(self) -> dict[str, Any]:
        return dict(self.study.get("tolerance", {}))

    @property
    def size(self) -> str:
        return str(self.study.get("size", ""))

    @property
    def ok(self) -> pd.DataFrame:
        """The cells that finished."""
        return self.cells[self.cells["status"] == "ok"] if "status" in self.cells else self.cells
