"""Rastrigin's function: a convex bowl under a sinusoid, 11^d local minima in the box.

f(x) = 10 d + Σ_i [x_i² − 10 cos(2π x_i)],  x ∈ [−5.12, 5.12]^d,  f* = 0 at x = 0.

Separable: per coordinate the local minima sit near ±0.99496 k (k = 0..5) with
values 0.99496 k², so the second-best value is 0.99496 and random restarts are
the oldest remedy.

References:
  Rastrigin, "Systems of extremal control", 1974.
  Mühlenbein, Schomisch, Born, "The parallel genetic algorithm as function
  optimizer", Parallel Computing 17, 1991.
"""

import jax
import jax.numpy as jnp

import suite
from suite import Param

PARAMS = (Param("dim", int, 10, "number of coordinates", low=1),)

BOX = 5.12  # the classic search domain [-5.12, 5.12]^d


def rastrigin(x: jax.Array) -> jax.Array:
    """Rastrigin's function (Rastrigin 1974; Mühlenbein et al. 1991).

    Written as Σ [x² + 20 sin²(π x)], which equals 10d + Σ [x² − 10 cos(2πx)]
    (1 − cos 2θ = 2 sin² θ) but does not lose float32 precision near the
    optimum to the cancellation 10d − 10 Σ cos: with the textbook form the
    loss cannot get below ~1e-5 at d = 10 in float32.
    """
    return jnp.sum(x * x + 20.0 * jnp.sin(jnp.pi * x) ** 2)


def _init(data, key):
    return jax.random.uniform(key, data["x_opt"].shape, minval=-BOX, maxval=BOX)


def _loss(data, x, key):
    del data, key
    return rastrigin(x)


def build(params: dict, *, key: jax.Array) -> suite.Landscape:
    """Rastrigin's function in ``dim`` coordinates (Rastrigin 1974; Mühlenbein et al. 1991)."""
    del key  # the plain function has no random parts
    x_opt = jnp.zeros((params["dim"],))
    return suite.Landscape(
        data={"x_opt": x_opt},
        init_fn=_init,
        loss_fn=_loss,
        f_opt=0.0,
        x_opt=x_opt,
        tags=("multimodal",),
    )


@suite.hookimpl
def register_landscapes(register):
    register("rastrigin", build, params=PARAMS, test_config={"dim": 2})
