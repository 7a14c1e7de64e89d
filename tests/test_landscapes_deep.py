"""Deep linear and deep nonlinear teacher–student nets, the 3-node network and the saddle."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from suite.landscapes import deep_linear, saddle, three_node


def chain_time(depth, s=3.0, u0=1e-3, uf=0.99 * 3.0, eta=1e-3):
    """Saxe et al.'s learning time t = (τ/L) ∫ du / (u^{2−2/L}(s − u)), τ = 1/η, by quadrature."""
    v = np.linspace(math.log(u0), math.log(uf), 200001)  # u = e^v resolves the small-u end
    u = np.exp(v)
    integrand = u / (u ** (2 - 2 / depth) * (s - u))
    return (1 / eta) / depth * float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(v)))


def gradient_descent(landscape, params, learning_rate, steps, observe):
    tx = optax.sgd(learning_rate)

    def step(carry, _):
        p, state = carry
        updates, state = tx.update(jax.grad(landscape.loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), observe(p)

    return jax.lax.scan(step, (params, tx.init(params)), None, length=steps)[1]


@pytest.mark.parametrize("depth, reference", [(2, 2100), (3, 3512), (5, 7176), (10, 10564)])
def test_deep_linear_scalar_chain_learning_times(registry, depth, reference):
    assert abs(chain_time(depth) - reference) <= 1  # the quadrature reproduces REFERENCES.md
    if depth == 2:  # and the closed form
        closed = (1e3 / 6) * math.log(2.97 * (3 - 1e-3) / (1e-3 * (3 - 2.97)))
        assert abs(chain_time(2) - closed) < 0.5
    landscape = registry.landscapes["deep_linear"].build(
        dict(depth=depth, width=1, samples=1, init="balanced", scale=1e-3, strength=3.0),
        key=jax.random.key(0))
    teacher = float(landscape.data["y"][0, 0] / landscape.data["x"][0, 0])
    start = landscape.init(jax.random.key(1))
    assert float(deep_linear.product(start)[0, 0]) / teacher == pytest.approx(1e-3 / 3.0, rel=1e-4)
    ratios = gradient_descent(landscape, start, 1e-3, 12000,
                              lambda p: deep_linear.product(p)[0, 0] / teacher)
    steps = int(np.argmax(np.asarray(ratios) >= 0.99)) + 1
    assert abs(steps / reference - 1) < 0.01, steps


def test_deep_linear_balanced_start_decouples_modes_at_any_width(registry):
    # Teacher singular values 3, 2, 1: each mode follows its own scalar chain.
    landscape = registry.landscapes["deep_linear"].build(
        dict(depth=3, width=3, samples=8, init="balanced", scale=1e-3, strength=3.0), key=jax.random.key(2))
    u, v = landscape.data["u"], landscape.data["v"]
    modes = gradient_descent(landscape, landscape.init(jax.random.key(3)), 1e-3, 11500,
                             lambda p: jnp.diag(u.T @ deep_linear.product(p) @ v))
    modes = np.asarray(modes)
    for k, s in enumerate((3.0, 2.0, 1.0)):
        assert modes[-1, k] >= 0.99 * s, f"mode {s} not learned in time"
        steps = int(np.argmax(modes[:, k] >= 0.99 * s)) + 1
        expected = chain_time(3, s=s, uf=0.99 * s)
        assert abs(steps / expected - 1) < 0.01, (s, steps, expected)


def test_deep_linear_small_init_plateau_grows_with_depth_and_orthogonal_init_avoids_it(registry):
    spec = registry.landscapes["deep_linear"]

    def time_to_half(depth, init):
        landscape = spec.build(dict(spec.defaults, depth=depth, width=4, samples=8, init=init,
                                    scale=0.05), key=jax.random.key(0))
        start = landscape.init(jax.random.key(1))
        half = 0.5 * float(landscape.loss(start))
        losses = np.asarray(gradient_descent(landscape, start, 0.02, 6000, landscape.loss))
        return int(np.argmax(losses <= half)) if (losses <= half).any() else 6000

    shallow, deep = time_to_half(2, "small"), time_to_half(5, "small")
    assert deep > 3 * shallow
    assert time_to_half(5, "orthogonal") < deep / 3


def test_deep_linear_rejects_too_few_samples_to_whiten(registry):
    spec = registry.landscapes["deep_linear"]
    with pytest.raises(ValueError, match="samples >= width"):
        spec.build(dict(spec.defaults, width=8, samples=4), key=jax.random.key(0))


# --- deep nonlinear nets -------------------------------------------------------------


def _net(registry, **values):
    spec = registry.landscapes["deep_net"]
    return spec.build(spec.defaults | dict(width=16, samples=64) | values, key=jax.random.key(0))


def test_deep_net_layer_gradients_agree_with_finite_differences(registry):
    landscape = _net(registry, activation="tanh", depth=3, width=4, samples=16)
    params = landscape.init(jax.random.key(1))
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    loss = lambda v: float(landscape.loss(unravel(jnp.asarray(v, jnp.float32))))  # noqa: E731
    eps, base = 1e-3, np.asarray(flat, np.float64)
    fd = np.array([(loss(base + eps * e) - loss(base - eps * e)) / (2 * eps) for e in np.eye(len(base))])
    fd_layers = unravel(jnp.asarray(fd, jnp.float32))
    norms = np.asarray(landscape.layer_gradient_norms(params))
    expected = [math.sqrt(sum(float(jnp.sum(leaf ** 2)) for leaf in jax.tree.leaves(layer)))
                for layer in fd_layers]
    np.testing.assert_allclose(norms, expected, rtol=2e-2)
    np.testing.assert_allclose(np.asarray(jax.flatten_util.ravel_pytree(jax.grad(landscape.loss)(params))[0]),
                               fd, rtol=5e-2, atol=2e-4)


def _first_over_last_hidden(landscape, restarts=32):
    starts = jax.vmap(landscape.init)(jax.random.split(jax.random.key(1), restarts))
    norms = np.median(np.asarray(jax.vmap(landscape.layer_gradient_norms)(starts)), axis=0)
    return norms, norms[0] / norms[-2]


def test_sigmoid_gradients_shrink_toward_the_input_more_with_depth_less_with_gain(registry):
    norms, _ = _first_over_last_hidden(_net(registry, activation="sigmoid", depth=6))
    assert np.all(np.diff(norms) > 0), norms  # each layer learns slower than the next
    _, shallow = _first_over_last_hidden(_net(registry, activation="sigmoid", depth=4))
    _, deep = _first_over_last_hidden(_net(registry, activation="sigmoid", depth=8))
    assert deep < 0.1 * shallow < 0.1  # σ' ≤ 1/4 per layer: geometric decay with depth
    ratios = [_first_over_last_hidden(_net(registry, activation="sigmoid", depth=6, gain=g))[1]
              for g in (0.5, 1.0, 4.0)]
    assert ratios[0] < ratios[1] < ratios[2] < 1


def test_tanh_gradients_explode_toward_the_input_at_large_gain(registry):
    _, large = _first_over_last_hidden(_net(registry, activation="tanh", depth=12, gain=3.0))
    assert large > 2.0


def test_deep_net_teacher_is_realisable_with_standardised_targets(registry):
    landscape = _net(registry, activation="relu", depth=4)
    y = np.asarray(landscape.data["y"])
    assert abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-4
    assert float(landscape.loss(landscape.x_opt)) == pytest.approx(0.0, abs=1e-10)
    start = landscape.init(jax.random.key(5))
    assert 0.1 < float(landscape.loss(start)) < 10


# --- Blum–Rivest 3-node network ------------------------------------------------------


def test_three_node_fits_its_planted_labels_with_either_unit_order(registry):
    landscape = registry.landscapes["three_node"].build(
        dict(dim=8, samples=40, sharpness=8.0), key=jax.random.key(0))
    planted = landscape.x_opt
    swapped = {"w": planted["w"][::-1], "b": planted["b"][::-1]}
    assert float(landscape.loss(planted)) == 0.0 and float(landscape.loss(swapped)) == 0.0
    y = np.asarray(landscape.data["y"])
    assert np.mean((y < 0.1) | (y > 0.9)) > 0.8  # nearly threshold units, nearly binary labels
    x = np.asarray(landscape.data["x"])
    assert set(np.unique(x)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.asarray(three_node.network(planted, landscape.data["x"])), y)
    # The declared symmetry maps a point and its unit-swapped copy to one representative.
    canonical = landscape.symmetry_fn(landscape.data, planted)
    again = landscape.symmetry_fn(landscape.data, swapped)
    for key in ("w", "b"):
        np.testing.assert_array_equal(np.asarray(canonical[key]), np.asarray(again[key]))
    assert float(canonical["b"][0]) <= float(canonical["b"][1])


# --- saddle --------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3])
def test_saddle_critical_points_and_minima_are_where_the_formula_says(order):
    f = lambda t: saddle.saddle(t, order)  # noqa: E731
    for y in (1.0, -1.0):
        minimum = jnp.array([0.0, y])
        assert float(jnp.linalg.norm(jax.grad(f)(minimum))) < 1e-6
        assert np.all(np.linalg.eigvalsh(np.asarray(jax.hessian(f)(minimum))) > 0)
        assert float(f(minimum)) == 0.0  # measured from the minimum
        assert float(saddle.textbook(minimum, order)) == pytest.approx(-1 / (2 * order * (order + 1)), rel=1e-6)
    origin = np.linalg.eigvalsh(np.asarray(jax.hessian(f)(jnp.zeros(2))))
    np.testing.assert_allclose(origin, [-1.0, 1.0] if order == 1 else [0.0, 1.0], atol=1e-6)
    assert float(f(jnp.zeros(2))) == pytest.approx(saddle.saddle_value(order), rel=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_saddle_loss_is_the_textbook_function_minus_its_minimum(order):
    # (y² − 1)² P_k(y²)/(2k(k+1)) = y^{2k+2}/(2k+2) − y^{2k}/(2k) + 1/(2k(k+1)), in float64 on a grid.
    with jax.enable_x64(True):
        ys = jnp.linspace(-1.6, 1.6, 321)
        thetas = jnp.stack([jnp.full_like(ys, 0.3), ys], axis=1)
        f = jax.vmap(lambda t: saddle.saddle(t, order))
        textbook = jax.vmap(lambda t: saddle.textbook(t, order) - saddle.minimum_value(order))
        np.testing.assert_allclose(f(thetas), textbook(thetas), rtol=1e-12, atol=1e-14)
        # Its gradient and Hessian are the textbook ones (the custom JVP).
        for grad in (jax.grad, jax.hessian):
            np.testing.assert_allclose(jax.vmap(grad(lambda t: saddle.saddle(t, order)))(thetas),
                                       jax.vmap(grad(lambda t: saddle.textbook(t, order)))(thetas),
                                       rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_saddle_loss_near_its_minimum_is_accurate_in_float32(order):
    # f − f* at y = 1 + δ is ≈ 2δ² (4δ²·P_k(1)/(2k(k+1)) = 2δ² for every k): resolved in
    # float32 down to 1e-12 and below, where the textbook f − f* rounds to 0 or to ulp(f*).
    for delta in (1e-3, 1e-4, 1e-5, 1e-6):
        theta = jnp.array([0.0, 1.0 + delta], jnp.float32)
        y = np.float64(theta[1])  # the float32 point, exactly
        exact = (y * y - 1) ** 2 * sum((j + 1) * y ** (2 * j) for j in range(order)) / (2 * order * (order + 1))
        assert float(saddle.saddle(theta, order)) == pytest.approx(exact, rel=1e-5)
    # The gradient near the saddle keeps its leading term −y^{2k−1} (a plateau, not noise).
    y0 = 0.01
    grad = float(jax.grad(lambda t: saddle.saddle(t, order))(jnp.array([0.0, y0], jnp.float32))[1])
    assert grad == pytest.approx(y0 ** (2 * order + 1) - y0 ** (2 * order - 1), rel=1e-5)


def test_gradient_descent_escapes_the_strict_saddle_at_the_linear_rate(registry):
    landscape = registry.landscapes["saddle"].build({"order": 1, "dim": 1, "spread": 0.01},
                                                    key=jax.random.key(0))
    eta, y0 = 0.1, 1e-4
    ys = np.asarray(gradient_descent(landscape, jnp.array([0.5, y0]), eta, 400, lambda t: t[-1]))
    # Near the saddle y_{t+1} ≈ (1 + η) y_t: reaching y = 0.1 takes ln(0.1/y0)/ln(1+η) steps.
    steps = int(np.argmax(ys >= 0.1)) + 1
    expected = math.log(0.1 / y0) / math.log(1 + eta)
    assert abs(steps - expected) <= 2, (steps, expected)
    assert abs(ys[-1] - 1.0) < 1e-4  # then it settles in the minimum y = 1


def test_higher_order_saddle_is_a_plateau(registry):
    spec = registry.landscapes["saddle"]
    escaped = []
    for order in (1, 2):
        landscape = spec.build({"order": order, "dim": 1, "spread": 0.01}, key=jax.random.key(0))
        ys = np.asarray(gradient_descent(landscape, jnp.array([0.5, 0.05]), 0.1, 2000, lambda t: t[-1]))
        escaped.append(int(np.argmax(ys >= 0.5)) if (ys >= 0.5).any() else 2000)
    # Escape time ~ ln(1/y0)/η at order 1 versus ~ y0^{−2}/(2η) at order 2.
    assert escaped[0] < 60 and escaped[1] > 10 * escaped[0]
