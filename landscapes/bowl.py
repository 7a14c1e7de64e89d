"""Convex quadratic bowl with a chosen condition number: the baseline with no difficulty.

f(x) = ½ (x − x*)ᵀ A (x − x*) + f*,  A = Qᵀ diag(λ) Q,

with eigenvalues λ from 1 to κ (log- or linearly spaced), Q a random rotation
(or the identity) and x* a random minimiser. Gradient descent at step 1/L
contracts the error by 1 − 1/κ per step, at 2/(L+μ) by (κ−1)/(κ+1); heavy ball
and Nesterov at their tuned parameters by (√κ−1)/(√κ+1) and 1 − 1/√κ.

References:
  Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
  Nesterov, "Introductory Lectures on Convex Optimization", 2004, §2.1.
  Lessard, Recht, Packard, "Analysis and design of optimization algorithms via
  integral quadratic constraints", arXiv:1408.3595, 2014.
"""

import jax
import jax.numpy as jnp

import suite
from suite import Param
from suite.landscapes import _random

PARAMS = (
    Param("dim", int, 10, "number of coordinates", low=1),
    Param("condition", float, 100.0, "condition number κ = L/μ of the Hessian", low=1.0),
    Param("rotate", bool, True, "rotate the eigenbasis by a random orthogonal Q"),
    Param("spectrum", str, "log", "spacing of the eigenvalues from 1 to κ", choices=("log", "linear")),
)

BOX = 5.0  # restarts start uniformly in [-BOX, BOX]^dim, as BBOB's domain


def eigenvalues(dim: int, condition: float, spectrum: str) -> jax.Array:
    """Hessian eigenvalues from μ = 1 to L = κ."""
    if dim == 1:
        return jnp.ones((1,))
    if spectrum == "log":
        return jnp.logspace(0.0, jnp.log10(condition), dim)
    return jnp.linspace(1.0, condition, dim)


def _init(data, key):
    return _random.uniform(key, data["x_opt"].shape, -BOX, BOX)


def _loss(data, x, key):
    del key
    z = x - data["x_opt"]
    if "rotation" in data:
        z = data["rotation"] @ z
    return 0.5 * jnp.sum(data["eigenvalues"] * z * z)


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Quadratic bowl ½(x − x*)ᵀA(x − x*) with condition number κ (Polyak 1964; Nesterov 2004)."""
    key_rotation, key_opt = jax.random.split(key)
    dim = values["dim"]
    data = {
        "eigenvalues": eigenvalues(dim, values["condition"], values["spectrum"]),
        "x_opt": _random.uniform(key_opt, (dim,), -1.0, 1.0),
    }
    if values["rotate"] and dim > 1:
        data["rotation"] = _random.orthogonal(key_rotation, dim)
    return suite.Landscape(
        data=data,
        init_fn=_init,
        loss_fn=_loss,
        f_opt=0.0,
        x_opt=data["x_opt"],
        tags=("convex",),
    )


@suite.hookimpl
def register_landscapes(register):
    register("bowl", build, params=PARAMS, test_config={"dim": 3, "condition": 10.0})
