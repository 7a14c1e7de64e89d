"""Annealed Gaussian gradient noise, as a wrapper around any optimizer.

At step t (counted from 0 by this wrapper) the optimizer receives
g_t + ε_t with ε_t ~ N(0, σ_t² I) and σ_t² = η / (1 + t)^γ: strong noise
early, to escape poor regions, annealed away so the optimizer can settle.
The paper tries η ∈ {0.01, 0.3, 1.0} with γ = 0.55.

The noise is drawn from the ``key`` extra argument: the runner passes each
restart its own key for each step, derived from the run seed. Nothing is
captured when the optimizer is built. (optax's ``add_noise`` takes its key
when built, so every vmapped restart would draw the same noise.)

References:
  Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach, Martens, "Adding
  gradient noise improves learning for very deep networks", arXiv:1511.06807,
  2015, §2 (equation 1 and the schedule).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import suite
from suite import Param


class AddAnnealedNoiseState(NamedTuple):
    """State of :func:`add_annealed_noise`."""

    count: jax.Array  # int32: steps taken, t in the schedule


def add_annealed_noise(eta, gamma) -> optax.GradientTransformationExtraArgs:
    """Adds N(0, η/(1+t)^γ) noise to every coordinate, from the ``key`` extra argument of each step."""

    def init_fn(params):
        del params
        return AddAnnealedNoiseState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, *, key=None, **extra_args):
        del params, extra_args
        if key is None:
            raise ValueError("noise needs a random key per step: call update(..., key=...); "
                             "suite's runner passes one per restart and step")
        std = jnp.sqrt(eta / (1.0 + state.count) ** gamma)
        leaves, treedef = jax.tree.flatten(updates)
        keys = jax.random.split(key, len(leaves))
        noisy = [g + (std * jax.random.normal(k, jnp.shape(g))).astype(g.dtype)
                 for g, k in zip(leaves, keys, strict=True)]
        return jax.tree.unflatten(treedef, noisy), AddAnnealedNoiseState(count=state.count + 1)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def noise(inner, eta, gamma):
    """Annealed Gaussian gradient noise (Neelakantan et al. 2015): σ_t² = η/(1+t)^γ, added before the optimizer."""
    return optax.chain(add_annealed_noise(eta, gamma), inner)


@suite.hookimpl
def register_wrappers(register):
    register("noise", noise, params=[
        Param("eta", float, 0.01, "noise variance at step 0 (the paper tries 0.01, 0.3, 1)", low=0.0),
        Param("gamma", float, 0.55, "decay exponent of the variance schedule", low=0.0),
    ])
