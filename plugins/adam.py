"""Adam: per-coordinate steps scaled by running moments of the gradient.

References:
  Kingma, Ba, "Adam: A method for stochastic optimization", arXiv:1412.6980, 2014.
"""

import optax

import suite
from suite import Param
from suite.plugins.sgd import LEARNING_RATES

PARAMS = (
    Param("learning_rate", float, 1e-3, "step size", low=0.0),
    Param("b1", float, 0.9, "decay of the first-moment estimate", low=0.0, high=1.0),
    Param("b2", float, 0.999, "decay of the second-moment estimate", low=0.0, high=1.0),
    Param("eps", float, 1e-8, "added to the root second moment for stability", low=0.0),
)


def adam(learning_rate, b1, b2, eps):
    """Adam (Kingma & Ba 2014) with bias-corrected moment estimates."""
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


@suite.hookimpl
def register_optimizers(register):
    register("adam", adam, params=PARAMS, sweep={"learning_rate": LEARNING_RATES})
