"""Deep linear network, teacher–student: plateaus and saddles that come from depth alone.

f(W_1, …, W_L) = ½ ‖Y − W_L ⋯ W_1 X‖²_F / n,  Y = T X,

with square layers of size ``width``, whitened inputs (X Xᵀ/n = I, so the loss
is ½‖T − W_L⋯W_1‖²_F) and a teacher T = U diag(s) Vᵀ whose singular values run
linearly from ``strength`` down to ``strength``/width. The problem is
realisable: f* = 0. Every local minimum is global and every other critical
point is a saddle; with depth > 2 some saddles have no negative eigenvalue
(Kawaguchi 2016). From a small start each mode k of the product follows
τ du/dt = L u^{2−2/L}(s_k − u) (τ = 1/learning rate): a plateau whose length
grows with depth, then a sudden drop (Saxe et al. 2014).

Starts (``init``):
  small: W_i ~ N(0, scale²/width) independently.
  orthogonal: each W_i a random orthogonal matrix, so the product is orthogonal
    (singular values 1) and the plateau stays short; ``scale`` is not used.
  balanced: W_i = scale^{1/L} × orthogonal, the product scale·U Vᵀ aligned with
    the teacher (Saxe et al.'s decoupled start; W_{i+1}ᵀW_{i+1} = W_i W_iᵀ): every
    mode follows the scalar chain above exactly, at any width.

References:
  Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of
  learning in deep linear neural networks", arXiv:1312.6120, 2014.
  Kawaguchi, "Deep learning without poor local minima", arXiv:1605.07110, 2016.
  Arora, Cohen, Hazan, "On the optimization of deep networks: implicit
  acceleration by overparameterization", arXiv:1802.06509, 2018 (balanced starts).
"""

import dataclasses

import jax
import jax.numpy as jnp

import suite
from suite import Param
from suite.landscapes import _random

PARAMS = (
    Param("depth", int, 4, "number of weight layers L", low=1),
    Param("width", int, 8, "input, hidden and output size", low=1),
    Param("samples", int, 64, "number of whitened training inputs n (at least width)", low=1),
    Param("init", str, "small", "starting weights", choices=("small", "orthogonal", "balanced")),
    Param("scale", float, 0.01, "init scale: per-layer std × √width (small), product's singular values (balanced)",
          low=0.0),
    Param("strength", float, 3.0, "largest singular value of the teacher T", low=0.0),
)


def whitened_inputs(key: jax.Array, width: int, samples: int) -> jax.Array:
    """X of shape [width, samples] with X Xᵀ / samples = I."""
    if samples < width:
        raise ValueError(f"deep_linear needs samples >= width to whiten its inputs; "
                         f"got samples={samples}, width={width}")
    return jnp.sqrt(samples) * _random.orthogonal(key, samples)[:width]


def product(layers) -> jax.Array:
    """W_L ⋯ W_1 (``layers`` input layer first)."""
    out = layers[0]
    for w in layers[1:]:
        out = w @ out
    return out


def _loss(data, layers, key):
    """The loss at the point x = ``layers``, the weights W_1, …, W_L (input layer first)."""
    del key
    residual = data["y"] - product(layers) @ data["x"]
    return 0.5 * jnp.sum(residual * residual) / data["x"].shape[1]


def balanced_layers(scale: jax.Array, u: jax.Array, v: jax.Array, key: jax.Array, depth: int) -> list:
    """Layers c·G_i G_{i−1}ᵀ (c = scale^{1/L}, G_0 = V, G_L = U, G_i random orthogonal).

    Each layer is c times an orthogonal matrix, so W_{i+1}ᵀW_{i+1} = W_i W_iᵀ = c² I
    (balanced), and the product is scale · U Vᵀ: aligned with the teacher.
    """
    width = u.shape[0]
    frames = [v, *(_random.orthogonal(k, width) for k in jax.random.split(key, depth - 1)), u]
    c = scale ** (1.0 / depth)
    return [c * frames[i + 1] @ frames[i].T for i in range(depth)]


@dataclasses.dataclass(frozen=True)
class _Init:
    kind: str  # static: each kind is different code
    depth: int

    def __call__(self, data, key):
        width = data["x"].shape[0]
        if self.kind == "balanced":
            return balanced_layers(data["scale"], data["u"], data["v"], key, self.depth)
        keys = jax.random.split(key, self.depth)
        if self.kind == "small":
            std = data["scale"] / jnp.sqrt(width)
            return [std * _random.normal(k, (width, width)) for k in keys]
        return [_random.orthogonal(k, width) for k in keys]  # "orthogonal"


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Deep linear teacher–student network (Saxe, McClelland, Ganguli 2014); f* = 0."""
    key_x, key_u, key_v = jax.random.split(key, 3)
    depth, width = values["depth"], values["width"]
    x = whitened_inputs(key_x, width, values["samples"])
    u, v = _random.orthogonal(key_u, width), _random.orthogonal(key_v, width)
    singular = jnp.linspace(values["strength"], values["strength"] / width, width)
    teacher = (u * singular) @ v.T
    data = {"x": x, "y": teacher @ x, "u": u, "v": v,
            "scale": _random.floats(values["scale"])}
    # A minimiser: the balanced factorisation of the teacher, W_1 = S^{1/L}Vᵀ, ..., W_L = U S^{1/L}.
    root = singular ** (1.0 / depth)
    x_opt = [jnp.diag(root) for _ in range(depth)]
    x_opt[0] = x_opt[0] @ v.T
    x_opt[-1] = u @ x_opt[-1]
    return suite.Landscape(
        data=data,
        init_fn=_Init(values["init"], depth),
        loss_fn=_loss,
        f_opt=0.0,
        x_opt=x_opt,
        tags=("saddles", "plateaus"),
        layered=True,
    )


@suite.hookimpl
def register_landscapes(register):
    register("deep_linear", build, params=PARAMS,
             test_config={"depth": 3, "width": 3, "samples": 6})
