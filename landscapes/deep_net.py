"""Deep sigmoid, tanh or ReLU network, teacher–student: vanishing and exploding gradients.

f(θ) = ½ (1/n) Σ_i (g_θ(x_i) − y_i)²,  y_i = g_θ*(x_i),

where g_θ has ``depth`` weight layers: depth − 1 hidden layers of ``width``
units with activation φ, then a linear output unit; inputs x_i ~ N(0, I_width).
Weights start as W ~ N(0, gain²/n_in) and biases as N(0, bias_scale²). The
teacher θ* is drawn the same way and its output layer rescaled so the targets
have mean 0 and variance 1 (an affine map of a linear layer, so the teacher
stays a network of the family): the problem is realisable, f* = 0 at θ*, and
the starting loss is about 1 whatever the depth or gain.

Each backward pass through a layer multiplies the gradient by Wᵀ diag(φ'(z));
for the sigmoid φ' ≤ 1/4, so at gain 1 gradients shrink geometrically toward
the input (Nielsen's "speed of learning" per layer); large gains make them
explode. ``Landscape.layer_gradient_norms`` gives ‖∂f/∂θ_l‖ per layer.
With ``batch`` > 0 the optimizer sees mini-batch gradients; the runner still
records the exact loss.

References:
  Nielsen, "Neural Networks and Deep Learning", 2015, ch. 5 ("Why are deep
  neural networks hard to train?").
  Glorot, Bengio, "Understanding the difficulty of training deep feedforward
  neural networks", AISTATS 2010.
  Hochreiter, "Untersuchungen zu dynamischen neuronalen Netzen", 1991 (the
  vanishing gradient).
"""

import dataclasses

import jax
import jax.numpy as jnp

import suite
from suite import Param
from suite.landscapes import _random
from suite.minibatch import is_stochastic, take

ACTIVATIONS = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}

PARAMS = (
    Param("depth", int, 6, "number of weight layers (depth − 1 hidden layers, then a linear output)", low=1),
    Param("width", int, 32, "input size and units per hidden layer", low=1),
    Param("activation", str, "sigmoid", "hidden-unit nonlinearity", choices=tuple(ACTIVATIONS)),
    Param("gain", float, 1.0, "init gain g: W ~ N(0, g²/n_in), for student and teacher", low=0.0),
    Param("bias_scale", float, 0.0, "std of the initial biases, for student and teacher", low=0.0),
    Param("samples", int, 256, "number of training samples", low=1),
    # Unkeyed: every batch size sees the same data, teacher and starts (a paired comparison).
    Param("batch", int, 0, "samples per mini-batch gradient; 0 or ≥ samples: full batch", low=0, keyed=False),
)


def forward(layers, x: jax.Array, activation: str) -> jax.Array:
    """Network output for inputs ``x`` [n, width]; ``layers`` input first, dicts of w and b."""
    phi = ACTIVATIONS[activation]
    h = x
    for layer in layers[:-1]:
        h = phi(h @ layer["w"] + layer["b"])
    return (h @ layers[-1]["w"] + layers[-1]["b"])[..., 0]


def random_layers(key: jax.Array, depth: int, width: int, gain, bias_scale) -> list:
    """W ~ N(0, gain²/n_in), b ~ N(0, bias_scale²); the last layer has one output."""
    layers = []
    for i, k in enumerate(jax.random.split(key, depth)):
        k_w, k_b = jax.random.split(k)
        n_out = 1 if i == depth - 1 else width
        layers.append({
            "w": gain / jnp.sqrt(width) * _random.normal(k_w, (width, n_out)),
            "b": bias_scale * _random.normal(k_b, (n_out,)),
        })
    return layers


# Loss and init are frozen dataclasses, not bound methods: they compare by
# value, so instances with the same architecture share one compiled program.
@dataclasses.dataclass(frozen=True)
class _Loss:
    activation: str
    batch: int

    def __call__(self, data, layers, key):
        """The loss at the point x = ``layers`` (θ: w and b per layer, input first)."""
        x, y = take(key, self.batch, data["x"], data["y"])
        residual = forward(layers, x, self.activation) - y
        return 0.5 * jnp.mean(residual * residual)


@dataclasses.dataclass(frozen=True)
class _Init:
    depth: int

    def __call__(self, data, key):
        return random_layers(key, self.depth, data["x"].shape[1], data["gain"], data["bias_scale"])


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Teacher–student deep network (Nielsen 2015, ch. 5; Glorot & Bengio 2010); f* = 0."""
    key_x, key_teacher = jax.random.split(key)
    depth, width, samples = values["depth"], values["width"], values["samples"]
    x = _random.normal(key_x, (samples, width))
    teacher = random_layers(key_teacher, depth, width, values["gain"], values["bias_scale"])
    raw = forward(teacher, x, values["activation"])
    # Standardise the targets through the (linear) output layer: still a teacher of the family.
    mean, std = jnp.mean(raw), jnp.maximum(jnp.std(raw), 1e-12)
    teacher[-1] = {"w": teacher[-1]["w"] / std, "b": (teacher[-1]["b"] - mean) / std}
    stochastic = is_stochastic(values["batch"], samples)
    data = {"x": x, "y": forward(teacher, x, values["activation"]),
            "gain": _random.floats(values["gain"]),
            "bias_scale": _random.floats(values["bias_scale"])}
    tags = ("vanishing-gradients", "plateaus") + (("stochastic",) if stochastic else ())
    loss = _Loss(values["activation"], values["batch"] if stochastic else 0)
    return suite.Landscape(data=data, init_fn=_Init(depth), loss_fn=loss, f_opt=0.0, x_opt=teacher,
                           tags=tags, stochastic=stochastic, layered=True)


@suite.hookimpl
def register_landscapes(register):
    register("deep_net", build, params=PARAMS,
             test_config={"depth": 3, "width": 4, "samples": 16, "batch": 8})
