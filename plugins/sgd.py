"""Gradient descent, heavy ball, Nesterov momentum and sign descent.

References:
  Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
  Nesterov, "A method for solving the convex programming problem with
  convergence rate O(1/k²)", 1983.
  Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and
  momentum in deep learning", ICML 2013 (the form optax implements).
  Bernstein, Wang, Azizzadenesheli, Anandkumar, "signSGD: compressed
  optimisation for non-convex problems", ICML 2018.
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import GRADIENT_SCALED, SCALE_FREE, learning_rate

LEARNING_RATE = learning_rate(1e-2)
MOMENTUM = Param("momentum", float, 0.9, "decay of the velocity (β)", low=0.0, high=1.0)


def sgd(learning_rate):
    """Plain gradient descent: x ← x − η ∇f(x)."""
    return optax.sgd(learning_rate)


def momentum(learning_rate, momentum):
    """Heavy-ball momentum (Polyak 1964): v ← β v + ∇f, x ← x − η v."""
    return optax.sgd(learning_rate, momentum=momentum)


def nesterov(learning_rate, momentum):
    """Nesterov's accelerated gradient (Nesterov 1983, Sutskever et al. 2013 form)."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


def sign_descent(learning_rate):
    """Sign descent (signSGD, Bernstein et al. 2018): x ← x − η sign(∇f(x)), blind to gradient scale."""
    return optax.chain(optax.scale_by_sign(), optax.scale_by_learning_rate(learning_rate))


@suite.hookimpl
def register_optimizers(register):
    sweep = {"learning_rate": GRADIENT_SCALED}
    register("sgd", sgd, params=[LEARNING_RATE], sweep=sweep)
    register("momentum", momentum, params=[LEARNING_RATE, MOMENTUM], sweep=sweep)
    register("nesterov", nesterov, params=[LEARNING_RATE, MOMENTUM], sweep=sweep)
    register("sign_descent", sign_descent, params=[learning_rate(1e-3)],
             sweep={"learning_rate": SCALE_FREE})
