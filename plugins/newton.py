"""Newton's method and saddle-free Newton, from the exact Hessian's eigendecomposition.

Both build the dense Hessian H = V Λ Vᵀ at every step (from the ``value_fn``
the runner passes), so they are for landscapes of up to about a thousand
parameters; a larger one fails that cell with a one-line message. With
gradient g they step

  Newton:             Δθ = −η V diag(1 / (λ + δ·sign λ)) Vᵀ g
  saddle-free Newton: Δθ = −η V diag(1 / (|λ| + δ)) Vᵀ g = −η (|H| + δ)⁻¹ g

Newton's step is attracted by every critical point: along a direction of
negative curvature it climbs towards a saddle. Saddle-free Newton uses |λ|,
so it descends along negative curvature and is repelled by saddles. On
f = x² − y² from (x₀, y₀) with η = 1, δ = 0, one Newton step lands on the
saddle (0, 0) and one saddle-free step on (0, 2y₀). The damping δ keeps steps
finite where curvature vanishes (a plateau).

The gradient is the one the optimizer is handed (so wrappers such as
``stale`` or ``noise`` act on it); the Hessian is always that of the current
point.

References:
  Dauphin, Pascanu, Gulcehre, Cho, Ganguli, Bengio, "Identifying and attacking
  the saddle point problem in high-dimensional non-convex optimization",
  NeurIPS 2014 (arXiv:1406.2572), §5 and Algorithm 1.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

import suite
from suite import Param
from suite.plugins.grids import learning_rate


class ScaleByNewtonState(NamedTuple):
    """Newton's method keeps no state between steps."""


def scale_by_newton(damping, *, saddle_free: bool, max_params: int) -> optax.GradientTransformationExtraArgs:
    """Preconditions the gradient by (|H| + δ)⁻¹ (saddle-free) or the sign-kept (H + δ sign H)⁻¹.

    Args:
      damping: δ ≥ 0, added to every eigenvalue's magnitude.
      saddle_free: use |λ| (Dauphin et al. 2014) instead of λ.
      max_params: the largest number of parameters accepted (the Hessian is dense).

    Returns:
      A transformation whose ``update`` needs the ``value_fn`` extra argument.
    """

    def init_fn(params):
        size = ravel_pytree(params)[0].size
        if size > max_params:
            raise ValueError(f"{'saddle_free_newton' if saddle_free else 'newton'} builds a dense "
                             f"Hessian: {size} parameters exceed max_params={max_params}")
        return ScaleByNewtonState()

    def update_fn(updates, state, params=None, *, value_fn=None, **extra_args):
        del extra_args
        if params is None or value_fn is None:
            raise ValueError("Newton's method needs params and the value_fn extra argument")
        flat, unravel = ravel_pytree(params)
        gradient = ravel_pytree(updates)[0]
        hessian = jax.hessian(lambda x: value_fn(unravel(x)))(flat)
        eigenvalues, vectors = jnp.linalg.eigh(0.5 * (hessian + hessian.T))
        if saddle_free:
            curvature = jnp.abs(eigenvalues) + damping
        else:
            curvature = eigenvalues + damping * jnp.where(eigenvalues < 0, -1.0, 1.0)
        step = vectors @ ((vectors.T @ gradient) / curvature)
        return unravel(step.astype(gradient.dtype)), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def newton(learning_rate, damping, max_params):
    """Newton's method, Δθ = −η H⁻¹∇f from the eigendecomposition: attracted to saddles."""
    return optax.chain(scale_by_newton(damping, saddle_free=False, max_params=max_params),
                       optax.scale_by_learning_rate(learning_rate))


def saddle_free_newton(learning_rate, damping, max_params):
    """Saddle-free Newton (Dauphin et al. 2014), Δθ = −η |H|⁻¹∇f: repelled by saddles."""
    return optax.chain(scale_by_newton(damping, saddle_free=True, max_params=max_params),
                       optax.scale_by_learning_rate(learning_rate))


PARAMS = (
    learning_rate(1.0),
    Param("damping", float, 1e-3, "δ added to each |eigenvalue|: bounds steps where curvature vanishes",
          low=0.0),
    Param("max_params", int, 1000, "largest landscape accepted (the Hessian is dense: O(n³) a step)", low=1),
)


@suite.hookimpl
def register_optimizers(register):
    # A full Newton step is η = 1; shorter ones trade speed for robustness far
    # from a minimum, where the quadratic model is poor.
    sweep = {"learning_rate": (0.01, 0.03, 0.1, 0.3, 1.0)}
    register("newton", newton, params=PARAMS, sweep=sweep)
    register("saddle_free_newton", saddle_free_newton, params=PARAMS, sweep=sweep)
