"""Gradient descent, heavy ball and Nesterov momentum.

References:
  Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
  Nesterov, "A method for solving the convex programming problem with
  convergence rate O(1/k²)", 1983.
  Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and
  momentum in deep learning", ICML 2013 (the form optax implements).
"""

import optax

import suite
from suite import Param

LEARNING_RATE = Param("learning_rate", float, 1e-2, "step size", low=0.0)
MOMENTUM = Param("momentum", float, 0.9, "decay of the velocity (β)", low=0.0, high=1.0)
# Half-decade grid: wide enough that every optimizer's best setting is inside it
# on the built-in landscapes, the same grid for all so none is tuned by hand.
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)


def sgd(learning_rate):
    """Plain gradient descent: x ← x − η ∇f(x)."""
    return optax.sgd(learning_rate)


def momentum(learning_rate, momentum):
    """Heavy-ball momentum (Polyak 1964): v ← β v + ∇f, x ← x − η v."""
    return optax.sgd(learning_rate, momentum=momentum)


def nesterov(learning_rate, momentum):
    """Nesterov's accelerated gradient (Nesterov 1983, Sutskever et al. 2013 form)."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


@suite.hookimpl
def register_optimizers(register):
    sweep = {"learning_rate": LEARNING_RATES}
    register("sgd", sgd, params=[LEARNING_RATE], sweep=sweep)
    register("momentum", momentum, params=[LEARNING_RATE, MOMENTUM], sweep=sweep)
    register("nesterov", nesterov, params=[LEARNING_RATE, MOMENTUM], sweep=sweep)
