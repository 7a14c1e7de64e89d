"""Type aliases shared across the suite (named aliases, not new classes, as in optax)."""

from typing import Any

import jax

PyTree = Any
PRNGKey = jax.Array
Params = Any  # A landscape point: an array or any pytree of arrays.
Scalar = jax.Array
