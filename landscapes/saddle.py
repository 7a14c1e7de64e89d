"""A strict saddle, or a flat plateau, between two minima: the saddle-escape testbed.

f(x, y) = ½ |x|² − y^{2k}/(2k) + y^{2k+2}/(2k+2),  x ∈ R^dim, y ∈ R,

a point θ = (x, y) with y last (θ is the point the optimizer moves, the
API's x; here x names its stable coordinates). Minima at x = 0, y = ±1 with
f* = −1/(2k(k+1)); the origin is a critical point between them.
For k = 1 it is a strict saddle (Hessian diag(1, …, 1, −1)): gradient descent
escapes from y₀ in about ln(1/|y₀|) steps/η, and only noise or curvature
information escapes from y₀ = 0 exactly. For k ≥ 2 the origin is a degenerate
saddle whose unstable direction is flat to order 2k: ∂f/∂y ≈ −y^{2k−1}, a
plateau whose escape time grows like |y₀|^{−(2k−2)}. Starts: x uniform in
[−1, 1]^dim and y uniform in [−spread, spread], near the saddle.

The loss is measured from the minimum: it is f − f*, written

  f − f* = ½ |x|² + (y − 1)² (y + 1)² P_k(y²) / (2k(k+1)),
  P_k(t) = Σ_{j=0}^{k−1} (j + 1) t^j   (P_1 = 1: f − f* = ½|x|² + (y² − 1)²/4),

an identity (k t^{k+1} − (k+1) t^k + 1 = (t − 1)² P_k(t): t = 1 is a double
root). Every term is non-negative and (y − 1)(y + 1) is exact near y = ±1, so
f − f* is computed to a few ulps of itself, with no cancellation against
f* ≠ 0: the landscape's f* is 0, the minima have loss 0, the saddle at the
origin has loss 1/(2k(k+1)) (1/4 for k = 1), and a target like 1e-8 is
meaningful in float32. The gradient is the textbook one, ∂f/∂y =
y^{2k−1}(y − 1)(y + 1) (a custom JVP), accurate near the saddle where the
derivative of the factored form would cancel.

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
import functools

import jax
import jax.numpy as jnp

import suite
from suite import Param
from suite.landscapes import _random

PARAMS = (
    Param("order", int, 1, "k: 1 is a strict saddle, k ≥ 2 a plateau flat to order 2k", low=1, high=4),
    Param("dim", int, 1, "stable coordinates x (1: a 2-D picture)", low=1),
    Param("spread", float, 0.01, "starts have y uniform in [−spread, spread]", low=0.0),
)


def textbook(theta: jax.Array, order: int) -> jax.Array:
    """½|x|² − y^{2k}/(2k) + y^{2k+2}/(2k+2): the textbook form, minimum f* = −1/(2k(k+1))."""
    x, y = theta[:-1], theta[-1]
    k = order
    return 0.5 * jnp.sum(x * x) - y ** (2 * k) / (2 * k) + y ** (2 * k + 2) / (2 * k + 2)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def well(y: jax.Array, order: int) -> jax.Array:
    """y^{2k+2}/(2k+2) − y^{2k}/(2k) + 1/(2k(k+1)) = (y − 1)²(y + 1)² P_k(y²)/(2k(k+1)) ≥ 0."""
    k = order
    t = y * y
    poly = jnp.full_like(y, float(k))
    for j in range(k - 1, 0, -1):  # Horner: P_k(t) = Σ_{j<k} (j + 1) t^j
        poly = poly * t + j
    d = (y - 1.0) * (y + 1.0)
    return d * d * poly / (2 * k * (k + 1))


@well.defjvp
def _well_jvp(order, primals, tangents):
    (y,), (dy,) = primals, tangents
    # The textbook derivative y^{2k+1} − y^{2k−1}, factored: no cancellation near
    # the saddle (y → 0), where differentiating the factored value would cancel.
    return well(y, order), y ** (2 * order - 1) * (y - 1.0) * (y + 1.0) * dy


def saddle(theta: jax.Array, order: int) -> jax.Array:
    """f − f* = ½|x|² + (y − 1)²(y + 1)² P_k(y²)/(2k(k+1)) with θ = (x, y): the loss, minimum 0."""
    x, y = theta[:-1], theta[-1]
    return 0.5 * jnp.sum(x * x) + well(y, order)


def minimum_value(order: int) -> float:
    """f* = −1/(2k) + 1/(2k + 2) = −1/(2k(k+1)) of the textbook form, at x = 0, y = ±1."""
    return -1.0 / (2 * order * (order + 1))


def saddle_value(order: int) -> float:
    """The loss at the saddle (the origin), measured from the minimum: 1/(2k(k+1))."""
    return -minimum_value(order)


@dataclasses.dataclass(frozen=True)
class _Loss:
    order: int  # static: the exponent

    def __call__(self, data, theta, key):
        """The loss at the point θ = (x, y)."""
        del data, key
        return saddle(theta, self.order)


def _init(data, key):
    key_x, key_y = jax.random.split(key)
    dim = data["x_opt"].shape[0] - 1
    x = _random.uniform(key_x, (dim,), -1.0, 1.0)
    y = data["spread"] * _random.uniform(key_y, (1,), -1.0, 1.0)
    return jnp.concatenate([x, y])


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Strict or degenerate saddle between two minima (Dauphin et al. 2014; Anandkumar & Ge 2016)."""
    del key  # nothing random but the starts
    order, dim = values["order"], values["dim"]
    x_opt = jnp.zeros((dim + 1,)).at[-1].set(1.0)
    return suite.Landscape(
        data={"x_opt": x_opt, "spread": _random.floats(values["spread"])},
        init_fn=_init,
        loss_fn=_Loss(order),
        f_opt=0.0,  # the loss is f − f*, measured from the minimum
        x_opt=x_opt,
        tags=("saddles",) if order == 1 else ("saddles", "plateaus"),
        levels=(("saddle", saddle_value(order)),),
    )


@suite.hookimpl
def register_landscapes(register):
    register("saddle", build, params=PARAMS, test_config={"dim": 1})
