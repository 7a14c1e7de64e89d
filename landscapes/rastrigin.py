"""Rastrigin's function, plain and as BBOB f15: a bowl under a sinusoid, 11^d local minima.

``rastrigin``: f(x) = 10 d + Σ_i [x_i² − 10 cos(2π x_i)], x ∈ [−5.12, 5.12]^d,
f* = 0 at x = 0. Separable: per coordinate the local minima sit near
±0.99496 k (k = 0..5) with values 0.99496 k², so the second-best value is
0.99496 and random restarts are the oldest remedy.

``rastrigin_rotated``: BBOB f15, the same function made non-separable,
ill-conditioned (conditioning 10 across coordinates) and irregular,

  f15(x) = 10 (D − Σ cos 2π z_i) + ‖z‖² + f_opt,
  z = R Λ^10 Q T_asy^0.2(T_osz(R(x − x_opt))),

with R, Q random rotations, Λ^α = diag(α^{½(i−1)/(D−1)}), x_opt ~ U[−4, 4]^D,
starts uniform on [−5, 5]^D and f_opt = 0 (BBOB draws it; the suite fixes it).

References:
  Rastrigin, "Systems of extremal control", 1974.
  Mühlenbein, Schomisch, Born, "The parallel genetic algorithm as function
  optimizer", Parallel Computing 17, 1991.
  Hansen, Finck, Ros, Auger, "Real-parameter black-box optimization
  benchmarking 2009: noiseless functions definitions", INRIA RR-6829, 2009,
  §0.3 (T_osz, T_asy, Λ^α) and f15.
"""

import jax
import jax.numpy as jnp

import suite
from suite import Param, trig
from suite.landscapes import _random

PARAMS = (Param("dim", int, 10, "number of coordinates", low=1),)

BOX = 5.12  # the classic search domain [-5.12, 5.12]^d
BBOB_BOX = 5.0  # BBOB's domain [-5, 5]^D
BBOB_OPT_BOX = 4.0  # BBOB draws x_opt uniformly in [-4, 4]^D


@jax.custom_jvp
def rastrigin(x: jax.Array) -> jax.Array:
    """Rastrigin's function (Rastrigin 1974; Mühlenbein et al. 1991).

    Written as Σ [x² + 20 sin²(π x)], which equals 10d + Σ [x² − 10 cos(2πx)]
    (1 − cos 2θ = 2 sin² θ) but does not lose float32 precision near the
    optimum to the cancellation 10d − 10 Σ cos: with the textbook form the
    loss cannot get below ~1e-5 at d = 10 in float32. sin(πx) is ``trig.sinpi``:
    its reduction is exact, so it is 0 at every integer (f(0) = 0 bit for bit),
    within 1.5 ulp elsewhere (jnp.sin(π·x) first rounds π·x), and vectorised on
    XLA:CPU (several times faster than the C library's scalar sinf).
    """
    return jnp.sum(x * x + 20.0 * trig.sinpi(x) ** 2)


@rastrigin.defjvp
def _rastrigin_jvp(primals, tangents):
    """∇f = 2x + 20π sin(2πx), in closed form (2 sin θ cos θ = sin 2θ).

    One rounded sine instead of the product of two, and no value shared with
    the loss: left to autodiff, XLA keeps sin(πx) in memory for both the loss
    and the gradient, an array written and read twice more each step (the
    step is memory-bound on a CPU). Higher derivatives differentiate this rule.
    """
    (x,), (dx,) = primals, tangents
    grad = 2.0 * x + 20.0 * jnp.pi * trig.sinpi(2.0 * x)
    return rastrigin(x), jnp.sum(grad * dx)


