"""Random draws that give one instance, and one set of starts, in float32 and float64 runs.

A run can compute in float64 (JAX's x64 mode). Drawn directly in float64,
``jax.random`` gives other numbers than in float32 from the same key: a
float64 run would face another instance (another logistic f*, other teacher
weights) and other starts, and could not be compared with a float32 run.
These helpers draw in float32, the same bits in both modes, and cast to the
default float dtype (float32, or float64 under x64): the float64 instance is
the float32 one exactly, computed at higher precision.
"""

import jax
import jax.numpy as jnp


def default_float():
    """float32, or float64 inside ``jax.enable_x64(True)``."""
    return jnp.result_type(float)


def floats(x) -> jax.Array:
    """``x`` as an array of the default float dtype."""
    return jnp.asarray(x, dtype=default_float())


def uniform(key: jax.Array, shape, minval=0.0, maxval=1.0) -> jax.Array:
    """U[minval, maxval) drawn in float32, in the default float dtype."""
    return floats(jax.random.uniform(key, shape, jnp.float32, minval, maxval))


def normal(key: jax.Array, shape) -> jax.Array:
    """N(0, 1) drawn in float32, in the default float dtype."""
    return floats(jax.random.normal(key, shape, jnp.float32))


def orthogonal(key: jax.Array, n: int) -> jax.Array:
    """A Haar-random n × n orthogonal matrix drawn in float32, in the default float dtype.

    In float64 the float32 draw is orthonormal to ~1e-7 only; two Newton–Schulz
    steps Q ← Q(3I − QᵀQ)/2 move it to the nearest orthogonal matrix (its polar
    factor, within ~1e-7 of the draw), orthonormal to float64 accuracy.
    """
    q = floats(jax.random.orthogonal(key, n, dtype=jnp.float32))
    if q.dtype != jnp.float32:
        eye = jnp.eye(n, dtype=q.dtype)
        for _ in range(2):  # the error squares each step: 1e-7, 1e-14, 1e-16
            q = 0.5 * q @ (3.0 * eye - q.T @ q)
    return q
