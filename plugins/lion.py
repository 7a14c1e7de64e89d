"""Lion: the sign of an interpolated momentum, found by program search.

References:
  Chen et al., "Symbolic discovery of optimization algorithms", NeurIPS 2023
  (arXiv:2302.06675). The paper advises a learning rate 3-10× below AdamW's.
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import SCALE_FREE, learning_rate


def lion(learning_rate, b1, b2, weight_decay):
    """Lion (Chen et al. 2023): x ← x − η sign(β₁m + (1−β₁)g); m tracks g with β₂."""
    return optax.lion(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)


@suite.hookimpl
def register_optimizers(register):
    register("lion", lion, params=[
        learning_rate(1e-4),
        Param("b1", float, 0.9, "interpolation of momentum and gradient in the step", low=0.0, high=1.0),
        Param("b2", float, 0.99, "decay of the momentum", low=0.0, high=1.0),
        # Off by default: the landscapes are the objective, a decay would change it.
        Param("weight_decay", float, 0.0, "decoupled weight decay", low=0.0),
    ], sweep={"learning_rate": SCALE_FREE})
