"""Stale gradients of asynchronous training, as wrappers around any optimizer.

``stale:tau=τ`` simulates a parameter server with delay τ: the update
applied at step k is computed from the gradient evaluated at the parameters
of step k − τ, θ_{k+1} = θ_k + U(∇f(θ_{k−τ})), where U is the wrapped
optimizer (its state advances once per step, as on the server). Before τ
steps have passed, the oldest gradient there is, ∇f(θ_0), is used: every
worker starts from θ_0. τ = 0 is synchronous training, exactly: the wrapper
returns the optimizer itself.

``round_robin:workers=M`` is the schedule of M workers that push in turn:
worker k mod M pushes at step k the gradient it computed at the parameters
it pulled after its previous push, θ_{k−M+1}. That is ``stale`` with
τ = M − 1, and the M first steps all use ∇f(θ_0), as above.

What is delayed is the gradient the optimizer is handed (``updates``). The
``value``, ``grad`` and ``value_fn`` extra arguments still describe the
current point, so a line search (L-BFGS) or a Hessian (Newton) evaluates the
parameters the server holds. Wrappers chained outside ``stale`` act after the
delay: in ``adam+penalty+stale`` the landscape's gradient is delayed, then the
penalty of the current point is added.

τ shapes the state (τ past gradients per restart), so it is a static
integer: each τ compiles its own program.

References:
  Dean et al., "Large scale distributed deep networks" (Downpour SGD), NIPS 2012.
  Lian, Huang, Li, Liu, "Asynchronous parallel stochastic gradient for
  nonconvex optimization", NIPS 2015 (the bounded-delay model used here).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import suite
from suite import Param


class DelayGradientsState(NamedTuple):
    """State of :func:`delay_gradients`."""

    count: jax.Array  # int32: steps taken
    history: optax.Updates  # each leaf [τ, ...]: the last τ gradients, in a ring


def delay_gradients(tau: int) -> optax.GradientTransformation:
    """Returns, at step k, the gradient received at step max(k − τ, 0)."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0; given {tau}")

    def init_fn(params):
        history = jax.tree.map(lambda p: jnp.zeros((tau, *jnp.shape(p)), jnp.result_type(p)), params)
        return DelayGradientsState(count=jnp.zeros([], jnp.int32), history=history)

    def update_fn(updates, state, params=None):
        del params
        k = state.count
        # Slot k mod τ holds the gradient of step k − τ once k ≥ τ; before
        # that, slot 0 holds g_0 (written at step 0) and step 0 uses its own.
        slot = k % tau
        read = jnp.where(k < tau, 0, slot)
        delayed = jax.tree.map(lambda h, g: jnp.where(k == 0, g, h[read]), state.history, updates)
        history = jax.tree.map(lambda h, g: h.at[slot].set(g), state.history, updates)
        return delayed, DelayGradientsState(count=k + 1, history=history)

    return optax.GradientTransformation(init_fn, update_fn)


def stale(inner, tau):
    """Stale gradients (Dean et al. 2012): the update at step k uses the gradient from step k − τ."""
    if tau == 0:
        return inner  # synchronous: bit for bit the optimizer alone
    return optax.chain(delay_gradients(tau), inner)


def round_robin(inner, workers):
    """M asynchronous workers pushing in turn (Dean et al. 2012): stale gradients with τ = M − 1."""
    return stale(inner, workers - 1)


@suite.hookimpl
def register_wrappers(register):
    register("stale", stale, params=[
        Param("tau", int, 1, "delay in steps between reading the parameters and applying their gradient",
              low=0),
    ], test_config={"tau": 2})
    register("round_robin", round_robin, params=[
        Param("workers", int, 4, "workers pushing gradients in turn (delay workers − 1)", low=1),
    ], test_config={"workers": 3})
