"""Every landscape computes in float64 under JAX's x64 mode, and in float32 without it.

A run with ``--precision float64`` wraps everything in ``jax.enable_x64(True)``.
Each landscape's data, starts and loss must then be float64 (no hard-coded
float32 that silently keeps a float32 loss), the instance must be the same one
a float32 run faces (same draws, cast), and an exact f* must match loss(x*) to
float64 precision, so that fine targets are decided by the landscape and not by
rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from suite.registry import load_registry, make_plugin_manager

_REGISTRY = load_registry(make_plugin_manager())

# Every registered landscape at its test_config, plus variants whose f* comes from a solve.
CASES = [(name, {}) for name in sorted(_REGISTRY.landscapes)] + [
    ("pspin", {"p": 2}), ("logistic", {"samples": 256, "batch": 0}),
    ("saddle", {"order": 3}), ("deep_linear", {"depth": 5, "width": 6, "samples": 12}),
]


def _build(name, overrides, x64: bool):
    spec = _REGISTRY.landscapes[name]
    with jax.enable_x64(x64):
        ls = spec.build(spec.defaults | spec.test_config | overrides, key=jax.random.key(0))
        x = ls.init(jax.random.key(1))
        key = jax.random.key(2) if ls.stochastic else None
        out = {"ls": ls, "x": x, "loss": ls.loss(x, key), "exact": ls.loss(x),
               "grad": jax.grad(ls.loss)(x, key)}
        if ls.x_opt is not None:
            out["loss_at_x_opt"] = ls.loss(ls.x_opt)
    return out


def _float_dtypes(tree) -> set[str]:
    # leaf.dtype, not jnp.result_type: outside x64 mode the latter reports float64 as float32.
    return {str(leaf.dtype) for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.floating)}


@pytest.mark.parametrize("name, overrides", CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
@pytest.mark.parametrize("x64, dtype", [(False, "float32"), (True, "float64")])
def test_data_starts_loss_and_gradient_take_the_precision_of_the_run(name, overrides, x64, dtype):
    built = _build(name, overrides, x64)
    ls = built["ls"]
    assert _float_dtypes(ls.data) == {dtype}, "data"
    assert _float_dtypes(built["x"]) == {dtype}, "init"
    assert _float_dtypes(built["grad"]) == {dtype}, "gradient"
    for what in ("loss", "exact", "loss_at_x_opt"):
        if what in built:
            assert str(built[what].dtype) == dtype, what
    if ls.x_opt is not None:
        assert _float_dtypes(ls.x_opt) == {dtype}, "x*"


@pytest.mark.parametrize("name, overrides", CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
def test_a_float64_run_faces_the_float32_instance_and_starts(name, overrides):
    # Draws are made in float32 and cast: the same numbers, so the two runs are comparable.
    single, double = _build(name, overrides, False), _build(name, overrides, True)
    for what, a, b in (("data", single["ls"].data, double["ls"].data), ("init", single["x"], double["x"])):
        for leaf_a, leaf_b in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(np.asarray(leaf_b, np.float64), np.asarray(leaf_a, np.float64),
                                       rtol=2e-5, atol=2e-6, err_msg=what)
    np.testing.assert_allclose(float(double["exact"]), float(single["exact"]), rtol=1e-5, atol=1e-6)
    f32, f64 = single["ls"].f_opt, double["ls"].f_opt
    assert (f32 is None) == (f64 is None)
    if f32 is not None:
        assert float(f64) == pytest.approx(float(f32), rel=1e-5, abs=1e-6)


EXACT = [(n, o) for n, o in CASES if n != "pspin" or o.get("p") == 2]


@pytest.mark.parametrize("name, overrides", EXACT, ids=[f"{n}{o or ''}" for n, o in EXACT])
def test_an_exact_f_opt_is_loss_at_x_opt_to_float64_precision(name, overrides):
    built = _build(name, overrides, True)
    ls = built["ls"]
    assert ls.f_opt_kind == "exact"
    if ls.x_opt is None:
        pytest.skip("no minimiser (separable data: f* = 0 is an infimum)")
    value, f_opt = float(built["loss_at_x_opt"]), float(ls.f_opt)
    assert abs(value - f_opt) <= 16 * np.finfo(np.float64).eps * max(1.0, abs(f_opt)), (value, f_opt)


def test_logistic_f_opt_is_solved_in_float64():
    # The float32 loss at x* misses f* by a few float32 ulps; float64 agrees to ~1e-16:
    # f* itself does not depend on the run's precision.
    single, double = _build("logistic", {"samples": 256, "batch": 0}, False), \
        _build("logistic", {"samples": 256, "batch": 0}, True)
    assert isinstance(double["ls"].f_opt, float)
    assert abs(float(double["loss_at_x_opt"]) - double["ls"].f_opt) < 1e-15
    assert abs(float(single["loss_at_x_opt"]) - single["ls"].f_opt) < 8 * np.spacing(np.float32(single["ls"].f_opt))


def test_logistic_loss_on_confident_correct_predictions_is_not_rounded_to_zero():
    from suite.landscapes.logistic import cross_entropy
    # y = 1, z = 20: the loss log(1 + e^{−20}) = 2.06e-9; softplus(z) − z rounds it to 0 in float32.
    x, y = jnp.ones((4, 1), jnp.float32), jnp.ones((4,), jnp.float32)
    value = float(cross_entropy(jnp.array([20.0], jnp.float32), jnp.float32(0.0), x, y))
    assert value == pytest.approx(np.log1p(np.exp(-20.0)), rel=1e-6)


@pytest.mark.parametrize("name", ["rastrigin", "rastrigin_rotated"])
def test_rastrigin_near_its_minimum_is_accurate_in_float32(name):
    # 20 sin²(πz) instead of 10 − 10 cos(2πz): no cancellation against 10·D near z = 0.
    spec = _REGISTRY.landscapes[name]
    ls = spec.build({"dim": 10}, key=jax.random.key(0))
    with jax.enable_x64(True):
        ls64 = spec.build({"dim": 10}, key=jax.random.key(0))
    direction = jax.random.normal(jax.random.key(3), (10,))
    for scale in (1e-3, 1e-5, 1e-7):
        x = ls.x_opt + jnp.float32(scale) * direction
        with jax.enable_x64(True):
            exact = float(ls64.loss(jnp.asarray(x, jnp.float64)))  # the same float32 point
        assert float(ls.loss(x)) == pytest.approx(exact, rel=1e-4), scale
