"""L1 and L2 penalties on the parameters, as a wrapper: the cost-design choice.

The optimizer descends f(θ) + λ₁‖θ‖₁ + (λ₂/2)‖θ‖², receiving the gradient
∇f + λ₁ sign(θ) + λ₂ θ. The results still score f alone, the landscape's
loss, so a run shows what the penalty costs or buys on the problem itself.
For Adam an L2 penalty is not weight decay: the penalty's gradient is rescaled
by the adaptive step, decoupled decay (``adamw``) is not (Loshchilov & Hutter).

References:
  Tibshirani, "Regression shrinkage and selection via the lasso", JRSS B, 1996 (L1).
  Krogh, Hertz, "A simple weight decay can improve generalization", NIPS 1991 (L2).
  Loshchilov, Hutter, "Decoupled weight decay regularization", ICLR 2019.
"""

import jax
import jax.numpy as jnp
import optax

import suite
from suite import Param


def add_penalty_gradient(l1, l2) -> optax.GradientTransformation:
    """Adds λ₁ sign(θ) + λ₂ θ, the gradient of λ₁‖θ‖₁ + (λ₂/2)‖θ‖², to the gradient."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("penalty needs the parameters: call update(updates, state, params)")
        penalised = jax.tree.map(lambda g, p: g + (l1 * jnp.sign(p) + l2 * p).astype(g.dtype), updates, params)
        return penalised, state

    return optax.GradientTransformation(init_fn, update_fn)


def penalty(inner, l1, l2):
    """L1 and L2 penalties on the parameters (lasso, weight decay), added to the gradient before the optimizer."""
    return optax.chain(add_penalty_gradient(l1, l2), inner)


@suite.hookimpl
def register_wrappers(register):
    register("penalty", penalty, params=[
        Param("l1", float, 0.0, "λ₁, weight of ‖θ‖₁", low=0.0),
        Param("l2", float, 1e-3, "λ₂, weight of ‖θ‖²/2", low=0.0),
    ], test_config={"l1": 1e-3})
