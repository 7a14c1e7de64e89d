"""Leaderboard metrics computed from result tables alone (no JAX).

Step columns use ``-1``/missing for "never". A restart's ``steps`` is the
number of updates it ran: T, or fewer when it reached the last target or
diverged first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SELECTION_RULE = (
    "each optimizer (with its wrappers) enters at its best setting of its declared sweep per "
    "landscape: highest success rate at the last target, ties broken by lower ERT, then lower "
    "median final loss"
)


def _hits(hit_steps) -> np.ndarray:
    hits = pd.array(hit_steps, dtype="Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(hits >= 0, hits, np.nan)


def success_rate(hit_steps) -> float:
    """Fraction of restarts that reached the target."""
    hits = _hits(hit_steps)
    return float(np.mean(~np.isnan(hits))) if hits.size else float("nan")


def ert(hit_steps, steps) -> float:
    """Expected running time, as COCO defines it.

    ERT = (Σ over restarts of the steps spent until the target was reached, or
    until the restart ended without reaching it) / (number of successes);
    infinite without a success. Hansen et al., "COCO: Performance assessment",
    arXiv:1605.03560, §3.
    """
    hits = _hits(hit_steps)
    successes = int(np.sum(~np.isnan(hits)))
    if successes == 0:
        return float("inf")
    used = np.where(np.isnan(hits), np.asarray(steps, dtype=np.float64), hits)
    return float(np.sum(used) / successes)


def finite_or_inf(values) -> np.ndarray:
    """Losses with NaN mapped to +inf, so a failure sorts last and never wins."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), np.inf, values)


def leaderboard(cells: pd.DataFrame, target_column: str, ert_column: str) -> pd.DataFrame:
    """Best setting of each entry per landscape, ranked by :data:`SELECTION_RULE`.

    An entry is an optimizer with its wrappers and their values (``adam``,
    ``adam+stale(tau=8)``); the selection runs over the optimizer's own
    hyperparameters only, so every entry is tuned on the same terms: over the
    grid it declares (or the user gives), never a hand-picked range.

    Args:
      cells: the per-cell table (``cells.parquet``); failed cells are ignored.
      target_column: success-rate column of the target that ranks.
      ert_column: ERT column of the same target.

    Returns:
      One row per (landscape, entry) with ``rank`` 1 for the winner, and
      ``at_edge``: the swept hyperparameters (comma-separated) whose chosen
      value is the smallest or largest tried, where the optimum may lie outside.
    """
    ok = cells[cells["status"] == "ok"].copy()
    if ok.empty:
        return ok.assign(rank=pd.Series(dtype=int), at_edge=pd.Series(dtype=str))
    if "entry" not in ok:  # runs written before wrappers existed
        ok["entry"] = ok["optimizer"]
    ok["_success"] = -ok[target_column].astype(float)
    ok["_ert"] = ok[ert_column].astype(float)
    ok["_median"] = finite_or_inf(ok["median_final_loss"])
    keys = ["_success", "_ert", "_median"]
    groups = ["landscape_label", "entry"]
    best = ok.sort_values(keys, kind="stable").groupby(groups, sort=False).head(1)
    best = best.sort_values(["landscape_label", *keys], kind="stable")
    best["rank"] = best.groupby("landscape_label").cumcount() + 1
    best["at_edge"] = [_at_edge(ok, row, groups) for _, row in best.iterrows()]
    return best.drop(columns=keys).reset_index(drop=True)


def _at_edge(ok: pd.DataFrame, row: pd.Series, groups: list[str]) -> str:
    same = ok[(ok[groups] == row[groups]).all(axis=1)]
    edge = []
    for column in (c for c in same.columns if c.startswith("p_opt_")):
        values = pd.to_numeric(same[column], errors="coerce").dropna()
        if values.nunique() > 2 and row[column] in (values.min(), values.max()):
            edge.append(column.removeprefix("p_opt_"))
    return ",".join(edge)
