"""The paired comparison of two entries over shared restarts: per-restart outcomes and the exact sign test."""

from __future__ import annotations

import math

import numpy as np

from suite.metrics.runtimes import finite_or_inf

_LOG_FACTORIAL = np.zeros(1)


def _log_factorial(n: int) -> np.ndarray:
    global _LOG_FACTORIAL
    if _LOG_FACTORIAL.size <= n:
        size = max(n + 1, 2 * _LOG_FACTORIAL.size)
        _LOG_FACTORIAL = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, size)))])
    return _LOG_FACTORIAL


def sign_test(wins, losses):
    """Exact two-sided sign test: p = min(1, 2·P(X ≤ min(wins, losses))), X ~ Binomial(wins + losses, ½).

    Computed from a table of log factorials (no scipy), for arrays of any
    shape; no decided pair (0 wins, 0 losses) gives p = 1.
    """
    wins, losses = np.asarray(wins, dtype=np.int64), np.asarray(losses, dtype=np.int64)
    n, k = wins + losses, np.minimum(wins, losses)
    if n.size == 0:
        return np.zeros(n.shape)
    table = _log_factorial(int(n.max()))
    j = np.arange(int(k.max()) + 1)
    shape = (1,) * n.ndim + (-1,)
    nn, kk, jj = n[..., None], k[..., None], j.reshape(shape)
    log_terms = table[nn] - table[jj] - table[np.maximum(nn - jj, 0)] - nn * math.log(2.0)
    log_terms = np.where(jj <= kk, log_terms, -np.inf)
    top = log_terms.max(axis=-1, keepdims=True)
    log_tail = top[..., 0] + np.log(np.exp(log_terms - top).sum(axis=-1))
    p = np.minimum(1.0, 2.0 * np.exp(log_tail))
    return float(p) if p.ndim == 0 else p


def p_text(value) -> str:
    """A sign-test p-value as the tables print it: '' for the first entry, '< 1e-300' at float's end."""
    value = float(value)
    if math.isnan(value):
        return ""
    if value < 1e-300:  # 2 · 0.5^n underflows for n ≳ 1000 paired restarts: never print "0"
        return "< 1e-300"
    return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


def paired_outcomes(held_a, hit_a, final_a, held_b, hit_b, final_b) -> np.ndarray:
    """Per restart: +1 where a beats b, −1 where b beats a, 0 where they are equal.

    a beats b on a restart if a held the target and b did not, or both held it
    and a reached it first, or neither held it and a's final loss is lower (a
    NaN loss is the worst).
    """
    final_a, final_b = finite_or_inf(final_a), finite_or_inf(final_b)
    both, neither = held_a & held_b, ~held_a & ~held_b
    a = (held_a & ~held_b) | (both & (hit_a < hit_b)) | (neither & (final_a < final_b))
    b = (held_b & ~held_a) | (both & (hit_b < hit_a)) | (neither & (final_b < final_a))
    return a.astype(np.int8) - b.astype(np.int8)
