"""Targets and float resolution: target labels, the restart table's step columns, resolution, f* violations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Δf below this many float spacings at f* is decided by rounding, not by the optimizer.
RESOLUTION_ULPS = 4

HIT_PREFIX = "step_to_target_"


def target_label(target: float) -> str:
    """Column suffix of a target: ``100``, ``63.1``, ``0.001``, ``1e-08`` (re-exported by suite.config)."""
    return f"{target:.3g}"


def _hits(hit_steps) -> np.ndarray:
    """Step columns as float, NaN where never reached (``-1``, missing or NaN)."""
    if isinstance(hit_steps, np.ndarray) and hit_steps.dtype.kind in "fiu":
        hits = hit_steps.astype(np.float64)
    else:
        hits = pd.array(hit_steps, dtype="Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(hits >= 0, hits, np.nan)


def resolution(f_opt: float | None, precision: str) -> float:
    """The Δf below which float rounding, not the optimizer, decides: RESOLUTION_ULPS spacings at f*.

    Args:
      f_opt: the landscape's f* (``None``/NaN when unknown: losses are measured from 0).
      precision: ``"float32"`` or ``"float64"``, the dtype the run computed in.
    """
    dtype = np.dtype(precision)
    level = 0.0 if f_opt is None or math.isnan(f_opt) else abs(float(f_opt))
    level = max(level, float(np.finfo(dtype).tiny))
    return float(RESOLUTION_ULPS * np.spacing(dtype.type(level)))


def cell_resolution(cells: pd.DataFrame) -> pd.Series:
    """Each cell's ``resolution`` column, or (runs written before it) computed from f* and precision."""
    precision = cells["precision"] if "precision" in cells else pd.Series("float32", index=cells.index)
    known = cells["f_opt_known"].fillna(False).astype(bool) if "f_opt_known" in cells \
        else pd.Series(False, index=cells.index)
    f_opt = cells["f_opt"] if "f_opt" in cells else pd.Series(np.nan, index=cells.index)
    computed = pd.Series([resolution(float(f) if k else None, str(p or "float32"))
                          for f, k, p in zip(f_opt, known, precision.fillna("float32"), strict=True)],
                         index=cells.index, dtype=np.float64)
    if "resolution" not in cells:
        return computed
    return pd.to_numeric(cells["resolution"], errors="coerce").fillna(computed)


def f_opt_violation(lowest: float, f_opt: float, resolution_: float) -> float:
    """How far the lowest finite loss went below an exact f*, when more than the resolution; else 0."""
    gap = float(f_opt) - float(lowest)
    return gap if math.isfinite(gap) and gap > resolution_ else 0.0


def targets_of(restarts: pd.DataFrame) -> list[tuple[float, str]]:
    """The run's precision targets, hardest last, read off the restart table's columns.

    Returns:
      ``(target, label)`` pairs; ``label`` is the column suffix (``1e-08``).
    """
    found = [(float(c.removeprefix(HIT_PREFIX)), c.removeprefix(HIT_PREFIX))
             for c in restarts.columns if c.startswith(HIT_PREFIX)]
    return sorted(found, key=lambda t: -t[0])


def hit_matrix(restarts: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Steps to each target as float [rows, targets], NaN where never reached."""
    if not labels:
        return np.empty((len(restarts), 0))
    frame = restarts[[HIT_PREFIX + label for label in labels]]
    return _hits(frame.to_numpy(dtype=np.float64, na_value=np.nan))
