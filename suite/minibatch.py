"""Mini-batches for landscapes defined on a data set (logistic, deep_net, ...).

A stochastic landscape's loss takes the runner's per-step key and averages
over a mini-batch drawn with it; with ``key=None`` it averages over the whole
data set (the exact loss). The batch size shapes the program, so it lives in
a frozen dataclass loss (hashable, compared by value) rather than in the data.
"""

from __future__ import annotations

import jax

from suite.types import PRNGKey


def take(key: PRNGKey | None, batch: int, *arrays: jax.Array) -> tuple[jax.Array, ...]:
    """Rows of ``arrays`` (same leading size n) for one mini-batch.

    Args:
      key: the step's key, or ``None`` for every row (the exact loss).
      batch: rows per mini-batch, drawn without replacement; ``0`` or ``≥ n``
        means the whole data set.
      *arrays: arrays whose leading axis indexes samples.

    Returns:
      The selected rows of each array, in the order given.
    """
    n = arrays[0].shape[0]
    if key is None or batch <= 0 or batch >= n:
        return arrays
    rows = jax.random.choice(key, n, (batch,), replace=False)
    return tuple(a[rows] for a in arrays)


def is_stochastic(batch: int, samples: int) -> bool:
    """Whether a landscape with this batch size draws mini-batches."""
    return 0 < batch < samples