def t_osz(x: jax.Array) -> jax.Array:
    """BBOB's oscillation T_osz (Hansen et al. 2009, §0.3): smooth local irregularities.

    T_osz(x_i) = sign(x_i) exp(x̂ + 0.049 (sin c₁x̂ + sin c₂x̂)), x̂ = ln|x_i|,
    (c₁, c₂) = (10, 7.9) for x_i > 0 and (5.5, 3.1) for x_i < 0; T_osz(0) = 0.
    The sines are ``trig.sin``: |c x̂| ≤ 10·103.3 for every float32, inside its domain.
    """
    zero = x == 0
    # The `where` before the log keeps the gradient at 0 finite (0, not NaN).
    xhat = jnp.log(jnp.abs(jnp.where(zero, 1.0, x)))
    c1 = jnp.where(x > 0, 10.0, 5.5)
    c2 = jnp.where(x > 0, 7.9, 3.1)
    out = jnp.sign(x) * jnp.exp(xhat + 0.049 * (trig.sin(c1 * xhat) + trig.sin(c2 * xhat)))
    return jnp.where(zero, 0.0, out)


def t_asy(x: jax.Array, beta: float) -> jax.Array:
    """BBOB's asymmetry T_asy^β (Hansen et al. 2009, §0.3), over the last axis.

    T_asy^β(x_i) = x_i^{1 + β (i−1)/(D−1) √x_i} for x_i > 0, else x_i.
    """
    dim = x.shape[-1]
    frac = jnp.arange(dim) / max(dim - 1, 1)
    positive = x > 0
    safe = jnp.where(positive, x, 1.0)
    return jnp.where(positive, safe ** (1.0 + beta * frac * jnp.sqrt(safe)), x)


def conditioning(dim: int, alpha: float) -> jax.Array:
    """Diagonal of Λ^α: α^{½(i−1)/(D−1)}, i = 1..D (Hansen et al. 2009, §0.3)."""
    return alpha ** (0.5 * jnp.arange(dim) / max(dim - 1, 1))


def f15(x: jax.Array, x_opt: jax.Array, r: jax.Array, q: jax.Array) -> jax.Array:
    """Rastrigin function, rotated: BBOB f15 (Hansen et al. 2009) with f_opt = 0."""
    z = r @ (conditioning(x.shape[-1], 10.0) * (q @ t_asy(t_osz(r @ (x - x_opt)), 0.2)))
    return rastrigin(z)


def _init(data, key):
    return _random.uniform(key, data["x_opt"].shape, -BOX, BOX)


def _init_bbob(data, key):
    return _random.uniform(key, data["x_opt"].shape, -BBOB_BOX, BBOB_BOX)


def _loss_f15(data, x, key):
    del key
    return f15(x, data["x_opt"], data["r"], data["q"])


def _loss(data, x, key):
    del data, key
    return rastrigin(x)


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Rastrigin's function in dim coordinates (Rastrigin 1974; Mühlenbein et al. 1991)."""
    del key  # the plain function has no random parts
    x_opt = jnp.zeros((values["dim"],))
    return suite.Landscape(
        data={"x_opt": x_opt},
        init_fn=_init,
        loss_fn=_loss,
        f_opt=0.0,
        x_opt=x_opt,
        tags=("multimodal",),
    )


def build_rotated(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Rastrigin rotated and ill-conditioned, BBOB f15 (Hansen et al., INRIA RR-6829, 2009)."""
    key_r, key_q, key_opt = jax.random.split(key, 3)
    dim = values["dim"]
    data = {
        "x_opt": _random.uniform(key_opt, (dim,), -BBOB_OPT_BOX, BBOB_OPT_BOX),
        "r": _random.orthogonal(key_r, dim),
        "q": _random.orthogonal(key_q, dim),
    }
    return suite.Landscape(
        data=data,
        init_fn=_init_bbob,
        loss_fn=_loss_f15,
        f_opt=0.0,
        x_opt=data["x_opt"],
        tags=("multimodal",),
    )


@suite.hookimpl
def register_landscapes(register):
    register("rastrigin", build, params=PARAMS, test_config={"dim": 2})
    register("rastrigin_rotated", build_rotated, params=PARAMS, test_config={"dim": 3})
