"""Styblinski–Tang function: a test plugin with an exact f* far from 0.

f(x) = ½ Σ_i (x_i⁴ − 16 x_i² + 5 x_i),  x ∈ [−5, 5]^D,

separable, with per coordinate a global minimum at x* = −2.903534… (the root of
4x³ − 32x + 5 = 0) and a local one near 2.7468, so 2^D minima. f* = −39.16617 D
(to the digits the references quote; computed here to float64 accuracy), large
and far from 0: in float32 its spacing is 7.6e-6 at D = 2 and 1.5e-5 at D = 5,
so targets like Δf ≤ 1e-8 are below resolution there, while a declared f*
wrong by 1e-4 is visible.

Parameters: ``dim`` (D), and ``f_shift``, added to the declared f* so tests can
make a plugin whose f* is wrong on purpose (0.0: the correct f*).

Use: ``suite check --plugin tests/plugins/styblinski_tang.py styblinski_tang``.

References:
  Styblinski, Tang, "Experiments in nonconvex optimization: stochastic
  approximation with function smoothing and simulated annealing", Neural
  Networks 3(4), 1990.
  Surjanovic, Bingham, "Virtual Library of Simulation Experiments: test
  functions and datasets", Simon Fraser University (Styblinski–Tang function).
"""

import jax
import jax.numpy as jnp
import numpy as np

import suite

BOX = 5.0  # starts uniform in [−BOX, BOX]^D


def _minimiser() -> float:
    """The global minimiser per coordinate: the smallest root of f' = ½(4x³ − 32x + 5)."""
    return float(min(np.roots([4.0, 0.0, -32.0, 5.0]).real))


X_OPT = _minimiser()  # −2.903534027771…
F_OPT_PER_COORDINATE = 0.5 * (X_OPT**4 - 16 * X_OPT**2 + 5 * X_OPT)  # −39.166165703…


def styblinski_tang(x: jax.Array) -> jax.Array:
    """½ Σ (x⁴ − 16x² + 5x), in Horner form x((x² − 16)x + 5) for a few ulps of error."""
    return 0.5 * jnp.sum(x * ((x * x - 16.0) * x + 5.0))


def _init(data, key):
    return jax.random.uniform(key, data["x_opt"].shape, minval=-BOX, maxval=BOX,
                              dtype=jnp.result_type(float))


def _loss(data, x, key):
    del data, key
    return styblinski_tang(x)


def build(values, *, key):
    """Styblinski–Tang function (Styblinski & Tang 1990); exact f* = −39.16617 D, optionally shifted."""
    del key  # nothing random but the starts
    dim = values["dim"]
    x_opt = jnp.full((dim,), X_OPT, dtype=jnp.result_type(float))
    return suite.Landscape(data={"x_opt": x_opt}, init_fn=_init, loss_fn=_loss,
                           f_opt=dim * F_OPT_PER_COORDINATE + values["f_shift"], x_opt=x_opt,
                           tags=("multimodal",))


@suite.hookimpl
def register_landscapes(register):
    register("styblinski_tang", build, params=[
        suite.Param("dim", int, 5, "number of coordinates D", low=1),
        suite.Param("f_shift", float, 0.0, "added to the declared f* (a wrong f*, for tests)"),
    ])
