"""Runtimes and losses over restarts: ERT, quantiles, simulated restarts, ERT intervals, runtime ECDFs."""

from __future__ import annotations

import numpy as np

from suite.metrics.targets import _hits


def used_steps(hits: np.ndarray, steps) -> np.ndarray:
    """Steps each restart spent on each target: its hit step, or all it ran without a hit.

    ``steps`` has the leading shape of ``hits`` (trailing target axes are added).
    """
    steps = np.asarray(steps, dtype=np.float64)
    steps = steps.reshape(steps.shape + (1,) * (hits.ndim - steps.ndim))
    return np.where(np.isnan(hits), steps, hits)


def ert(hit_steps, steps, axis: int = 0):
    """Expected running time, as COCO defines it, along ``axis`` (the restarts).

    ERT = (Σ over restarts of the steps spent until the target was first
    reached, or until the restart ended without reaching it) / (number of
    restarts that reached it); infinite without one. Hansen et al., "COCO:
    Performance assessment", arXiv:1605.03560, §3. This is the one ERT of the
    suite: every other caller passes its array here.

    Args:
      hit_steps: first-hit steps (``-1``/missing/NaN: never), any shape.
      steps: steps each restart ran, the leading shape of ``hit_steps``.
      axis: the restart axis of ``hit_steps``.

    Returns:
      A float for 1-D input, else an array without ``axis``.
    """
    hits = _hits(hit_steps)
    reached = ~np.isnan(hits)
    successes = reached.sum(axis=axis)
    total = used_steps(hits, steps).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(successes > 0, total / np.maximum(successes, 1), np.inf)
    return float(out) if np.ndim(out) == 0 else out


def finite_or_inf(values) -> np.ndarray:
    """Losses with NaN mapped to +inf, so a failure sorts last and never wins."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), np.inf, values)


def quantiles(values, qs, axis: int = 0, method: str = "linear") -> np.ndarray:
    """``np.quantile`` of losses that may be NaN or infinite (NaN counts as +inf).

    Infinities are clamped to the largest float so ``np.quantile`` stays
    finite, and mapped back afterwards: a quantile is ±inf when it lands on
    an infinite value or between one and a finite neighbour (never a huge
    finite number made by interpolating with the clamp).
    """
    big = np.finfo(np.float64).max
    values = np.clip(finite_or_inf(values), -big, big)
    out = np.quantile(values, qs, axis=axis, method=method)
    lower = np.quantile(values, qs, axis=axis, method="lower")
    higher = np.quantile(values, qs, axis=axis, method="higher")
    up = (lower >= big) | ((higher >= big) & (out > lower))
    down = (higher <= -big) | ((lower <= -big) & (out < higher))
    return np.where(up, np.inf, np.where(down, -np.inf, out))


# --- runtimes and simulated restarts -------------------------------------

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
    hits = _hits(np.asarray(hits, dtype=np.float64))
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
    hits = _hits(np.asarray(hits, dtype=np.float64))
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
