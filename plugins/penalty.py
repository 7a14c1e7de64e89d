"""L1 and L2 penalties on the parameters, as a wrapper: the cost-design choice.

The optimizer descends f(θ) + λ₁‖θ‖₁ + (λ₂/2)‖θ‖², receiving the gradient
∇f + λ₁ sign(θ) + λ₂ θ (``l1_mode=subgradient``, the default). A subgradient
step never lands on zero: coordinates the lasso would zero oscillate around
it. ``l1_mode=orthant`` steps as OWL-QN does (Andrew & Gao 2007): the optimizer
receives the pseudo-gradient (the minimal-norm subgradient, 0 at a zero
coordinate whose |∂f| ≤ λ₁), and a step that would cross zero, or leave it
where the pseudo-gradient says stay, stops at zero, so the zeros are exact.
The results still score f alone, the landscape's loss, so a run shows what
the penalty costs or buys on the problem itself.
For Adam an L2 penalty is not weight decay: the penalty's gradient is rescaled
by the adaptive step, decoupled decay (``adamw``) is not (Loshchilov & Hutter).

References:
  Tibshirani, "Regression shrinkage and selection via the lasso", JRSS B, 1996 (L1).
  Andrew, Gao, "Scalable training of L1-regularized log-linear models", ICML 2007 (OWL-QN).
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


def orthant_penalty(inner, l1, l2) -> optax.GradientTransformationExtraArgs:
    """``inner`` stepping on λ₁‖θ‖₁ + (λ₂/2)‖θ‖² by OWL-QN's pseudo-gradient and orthant projection.

    At θ_i ≠ 0 the pseudo-gradient is g_i + λ₁ sign(θ_i); at θ_i = 0 it is
    g_i + λ₁ when that is negative, g_i − λ₁ when that is positive, else 0.
    The step may not leave the orthant sign(θ_i) (−sign of the
    pseudo-gradient at a zero): a coordinate that would is set to exactly 0.
    """

    def init_fn(params):
        return inner.init(params)

    def update_fn(updates, state, params=None, **extra):
        if params is None:
            raise ValueError("penalty needs the parameters: call update(updates, state, params)")

        def pseudo(g, p):
            smooth = g + (l2 * p).astype(g.dtype)
            lam = jnp.asarray(l1, g.dtype)
            at_zero = jnp.where(smooth + lam < 0, smooth + lam, jnp.where(smooth - lam > 0, smooth - lam, 0))
            return jnp.where(p != 0, smooth + lam * jnp.sign(p), at_zero)

        pseudos = jax.tree.map(pseudo, updates, params)
        steps, state = inner.update(pseudos, state, params, **extra)

        def projected(u, p, pg):
            orthant = jnp.where(p != 0, jnp.sign(p), -jnp.sign(pg))
            # -p lands on exactly zero: p + (-p) == 0 in floating point.
            return jnp.where(jnp.sign(p + u) == orthant, u, -p).astype(u.dtype)

        return jax.tree.map(projected, steps, params, pseudos), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def penalty(inner, l1, l2, l1_mode="subgradient"):
    """L1 and L2 penalties on the parameters (lasso, weight decay), added to the gradient before the optimizer."""
    if l1_mode == "orthant":
        return orthant_penalty(inner, l1, l2)
    return optax.chain(add_penalty_gradient(l1, l2), inner)


@suite.hookimpl
def register_wrappers(register):
    register("penalty", penalty, params=[
        Param("l1", float, 0.0, "λ₁, weight of ‖θ‖₁", low=0.0),
        Param("l2", float, 1e-3, "λ₂, weight of ‖θ‖²/2", low=0.0),
        Param("l1_mode", str, "subgradient", "how the L1 term steps: subgradient (λ₁ sign θ added to the "
              "gradient) or orthant (OWL-QN: steps stop at zero, so zeros are exact)",
              choices=("subgradient", "orthant")),
    ], test_config={"l1": 1e-3})
