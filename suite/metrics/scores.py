"""Per-cell scores from a cell's restarts: summaries, held and relapsed counts, cell_scores, the selection order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.metrics.runtimes import ert, finite_or_inf
from suite.metrics.targets import f_opt_violation, hit_matrix, resolution, target_label, targets_of

# The columns of cell_metrics before the per-target scores.
CELL_SUMMARY_COLUMNS = ("median_final_loss", "best_loss", "divergence_rate", "resolution", "f_opt_violation", "warning")


def held_counts(restarts: pd.DataFrame, hits: np.ndarray | None = None) -> np.ndarray:
    """``targets_held`` of every row: how many of the run's targets (easiest first) f(x_T) still meets.

    Runs written before the column existed froze a restart at its last target,
    so there every target it reached counts as held. ``hits``: the rows'
    :func:`hit_matrix` at every target of the run, if already at hand.
    """
    if "targets_held" in restarts:
        return pd.to_numeric(restarts["targets_held"]).fillna(0).to_numpy(np.int64)
    return _reached_counts(restarts, hits)


def _reached_counts(restarts: pd.DataFrame, hits: np.ndarray | None) -> np.ndarray:
    if hits is None:
        hits = hit_matrix(restarts, [label for _, label in targets_of(restarts)])
    return (~np.isnan(hits)).sum(axis=-1)


def relapsed(restarts: pd.DataFrame, hits: np.ndarray | None = None) -> np.ndarray:
    """Whether each restart reached a target and ended above it or diverged (``relapsed``)."""
    if "relapsed" in restarts:
        return restarts["relapsed"].fillna(False).to_numpy(bool)
    return held_counts(restarts, hits) < _reached_counts(restarts, hits)


def _held(counts: np.ndarray, hits: np.ndarray, positions) -> np.ndarray:
    """Held [..., targets]: f(x_T) meets the target (position k of the run's descending list) and it was reached."""
    positions = np.asarray(positions)
    return (counts[..., None] > positions) & ~np.isnan(hits)


def cell_scores(restarts: pd.DataFrame, targets: list[float], resolution: float) -> dict:
    """A cell's per-target scores from its restarts: the columns the runner writes to cells.parquet.

    Args:
      restarts: the cell's rows of the restart table (``step_to_target_*``,
        ``steps``, ``targets_held``, ``relapsed``).
      targets: the run's targets (every one: ``targets_held`` counts a prefix of them).
      resolution: the cell's :func:`resolution`; targets below it score NaN.

    Returns:
      ``success_<label>`` (share that reached the target and still held it at
      the last step), ``reached_<label>`` (share that reached it at some step,
      COCO's anytime meaning), ``ert_<label>`` (:func:`ert` from first hits)
      for every target, and ``relapse_rate``.
    """
    order = sorted((float(t) for t in targets), reverse=True)
    labels = [target_label(t) for t in order]
    hits = hit_matrix(restarts, labels)
    held = _held(held_counts(restarts, hits), hits, np.arange(len(labels)))
    n = len(restarts)
    with np.errstate(invalid="ignore"):
        success = held.mean(axis=0) if n else np.full(len(labels), np.nan)
        reached = (~np.isnan(hits)).mean(axis=0) if n else np.full(len(labels), np.nan)
    times = ert(hits, restarts["steps"].to_numpy(np.float64), axis=0) if len(labels) else np.empty(0)
    out = {}
    for j, (target, label) in enumerate(zip(order, labels, strict=True)):
        below = target < resolution
        out[f"success_{label}"] = float("nan") if below else float(success[j])
        out[f"reached_{label}"] = float("nan") if below else float(reached[j])
        out[f"ert_{label}"] = float("nan") if below else float(times[j])
    out["relapse_rate"] = float(np.mean(relapsed(restarts, hits))) if n else float("nan")
    return out


def selection_order(success, ert_, median, axis: int = 0) -> np.ndarray:
    """Indices that sort settings best first by the selection rule, along ``axis``.

    Highest success, then lower ERT, then lower median final loss (NaN loss
    last); a NaN success or ERT (a target below resolution) sorts last.
    """
    success = np.asarray(success, dtype=np.float64)
    return np.lexsort((finite_or_inf(median), np.asarray(ert_, dtype=np.float64), -success), axis=axis)


def cell_metrics(restarts: pd.DataFrame, targets: list[float], f_opt: float | None, f_opt_kind: str,
                 precision: str) -> dict:
    """Every score of one cell: :data:`CELL_SUMMARY_COLUMNS`, then :func:`cell_scores` at each target.

    An exact f* is checked, not trusted: a finite loss below it by more than
    rounding means the landscape's f* is wrong, and every Δf of it with it;
    the row then carries the violation and a warning.
    """
    cell_res = resolution(f_opt, precision)
    lowest = float(np.min(finite_or_inf(restarts["best_loss"].to_numpy())))
    violation = f_opt_violation(lowest, f_opt, cell_res) if f_opt is not None and f_opt_kind == "exact" else 0.0
    row = {
        "median_final_loss": float(np.median(finite_or_inf(restarts["final_loss"].to_numpy()))),
        "best_loss": lowest,
        "divergence_rate": float(restarts["diverged_step"].notna().mean()),
        "resolution": cell_res,
        "f_opt_violation": violation,
        "warning": (f"a loss of {lowest:.10g} is below the exact f* = {f_opt:.10g} by {violation:.3g}, more "
                    f"than float rounding ({cell_res:.3g}): the landscape's f* is wrong, so are its Δf and "
                    f"successes" if violation else ""),
    }
    return row | cell_scores(restarts, targets, cell_res)
