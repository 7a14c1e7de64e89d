"""Per-coordinate step sizes before Adam: Adagrad, RMSprop and Adadelta.

References:
  Duchi, Hazan, Singer, "Adaptive subgradient methods for online learning and
  stochastic optimization" (Adagrad), JMLR 2011.
  Tieleman, Hinton, "Lecture 6.5 — RMSprop", COURSERA: Neural Networks for
  Machine Learning, 2012.
  Zeiler, "ADADELTA: an adaptive learning rate method", arXiv:1212.5701, 2012.
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import GRADIENT_SCALED, SCALE_FREE, learning_rate

DECAY = Param("decay", float, 0.9, "decay of the mean squared gradient", low=0.0, high=1.0)
EPS = Param("eps", float, 1e-8, "added for stability", low=0.0)


def rmsprop(learning_rate, decay, eps):
    """RMSprop (Tieleman & Hinton 2012): steps divided by a running root mean square of the gradient."""
    return optax.rmsprop(learning_rate, decay=decay, eps=eps)


def adagrad(learning_rate, initial_accumulator_value, eps):
    """Adagrad (Duchi et al. 2011): steps divided by the root of the summed squared gradients."""
    return optax.adagrad(learning_rate, initial_accumulator_value=initial_accumulator_value, eps=eps)


def adadelta(learning_rate, rho, eps):
    """Adadelta (Zeiler 2012): the ratio of running RMS of updates and gradients, units-correct steps."""
    return optax.adadelta(learning_rate, rho=rho, eps=eps)


@suite.hookimpl
def register_optimizers(register):
    register("rmsprop", rmsprop, params=[learning_rate(1e-3), DECAY, EPS],
             sweep={"learning_rate": SCALE_FREE})
    # Adagrad's step shrinks as 1/√t and Adadelta's starts at √eps: both take
    # larger rates than Adam (Adadelta's paper uses 1), hence the wider grid.
    register("adagrad", adagrad, params=[
        learning_rate(1e-1),
        Param("initial_accumulator_value", float, 0.1, "starting sum of squared gradients", low=0.0),
        Param("eps", float, 1e-7, "added for stability", low=0.0),
    ], sweep={"learning_rate": GRADIENT_SCALED})
    register("adadelta", adadelta, params=[
        learning_rate(1.0),
        Param("rho", float, 0.9, "decay of the running averages", low=0.0, high=1.0),
        Param("eps", float, 1e-6, "added for stability (sets the first step, √eps)", low=0.0),
    ], sweep={"learning_rate": GRADIENT_SCALED})
