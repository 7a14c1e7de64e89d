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


# --- targets, runtimes and simulated restarts -------------------------------------

HIT_PREFIX = "step_to_target_"


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
    return np.stack([_hits(restarts[HIT_PREFIX + label]) for label in labels], axis=-1)


def used_steps(hits: np.ndarray, steps) -> np.ndarray:
    """Steps each restart spent on each target: its hit step, or all it ran without a hit."""
    steps = np.asarray(steps, dtype=np.float64)
    return np.where(np.isnan(hits), steps.reshape(steps.shape + (1,) * (hits.ndim - steps.ndim)), hits)


def ert_all(hits: np.ndarray, steps) -> np.ndarray:
    """:func:`ert` of every target at once: ``hits`` [restarts, targets] → [targets]."""
    successes = np.sum(~np.isnan(hits), axis=0)
    total = np.sum(used_steps(hits, steps), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(successes > 0, total / np.maximum(successes, 1), np.inf)


def _sum_of_draws(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Σ of ``counts[b]`` draws with replacement from ``values``, for every b.

    Restarts that miss a target mostly ran every step, so ``values`` holds few
    distinct numbers: drawing how many times each comes up (one multinomial)
    costs as much as the distinct values, however many draws there are.
    """
    distinct, freq = np.unique(values, return_counts=True)
    if distinct.size == 1:
        return counts * distinct[0]
    picks = rng.multinomial(counts, freq / freq.sum())
    return picks @ distinct


def simulated_runtimes(hits, steps, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Runtimes of simulated restarts, as COCO draws them for runtime ECDFs.

    A simulated restart draws restarts with replacement, summing the steps of
    unsuccessful ones, until it draws a successful one, whose steps to the
    target end it (Hansen et al., "COCO: Performance assessment",
    arXiv:1605.03560, §4). The number of failures before the success is
    geometric with the observed success rate.

    Returns:
      ``samples`` runtimes in steps; all infinite when no restart succeeded.
    """
    hits = np.asarray(hits, dtype=np.float64)
    ok = ~np.isnan(hits)
    if not ok.any():
        return np.full(samples, np.inf)
    p = ok.mean()
    failures = rng.geometric(p, size=samples) - 1
    failed = np.asarray(steps, dtype=np.float64)[~ok]
    spent = _sum_of_draws(failed, failures, rng) if failed.size else np.zeros(samples)
    return spent + rng.choice(hits[ok], size=samples)


def ert_interval(hits, steps, rng: np.random.Generator, *, resamples: int = 1000,
                 level: float = 0.95) -> tuple[float, float]:
    """Bootstrap confidence interval of :func:`ert` from simulated restarts.

    Each bootstrap replicate runs simulated restarts (draw restarts with
    replacement, summing steps until a success) until it has as many successes
    as the data: its ERT is the steps spent over the successes. Collecting s
    successes costs a negative-binomial number of failures, so a replicate is
    two draws however small the success rate.

    Returns:
      ``(low, high)``; ``(inf, inf)`` without a success.
    """
    hits = np.asarray(hits, dtype=np.float64)
    ok = ~np.isnan(hits)
    s = int(ok.sum())
    if s == 0:
        return float("inf"), float("inf")
    failed = np.asarray(steps, dtype=np.float64)[~ok]
    failures = rng.negative_binomial(s, ok.mean(), size=resamples)
    spent = _sum_of_draws(failed, failures, rng) if failed.size else np.zeros(resamples)
    spent = spent + _sum_of_draws(hits[ok], np.full(resamples, s), rng)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(spent / s, [tail, 100 - tail])
    return float(low), float(high)


def runtime_ecdf(runtimes: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Fraction of ``runtimes`` (inf: never) at most each value of ``grid``."""
    runtimes = np.sort(np.asarray(runtimes, dtype=np.float64).ravel())
    if runtimes.size == 0:
        return np.zeros(len(grid))
    return np.searchsorted(runtimes, grid, side="right") / runtimes.size
