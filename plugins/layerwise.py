"""Layer-wise normalised methods: LAMB and NovoGrad.

Both rescale each layer's step by a per-layer norm, the large-batch remedy
for layers whose gradients differ by orders of magnitude (the vanishing and
exploding gradients of deep nets). On a landscape whose point x is one
array, the "layer" is the whole point.

References:
  You et al., "Large batch optimization for deep learning: training BERT in
  76 minutes" (LAMB), ICLR 2020.
  Ginsburg et al., "Stochastic gradient methods with layer-wise adaptive
  moments for training of deep networks" (NovoGrad), arXiv:1905.11286, 2019.
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import SCALE_FREE, learning_rate

B1 = Param("b1", float, 0.9, "decay of the first-moment estimate", low=0.0, high=1.0)
WEIGHT_DECAY = Param("weight_decay", float, 0.0, "decoupled weight decay", low=0.0)


def lamb(learning_rate, b1, b2, eps, weight_decay):
    """LAMB (You et al. 2020): Adam's step per layer, rescaled by the trust ratio ‖x‖/‖step‖."""
    return optax.lamb(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def novograd(learning_rate, b1, b2, eps, weight_decay):
    """NovoGrad (Ginsburg et al. 2019): momentum of gradients normalised by a per-layer second moment."""
    return optax.novograd(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


@suite.hookimpl
def register_optimizers(register):
    sweep = {"learning_rate": SCALE_FREE}
    register("lamb", lamb, params=[
        learning_rate(1e-3), B1,
        Param("b2", float, 0.999, "decay of the second-moment estimate", low=0.0, high=1.0),
        Param("eps", float, 1e-6, "added to the root second moment for stability", low=0.0),
        WEIGHT_DECAY,
    ], sweep=sweep)
    register("novograd", novograd, params=[
        learning_rate(1e-3), B1,
        Param("b2", float, 0.25, "decay of the per-layer second moment", low=0.0, high=1.0),
        Param("eps", float, 1e-6, "added for stability", low=0.0),
        WEIGHT_DECAY,
    ], sweep=sweep)
