"""The Blum–Rivest 3-node network: NP-hard to train even when tiny.

Two hidden units on n inputs feed an AND unit. With threshold units, deciding
whether weights exist that fit a training set is NP-complete (Blum & Rivest
1992). This landscape is its smooth relaxation: hidden units
h_j = σ(w_j·x + b_j), output h_1·h_2 (a soft AND), square loss

  f(w, b) = ½ (1/m) Σ_i (h_1(x_i) h_2(x_i) − y_i)²,

on m inputs x_i uniform in {−1, +1}^n labelled by a planted network of the
same form whose weights are ``sharpness`` times N(0, I/n), so its units are
nearly thresholds and its labels nearly 0/1. The planted network fits its own
labels: f* = 0 at it (and at its copy with the two units swapped).
Saturated units give plateaus; the AND gives a point where both units are
off and no gradient says which one to turn on.

References:
  Blum, Rivest, "Training a 3-node neural network is NP-complete", Neural
  Networks 5(1), 1992.
  Judd, "On the complexity of loading shallow neural networks", J. Complexity
  4, 1988.
"""

import jax
import jax.numpy as jnp

import suite
from suite import Param
from suite.landscapes import _random

PARAMS = (
    Param("dim", int, 10, "number of Boolean inputs n", low=1),
    Param("samples", int, 64, "size m of the planted training set", low=1),
    Param("sharpness", float, 5.0, "scale of the planted weights: large is close to threshold units",
          low=0.0),
)


def network(weights, x: jax.Array) -> jax.Array:
    """h_1(x)·h_2(x) with h_j = σ(w_j·x + b_j); ``weights`` holds w [2, n] and b [2]."""
    hidden = jax.nn.sigmoid(x @ weights["w"].T + weights["b"])
    return hidden[..., 0] * hidden[..., 1]


def _loss(data, weights, key):
    """The loss at the point x = ``weights`` (w and b of the two hidden units)."""
    del key
    residual = network(weights, data["x"]) - data["y"]
    return 0.5 * jnp.mean(residual * residual)


def _init(data, key):
    dim = data["x"].shape[1]
    return {"w": _random.normal(key, (2, dim)) / jnp.sqrt(dim), "b": jnp.zeros((2,))}


def _canonical(data, weights):
    """The two hidden units in a canonical order, by bias: the AND is symmetric, so swapping them changes nothing."""
    del data
    order = jnp.where(weights["b"][0] > weights["b"][1], jnp.array([1, 0]), jnp.array([0, 1]))
    return {"w": weights["w"][order], "b": weights["b"][order]}


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Smooth Blum–Rivest 3-node network on a planted set (Blum & Rivest 1992); f* = 0."""
    key_x, key_w, key_b = jax.random.split(key, 3)
    dim, samples, sharpness = values["dim"], values["samples"], values["sharpness"]
    # p in float32: the bits drawn, and so the inputs, are the same in float32 and float64 runs.
    x = _random.floats(jnp.where(jax.random.bernoulli(key_x, jnp.float32(0.5), (samples, dim)), 1.0, -1.0))
    planted = {
        "w": sharpness * _random.normal(key_w, (2, dim)) / jnp.sqrt(dim),
        # Thresholds around 0 keep each unit on for about half the inputs.
        "b": sharpness * 0.5 * _random.normal(key_b, (2,)),
    }
    return suite.Landscape(
        data={"x": x, "y": network(planted, x)},
        init_fn=_init,
        loss_fn=_loss,
        f_opt=0.0,
        x_opt=planted,
        tags=("multimodal", "plateaus"),
        symmetry_fn=_canonical,  # the minima diagnostic counts a minimum and its unit-swapped copy once
    )


@suite.hookimpl
def register_landscapes(register):
    register("three_node", build, params=PARAMS, test_config={"dim": 4, "samples": 12})
