"""A strict saddle, or a flat plateau, between two minima: the saddle-escape testbed.

f(x, y) = ½ |x|² − y^{2k}/(2k) + y^{2k+2}/(2k+2),  x ∈ R^dim, y ∈ R,

a point θ = (x, y) with y last. Minima at x = 0, y = ±1 with
f* = −1/(2k(k+1)); the origin is a critical point between them.
For k = 1 it is a strict saddle (Hessian diag(1, …, 1, −1)): gradient descent
escapes from y₀ in about ln(1/|y₀|) steps/η, and only noise or curvature
information escapes from y₀ = 0 exactly. For k ≥ 2 the origin is a degenerate
saddle whose unstable direction is flat to order 2k: ∂f/∂y ≈ −y^{2k−1}, a
plateau whose escape time grows like |y₀|^{−(2k−2)}. Starts: x uniform in
[−1, 1]^dim and y uniform in [−spread, spread], near the saddle.

References:
  Dauphin, Pascanu, Gulcehre, Cho, Ganguli, Bengio, "Identifying and attacking
  the saddle point problem in high-dimensional non-convex optimization",
  arXiv:1406.2572, 2014.
  Ge, Huang, Jin, Yuan, "Escaping from saddle points — online stochastic
  gradient for tensor decomposition", arXiv:1503.02101, 2015 (strict saddles).
  Anandkumar, Ge, "Efficient approaches for escaping higher order saddle
  points in non-convex optimization", arXiv:1602.05908, 2016 (degenerate saddles).
"""

import dataclasses

import jax
import jax.numpy as jnp

import suite
from suite import Param

PARAMS = (
    Param("order", int, 1, "k: 1 is a strict saddle, k ≥ 2 a plateau flat to order 2k", low=1, high=4),
    Param("dim", int, 1, "stable coordinates x (1: a 2-D picture)", low=1),
    Param("spread", float, 0.01, "starts have y uniform in [−spread, spread]", low=0.0),
)


def saddle(theta: jax.Array, order: int) -> jax.Array:
    """½|x|² − y^{2k}/(2k) + y^{2k+2}/(2k+2) with θ = (x, y)."""
    x, y = theta[:-1], theta[-1]
    k = order
    return 0.5 * jnp.sum(x * x) - y ** (2 * k) / (2 * k) + y ** (2 * k + 2) / (2 * k + 2)


def minimum_value(order: int) -> float:
    """f* = −1/(2k) + 1/(2k + 2) = −1/(2k(k+1)), at x = 0, y = ±1."""
    return -1.0 / (2 * order * (order + 1))


@dataclasses.dataclass(frozen=True)
class _Loss:
    order: int  # static: the exponent

    def __call__(self, data, theta, key):
        del data, key
        return saddle(theta, self.order)


def _init(data, key):
    key_x, key_y = jax.random.split(key)
    dim = data["x_opt"].shape[0] - 1
    x = jax.random.uniform(key_x, (dim,), minval=-1.0, maxval=1.0)
    y = data["spread"] * jax.random.uniform(key_y, (1,), minval=-1.0, maxval=1.0)
    return jnp.concatenate([x, y])


def build(params: dict, *, key: jax.Array) -> suite.Landscape:
    """Strict or degenerate saddle between two minima (Dauphin et al. 2014; Anandkumar & Ge 2016)."""
    del key  # nothing random but the starts
    order, dim = params["order"], params["dim"]
    x_opt = jnp.zeros((dim + 1,)).at[-1].set(1.0)
    return suite.Landscape(
        data={"x_opt": x_opt, "spread": jnp.asarray(params["spread"], jnp.float32)},
        init_fn=_init,
        loss_fn=_Loss(order),
        f_opt=minimum_value(order),
        x_opt=x_opt,
        tags=("saddles",) if order == 1 else ("saddles", "plateaus"),
    )


@suite.hookimpl
def register_landscapes(register):
    register("saddle", build, params=PARAMS, test_config={"dim": 1})
