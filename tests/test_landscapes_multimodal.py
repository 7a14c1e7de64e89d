"""Rastrigin (plain and BBOB f15) and the spherical p-spin glass against their definitions."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from suite.landscapes import pspin, rastrigin

# --- Rastrigin -----------------------------------------------------------------------


def test_rastrigin_has_eleven_local_minima_per_coordinate_at_the_published_values():
    f = lambda x: rastrigin.rastrigin(jnp.atleast_1d(x))  # noqa: E731
    grad, curvature = jax.grad(f), jax.grad(jax.grad(f))
    # Local minima in the box: the derivative crosses zero from below.
    slopes = np.asarray(jax.vmap(grad)(jnp.linspace(-5.12, 5.12, 20001)))
    assert int(np.sum((slopes[:-1] < 0) & (slopes[1:] >= 0))) == 11  # k = −5..5
    for k in range(6):
        x = jnp.float32(0.99496 * k)
        for _ in range(20):  # Newton's method polishes the grid's estimate
            x = x - grad(x) / curvature(x)
        assert abs(float(x) - 0.99496 * k) < 1e-3
        np.testing.assert_allclose(float(f(x)), 0.99496 * k * k, rtol=2e-4, atol=1e-6)
        assert float(curvature(x)) > 0


def test_rastrigin_equals_the_textbook_form():
    x = jax.random.uniform(jax.random.key(0), (50, 7), minval=-5.12, maxval=5.12)
    textbook = 10 * 7 + np.sum(np.asarray(x, np.float64) ** 2 - 10 * np.cos(2 * np.pi * np.asarray(x, np.float64)),
                               axis=1)
    np.testing.assert_allclose(np.asarray(jax.vmap(rastrigin.rastrigin)(x)), textbook, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("x, expected", [
    (0.0, 0.0),
    (1.0, 1.0),  # x̂ = 0: exp(0 + 0.049 (sin 0 + sin 0))
    (math.e, math.exp(1 + 0.049 * (math.sin(10) + math.sin(7.9)))),
    (-math.e, -math.exp(1 + 0.049 * (math.sin(5.5) + math.sin(3.1)))),
    (0.5, math.exp(math.log(0.5) + 0.049 * (math.sin(10 * math.log(0.5)) + math.sin(7.9 * math.log(0.5))))),
])
def test_t_osz_at_hand_computed_points(x, expected):
    np.testing.assert_allclose(float(rastrigin.t_osz(jnp.array([x]))[0]), expected, rtol=1e-6, atol=1e-7)


def test_t_asy_at_hand_computed_points():
    # D = 3, β = 0.2: exponents 1, 1 + 0.2·½·√x, 1 + 0.2·1·√x for positive entries.
    out = np.asarray(rastrigin.t_asy(jnp.array([4.0, 4.0, 4.0]), 0.2))
    np.testing.assert_allclose(out, [4.0, 4.0 ** 1.2, 4.0 ** 1.4], rtol=1e-6)
    out = np.asarray(rastrigin.t_asy(jnp.array([-2.0, 0.0, -3.0]), 0.2))
    np.testing.assert_array_equal(out, [-2.0, 0.0, -3.0])


def _f15_reference(x, x_opt, r, q):
    """BBOB f15 written from Hansen et al. (2009) in float64 NumPy, textbook cosine form."""
    d = len(x)
    def t_osz(v):
        out = np.zeros_like(v)
        for i, xi in enumerate(v):
            if xi != 0:
                h = math.log(abs(xi))
                c1, c2 = (10.0, 7.9) if xi > 0 else (5.5, 3.1)
                out[i] = math.copysign(math.exp(h + 0.049 * (math.sin(c1 * h) + math.sin(c2 * h))), xi)
        return out
    def t_asy(v, beta):
        return np.array([xi ** (1 + beta * i / (d - 1) * math.sqrt(xi)) if xi > 0 else xi
                         for i, xi in enumerate(v)])
    lam = np.array([10.0 ** (0.5 * i / (d - 1)) for i in range(d)])
    z = r @ (lam * (q @ t_asy(t_osz(r @ (x - x_opt)), 0.2)))
    return 10 * (d - np.sum(np.cos(2 * np.pi * z))) + z @ z


def test_rotated_rastrigin_matches_bbob_f15_and_is_zero_at_x_opt(registry):
    spec = registry.landscapes["rastrigin_rotated"]
    landscape = spec.build({"dim": 5}, key=jax.random.key(2))
    data = {k: np.asarray(v, np.float64) for k, v in landscape.data.items()}
    assert np.all(np.abs(data["x_opt"]) <= 4.0)
    np.testing.assert_allclose(data["r"] @ data["r"].T, np.eye(5), atol=1e-5)
    assert float(landscape.loss(landscape.x_opt)) == pytest.approx(0.0, abs=1e-6)
    assert landscape.f_opt == 0.0
    for seed in range(5):
        x = np.asarray(landscape.init(jax.random.key(seed)), np.float64)
        assert np.all(np.abs(x) <= 5.0)
        expected = _f15_reference(x, data["x_opt"], data["r"], data["q"])
        np.testing.assert_allclose(float(landscape.loss(jnp.asarray(x, jnp.float32))), expected, rtol=1e-4)


# --- spherical p-spin ----------------------------------------------------------------


def _reference_h(raw, sigma):
    """H(σ) = N^{−(p−1)/2} Σ J σ⋯σ, as a plain einsum over a possibly unsymmetrised J."""
    p, n = raw.ndim, raw.shape[0]
    letters = "abcd"[:p]
    return jnp.einsum(",".join([letters, *letters]), raw, *([sigma] * p)) * n ** (-(p - 1) / 2)


def _sphere(key, n, count):
    return jax.vmap(lambda k: pspin.retract(jax.random.normal(k, (n,))))(jax.random.split(key, count))


@pytest.mark.parametrize("p", [2, 3, 4])
def test_pspin_variance_of_h_on_the_sphere_is_n(p):
    n, draws = 8, 4000
    keys = jax.random.split(jax.random.key(p), draws)
    sigmas = _sphere(jax.random.key(10 + p), n, draws)
    energies = np.asarray(jax.vmap(lambda k, s: pspin.hamiltonian(pspin.couplings(k, n, p), s))(keys, sigmas))
    # Var of a sample variance of Gaussians: 2σ⁴/(M−1); allow 4 standard errors.
    assert abs(energies.var() / n - 1) < 4 * math.sqrt(2 / draws), energies.var()
    assert abs(energies.mean()) < 4 * math.sqrt(n / draws)


def test_pspin_covariance_follows_the_overlap_to_the_p():
    n, p, draws = 8, 3, 4000
    a = jnp.zeros(n).at[0].set(math.sqrt(n))
    b = jnp.zeros(n).at[0].set(math.sqrt(n / 2)).at[1].set(math.sqrt(n / 2))  # overlap q = 1/√2
    keys = jax.random.split(jax.random.key(0), draws)
    def pair(key):
        couplings = pspin.couplings(key, n, p)
        return jnp.stack([pspin.hamiltonian(couplings, a), pspin.hamiltonian(couplings, b)])

    pairs = jax.vmap(pair)(keys)
    covariance = float(np.mean(np.prod(np.asarray(pairs), axis=1)))
    expected = n * (1 / math.sqrt(2)) ** p
    assert abs(covariance - expected) < 4 * n * math.sqrt(2 / draws)


@pytest.mark.parametrize("p", [2, 3, 4])
def test_pspin_energy_is_invariant_under_permuting_the_couplings(p):
    n = 5
    raw = jax.random.normal(jax.random.key(1), (n,) * p)
    symmetric = pspin._symmetrize(raw)
    for sigma in _sphere(jax.random.key(2), n, 3):
        expected = float(_reference_h(raw, sigma))
        for perm in itertools.permutations(range(p)):
            np.testing.assert_allclose(float(_reference_h(jnp.transpose(raw, perm), sigma)), expected, rtol=1e-4)
        np.testing.assert_allclose(float(pspin.hamiltonian(symmetric, sigma)), expected, rtol=1e-4)


@pytest.mark.parametrize("p", [2, 3, 4])
def test_pspin_gradient_is_riemannian_and_its_derivatives_match_autodiff(p):
    n = 6
    landscape = pspin.build({"n": n, "p": p}, key=jax.random.key(3))
    couplings = landscape.data["couplings"]
    for sigma in _sphere(jax.random.key(4), n, 3):
        grad = jax.grad(landscape.loss)(sigma)
        # Tangent: no radial part.
        assert abs(float(grad @ sigma)) < 1e-5 * float(jnp.linalg.norm(grad)) * math.sqrt(n)
        # Equal to the projected Euclidean gradient of u = H/N (plain einsum).
        euclid = jax.grad(lambda s: _reference_h(couplings, s) / n)(sigma)
        projected = euclid - (euclid @ sigma) / n * sigma
        np.testing.assert_allclose(np.asarray(grad), np.asarray(projected), rtol=1e-4, atol=1e-6)
        # The custom JVP keeps second derivatives right (diagnostics take Hessians).
        np.testing.assert_allclose(np.asarray(jax.hessian(pspin.hamiltonian, argnums=1)(couplings, sigma)),
                                   np.asarray(jax.hessian(_reference_h, argnums=1)(couplings, sigma)),
                                   rtol=1e-4, atol=1e-5)


def test_pspin_starts_and_projection_stay_on_the_sphere():
    landscape = pspin.build({"n": 20, "p": 3}, key=jax.random.key(0))
    starts = jax.vmap(landscape.init)(jax.random.split(jax.random.key(1), 16))
    np.testing.assert_allclose(np.sum(np.asarray(starts) ** 2, axis=1), 20.0, rtol=1e-5)
    np.testing.assert_allclose(float(jnp.sum(landscape.project(3.0 * starts[0]) ** 2)), 20.0, rtol=1e-5)
    # Uniform on the sphere: the mean direction of many starts is near 0.
    assert float(jnp.linalg.norm(jnp.mean(starts, axis=0))) < 1.5


def test_pspin_reference_energies_and_exact_p2_ground_state():
    three = pspin.build({"n": 10, "p": 3}, key=jax.random.key(0))
    assert three.f_opt == -1.65700 and three.f_opt_kind == "reference"
    assert dict(three.levels)["threshold"] == pytest.approx(-2 * math.sqrt(2 / 3))
    four = pspin.build({"n": 6, "p": 4}, key=jax.random.key(0))
    assert four.f_opt == -1.79409 and dict(four.levels)["threshold"] == pytest.approx(-math.sqrt(3))
    two = pspin.build({"n": 200, "p": 2}, key=jax.random.key(0))
    assert two.f_opt_kind == "exact"
    # The bottom eigenvalue of J/√N approaches the semicircle edge −√2.
    assert abs(two.f_opt + math.sqrt(2)) < 0.08
    np.testing.assert_allclose(float(two.loss(two.x_opt)), two.f_opt, rtol=1e-5)


def test_pspin_gradient_never_forms_a_restarts_by_n_cubed_tensor():
    n, restarts = 48, 256
    landscape = pspin.build({"n": n, "p": 3}, key=jax.random.key(0))
    sigmas = _sphere(jax.random.key(1), n, restarts)
    compiled = jax.jit(jax.vmap(jax.value_and_grad(landscape.loss), in_axes=0)).lower(sigmas).compile()
    stats = compiled.memory_analysis()
    if stats is None:
        pytest.skip("this backend reports no memory analysis")
    cube = restarts * n**3 * 4
    assert stats.temp_size_in_bytes < 0.1 * cube, stats.temp_size_in_bytes
