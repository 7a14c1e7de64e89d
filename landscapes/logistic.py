"""A single sigmoid neuron with cross-entropy: logistic regression, the convex easy case.

f(w, b) = (1/n) Σ_i [log(1 + e^{z_i}) − y_i z_i],  z_i = w·x_i + b,

on n samples x_i ~ N(0, I_d) labelled by a planted unit w*: y = 1[w*·x > 0]
(linearly separable: the infimum 0 is approached as |w| → ∞ and never
attained) or y ~ Bernoulli(σ(w*·x)) (not separable: a unique minimiser,
found by Newton's method when the instance is built). With ``batch`` > 0 the
optimizer sees mini-batch gradients; the runner still records the exact loss.

Precision. Each sample's loss is written (1 − y) softplus(z) + y softplus(−z),
equal to log(1 + e^z) − y z but a sum of non-negative terms: no cancellation,
so on separable data the loss is accurate all the way down to its infimum 0.
On non-separable data f* is not a closed form: it is the value at the
minimiser that damped Newton finds in float64 numpy when the instance is built
(accurate to ~1e-15 whatever precision the run uses). The reported loss is the
cross-entropy itself, not measured from f*: near the minimum it is a mean of n
terms whose sum is f* ≈ 0.1–0.5, so its rounding error is a few ulps of f*
(≈ 1e-7 in float32, ≈ 1e-16 in float64), and a float32 run cannot resolve
f − f* below that; run in float64 to resolve a target like 1e-8.

References:
  Cox, "The regression analysis of binary sequences", J. R. Stat. Soc. B 20, 1958.
  Bishop, "Pattern Recognition and Machine Learning", 2006, §4.3.2 (weights
  grow without bound on separable data) and §4.3.3 (Newton's method, IRLS).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import suite
from suite import Param
from suite.landscapes import _random
from suite.minibatch import is_stochastic, take

PARAMS = (
    Param("dim", int, 10, "input dimension d", low=1),
    Param("samples", int, 256, "number of training samples n", low=1),
    Param("separable", bool, False, "labels from a hard threshold (separable) or Bernoulli(σ(w*·x))"),
    # Unkeyed: every batch size sees the same data, teacher and starts (a paired comparison).
    Param("batch", int, 0, "samples per mini-batch gradient; 0 or ≥ samples: full batch", low=0, keyed=False),
)

# A loss this small means the data are separable (the infimum 0 is not attained).
SEPARABLE_LOSS = 1e-9
TEACHER_NORM = 3.0  # |w*|: labels are mostly, not always, predictable (about 10% noise)


def cross_entropy(w: jax.Array, b: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean logistic loss log(1 + e^z) − y z, as (1 − y) softplus(z) + y softplus(−z).

    The two forms are equal for every y (softplus(−z) = softplus(z) − z); for
    labels in [0, 1] the second is a sum of non-negative terms, so a confident
    correct prediction (y = 1, z = 20: loss 2e-9) is not rounded to 0 by z − z.
    """
    z = x @ w + b
    return jnp.mean((1.0 - y) * jax.nn.softplus(z) + y * jax.nn.softplus(-z))


@dataclasses.dataclass(frozen=True)
class _Loss:
    batch: int  # static: it shapes the program

    def __call__(self, data, weights, key):
        """The loss at the point x = ``weights``, the dict of w and b."""
        x, y = take(key, self.batch, data["x"], data["y"])
        return cross_entropy(weights["w"], weights["b"], x, y)


def _init(data, key):
    dim = data["x"].shape[1]
    return {"w": _random.normal(key, (dim,)), "b": jnp.zeros(())}


def newton_minimum(x: np.ndarray, y: np.ndarray, iterations: int = 100):
    """Minimiser and minimum of the logistic loss by damped Newton in float64.

    Far from the optimum each step backtracks until the loss does not rise;
    once the Newton decrement gᵀH⁻¹g (twice the predicted decrease) is below
    1e-8 the iterate is in the region of quadratic convergence, where Newton
    steps are taken whole: there the loss changes by less than its own
    rounding, so comparing losses would reject good steps and stall. It stops
    when the decrement is below 1e-24 (f within 1e-24 of f*) or the gradient
    below 1e-12.

    Returns ``(theta, value)`` with theta = (w, b), or ``None`` when Newton
    does not converge: the data are separable and the loss keeps decreasing
    towards its infimum 0 as |theta| grows.
    """
    a = np.hstack([x, np.ones((x.shape[0], 1))])
    theta = np.zeros(a.shape[1])

    def value(t):
        z = a @ t
        return float(np.mean((1 - y) * np.logaddexp(0.0, z) + y * np.logaddexp(0.0, -z)))

    for _ in range(iterations):
        z = a @ theta
        p = 1.0 / (1.0 + np.exp(-z))
        grad = a.T @ (p - y) / len(y)
        if np.linalg.norm(grad) < 1e-12:
            return theta, value(theta)
        hess = (a * (p * (1 - p))[:, None]).T @ a / len(y)
        step = np.linalg.lstsq(hess + 1e-12 * np.eye(len(theta)), grad, rcond=None)[0]
        decrement = float(grad @ step)
        if 0 <= decrement < 1e-24:
            return theta, value(theta)
        scale = 1.0
        if not 0 <= decrement < 1e-8:
            current = value(theta)
            while value(theta - scale * step) > current and scale > 1e-8:
                scale /= 2  # backtracking keeps Newton monotone far from the optimum
        theta = theta - scale * step
    return None


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Logistic regression on planted data (Cox 1958); convex, f* exact."""
    key_x, key_w, key_y = jax.random.split(key, 3)
    dim, samples, batch = values["dim"], values["samples"], values["batch"]
    x = _random.normal(key_x, (samples, dim))
    w_star = _random.normal(key_w, (dim,))
    teacher = TEACHER_NORM * w_star / jnp.linalg.norm(w_star)
    z = x @ teacher
    if values["separable"]:
        y = _random.floats(z > 0)
    else:
        # Drawn against float32 probabilities: the same labels in float32 and float64 runs.
        y = _random.floats(jax.random.bernoulli(key_y, jax.nn.sigmoid(z).astype(jnp.float32)))
    data = {"x": x, "y": y, "teacher": teacher}
    solved = None
    if not values["separable"]:
        solved = newton_minimum(np.asarray(x, np.float64), np.asarray(y, np.float64))
    if solved is None or solved[1] < SEPARABLE_LOSS:  # separable, by design or by chance
        f_opt, x_opt = 0.0, None
    else:
        theta, f_opt = solved
        x_opt = {"w": _random.floats(theta[:-1]), "b": _random.floats(theta[-1])}
    stochastic = is_stochastic(batch, samples)
    return suite.Landscape(
        data=data,
        init_fn=_init,
        loss_fn=_Loss(batch if stochastic else 0),
        f_opt=f_opt,
        x_opt=x_opt,
        tags=("convex", "stochastic") if stochastic else ("convex",),
        stochastic=stochastic,
    )


@suite.hookimpl
def register_landscapes(register):
    register("logistic", build, params=PARAMS, test_config={"dim": 3, "samples": 64, "batch": 16})
