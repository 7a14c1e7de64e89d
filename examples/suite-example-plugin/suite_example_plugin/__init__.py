"""An example suite plugin: the Styblinski–Tang landscape and the Adamax optimizer.

Styblinski–Tang: f(x) = ½ Σ (x_i⁴ − 16 x_i² + 5 x_i), minimised at
x_i ≈ −2.903534 with f* ≈ −39.16617 d, with a worse local minimum near
x_i ≈ 2.7468 in every coordinate (2^d minima in all).

References:
  Styblinski, Tang, "Experiments in nonconvex optimization: stochastic
  approximation with function smoothing and simulated annealing",
  Neural Networks 3(4), 1990.
  Kingma, Ba, "Adam: A method for stochastic optimization", arXiv:1412.6980,
  §7.1 (Adamax).
"""

import jax
import jax.numpy as jnp
import optax

import suite

X_OPT = -2.903534018185960
F_OPT_PER_DIM = 0.5 * (X_OPT**4 - 16 * X_OPT**2 + 5 * X_OPT)


def _init(data, key):
    return jax.random.uniform(key, data["x_opt"].shape, minval=-5.0, maxval=5.0)


def _loss(data, x, key):
    del data, key
    return 0.5 * jnp.sum(x**4 - 16 * x**2 + 5 * x)


def build(values, *, key):
    """Styblinski–Tang function (Styblinski & Tang 1990): 2^d minima, one global."""
    del key  # deterministic
    dim = values["dim"]
    x_opt = jnp.full((dim,), X_OPT)
    return suite.Landscape(data={"x_opt": x_opt}, init_fn=_init, loss_fn=_loss,
                           f_opt=F_OPT_PER_DIM * dim, x_opt=x_opt, tags=("multimodal",))


def adamax(learning_rate, b1, b2):
    """Adamax (Kingma & Ba 2014, §7.1): Adam with an infinity-norm second moment."""
    return optax.adamax(learning_rate, b1=b1, b2=b2)


@suite.hookimpl
def register_landscapes(register):
    register("styblinski_tang", build,
             params=[suite.Param("dim", int, 5, "number of coordinates", low=1)],
             test_config={"dim": 2})


@suite.hookimpl
def register_optimizers(register):
    register("adamax", adamax, params=[
        suite.Param("learning_rate", float, 2e-3, "step size", low=0.0),
        suite.Param("b1", float, 0.9, "decay of the first moment", low=0.0, high=1.0),
        suite.Param("b2", float, 0.999, "decay of the infinity norm", low=0.0, high=1.0),
    ], sweep={"learning_rate": [1e-3, 1e-2, 1e-1]})
