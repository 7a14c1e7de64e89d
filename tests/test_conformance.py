"""The conformance battery: every registered landscape and optimizer, same checks.

Each plugin carries a tiny ``test_config``; these tests run over whatever is
installed, so a third-party plugin installed beside the suite is checked too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from suite.registry import load_registry, make_plugin_manager
from suite.specs import KNOWN_TAGS, Landscape
from conftest import assert_trees_close

_REGISTRY = load_registry(make_plugin_manager())
LANDSCAPES = sorted(_REGISTRY.landscapes)
OPTIMIZERS = sorted(_REGISTRY.optimizers)
BUILTIN_LANDSCAPES = {"bowl", "rastrigin"}
BUILTIN_OPTIMIZERS = {"sgd", "momentum", "nesterov", "adam"}


def test_every_builtin_is_found_through_entry_points(registry):
    # A stale editable install or a missing entry point shows up here first.
    assert BUILTIN_LANDSCAPES <= set(registry.landscapes)
    assert BUILTIN_OPTIMIZERS <= set(registry.optimizers)
    for name in BUILTIN_LANDSCAPES | BUILTIN_OPTIMIZERS:
        spec = registry.landscapes.get(name) or registry.optimizers[name]
        assert spec.plugin.startswith("suite."), spec.plugin
    assert registry.problems == []


def build(name, key=0) -> Landscape:
    spec = _REGISTRY.landscapes[name]
    return spec.build(spec.defaults | spec.test_config, key=jax.random.key(key))


def starts(landscape, n=8):
    return jax.vmap(landscape.init)(jax.random.split(jax.random.key(1), n))


@pytest.fixture(params=LANDSCAPES)
def landscape_name(request):
    return request.param


def test_landscape_declares_valid_parameters(landscape_name):
    spec = _REGISTRY.landscapes[landscape_name]
    assert spec.doc, "a landscape needs a doc line"
    for param in spec.params:
        assert param.doc, f"parameter {param.name} needs a doc line"
        assert param.check(param.default, "test") == param.default
    for name, value in spec.test_config.items():
        assert spec.params[[p.name for p in spec.params].index(name)].check(value, "test") == value


def test_landscape_loss_and_gradient_are_finite_at_starts(landscape_name):
    landscape = build(landscape_name)
    assert isinstance(landscape, Landscape)
    assert set(landscape.tags) <= set(KNOWN_TAGS)
    points = starts(landscape)
    keys = jax.random.split(jax.random.key(2), 8)
    values, grads = jax.vmap(jax.value_and_grad(landscape.loss))(points, keys)
    assert values.shape == (8,)
    assert np.all(np.isfinite(values))
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_landscape_is_jit_compatible_and_deterministic(landscape_name):
    landscape = build(landscape_name)
    x = landscape.init(jax.random.key(3))
    assert_trees_close(landscape.init(jax.random.key(3)), x, rtol=0)
    key = jax.random.key(4)
    eager = landscape.loss(x, key)
    jitted = jax.jit(lambda ls, p, k: ls.loss(p, k))(landscape, x, key)
    np.testing.assert_allclose(jitted, eager, rtol=1e-5)
    again = build(landscape_name)
    np.testing.assert_array_equal(again.loss(x, key), eager)


def test_instances_from_different_keys_share_one_program(landscape_name):
    traces = []

    @jax.jit
    def loss(landscape, x):
        traces.append(1)
        return landscape.loss(x)

    one, two = build(landscape_name, key=0), build(landscape_name, key=1)
    loss(one, one.init(jax.random.key(0)))
    loss(two, two.init(jax.random.key(0)))
    assert len(traces) == 1, "a landscape instance must be data, not part of the compile key"


def test_projection_is_idempotent(landscape_name):
    landscape = build(landscape_name)
    points = jax.tree.map(lambda x: 3.0 * x, starts(landscape))
    once = jax.vmap(landscape.project)(points)
    assert_trees_close(jax.vmap(landscape.project)(once), once, rtol=1e-5, atol=1e-6)


def test_known_optimum_bounds_the_loss(landscape_name):
    landscape = build(landscape_name)
    if landscape.f_opt is None:
        pytest.skip("no known optimum")
    values = jax.vmap(landscape.loss)(starts(landscape, 64))
    assert np.all(np.asarray(values) >= float(landscape.f_opt) - 1e-5)
    if landscape.x_opt is not None:
        np.testing.assert_allclose(landscape.loss(landscape.x_opt), landscape.f_opt, atol=1e-5)


@pytest.fixture(params=OPTIMIZERS)
def optimizer_name(request):
    return request.param


def _hparams(spec):
    return spec.defaults | spec.test_config


def _quadratic(x):
    return 0.5 * jnp.sum(jnp.array([1.0, 4.0, 9.0]) * x * x)


def test_optimizer_declares_valid_defaults_and_sweep(optimizer_name):
    spec = _REGISTRY.optimizers[optimizer_name]
    assert spec.doc
    names = [p.name for p in spec.params]
    for param in spec.params:
        assert param.doc
        param.check(param.default, "test")
    for name, values in spec.sweep.items():
        assert len(values) >= 1
        for value in values:
            spec.params[names.index(name)].check(value, "test")
    assert isinstance(spec.factory(**_hparams(spec)), optax.GradientTransformation)


def _run(tx, steps=5):
    x = jnp.array([1.0, -2.0, 0.5])
    state = tx.init(x)
    for _ in range(steps):
        value, grad = jax.value_and_grad(_quadratic)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=_quadratic)
        x = optax.apply_updates(x, updates)
    return x


def test_traced_hyperparameters_give_the_same_updates(optimizer_name):
    # The runner calls the factory with float hyperparameters as traced arrays.
    spec = _REGISTRY.optimizers[optimizer_name]
    hparams = _hparams(spec)
    traced = {p.name for p in spec.params if p.traced}
    plain = _run(spec.transformation(**hparams))

    @jax.jit
    def with_arrays(floats):
        return _run(spec.transformation(**(hparams | floats)))

    arrays = with_arrays({k: jnp.float32(v) for k, v in hparams.items() if k in traced})
    assert_trees_close(arrays, plain, rtol=1e-5, atol=1e-7)


def test_optimizer_works_under_inject_hyperparams(optimizer_name):
    spec = _REGISTRY.optimizers[optimizer_name]
    hparams = _hparams(spec)
    static = tuple(p.name for p in spec.params if not p.traced)
    injected = optax.inject_hyperparams(spec.factory, static_args=static)(**hparams)
    assert_trees_close(_run(optax.with_extra_args_support(injected)),
                       _run(spec.transformation(**hparams)), rtol=1e-5, atol=1e-7)


def test_optimizer_decreases_a_convex_quadratic(optimizer_name):
    spec = _REGISTRY.optimizers[optimizer_name]
    settings = [_hparams(spec) | {k: v} for k, vs in spec.sweep.items() for v in vs] or [_hparams(spec)]
    start = float(_quadratic(jnp.array([1.0, -2.0, 0.5])))
    best = min(float(_quadratic(_run(spec.transformation(**h), steps=50))) for h in settings)
    assert best < 0.5 * start
