"""suite.trig against float64 NumPy: values and derivatives within 1.5 ulp, exact minima, every transform."""

from __future__ import annotations

import decimal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from suite import trig
from suite.landscapes import rastrigin

ROOT = Path(__file__).resolve().parents[1]
BOUND = 1.5  # ulps: the module's promise (the brief asks ≤ 2; measured ≤ 1.02)
F32 = np.float32
RNG = np.random.default_rng(18)


def ulps(got, ref) -> np.ndarray:
    """|got − ref| in ulps of the exact reference's float32 binade; subnormal ulps count as the smallest
    normal, since XLA:CPU flushes subnormals. Relative everywhere else, however tiny the value."""
    ref = np.asarray(ref, np.float64)
    _, exponent = np.frexp(np.abs(ref))  # |ref| = m·2^e, m ∈ [½, 1): float32 spacing 2^(e−24)
    ulp = np.maximum(np.ldexp(1.0, exponent - 24), 2.0**-126)
    return np.abs(np.asarray(got, np.float64) - ref) / ulp


def neighbours(centres, bound: float) -> np.ndarray:
    """The float32 nearest each centre and three neighbours on each side, both signs, |x| ≤ bound."""
    out, up, down = [np.asarray(centres).astype(F32)], np.asarray(centres).astype(F32), np.asarray(centres).astype(F32)
    for _ in range(3):
        up, down = np.nextafter(up, F32(np.inf)), np.nextafter(down, F32(0))
        out += [up, down]
    points = np.concatenate(out)
    points = points[np.abs(points) <= bound]
    return np.concatenate([points, -points])


def log_uniform(low: float, high: float, count: int) -> np.ndarray:
    signs = RNG.choice([-1.0, 1.0], count)
    return (signs * 10.0 ** RNG.uniform(low, high, count)).astype(F32)


# Inputs are normal floats or zero: XLA:CPU reads subnormal inputs as zero (tested on their own below).
# sin, cos: the whole domain, small and tiny arguments, and the reduction's hard cases: the floats
# nearest the multiples of π/4 (the quadrant edges) and of π/2 (where r cancels to ~2^-24).
RAD = np.concatenate([RNG.uniform(-trig.SIN_DOMAIN, trig.SIN_DOMAIN, 1_500_000).astype(F32),
                      RNG.uniform(-8, 8, 500_000).astype(F32), log_uniform(-37.9, 3.6, 300_000),
                      neighbours(np.arange(1, 5300) * (np.pi / 4), trig.SIN_DOMAIN)])
RAD = RAD[np.abs(RAD) <= trig.SIN_DOMAIN]
# sinpi, cospi: every float32 is in the domain; the landscapes' box, tiny to huge magnitudes, and the
# floats next to the quarter-integers (quadrant edges, zeros and extrema) up to 2^13.
HALF = np.concatenate([RNG.uniform(-6, 6, 1_500_000).astype(F32), log_uniform(-37.9, 38.5, 300_000),
                       neighbours(np.arange(0, 4 * 2**13 + 1) / 4, 2.0**13),
                       np.array([2.0**22 + 0.5, 2.0**23 - 1, 2.0**23 + 1, 2.0**24, 2.0**24 + 2, 3e38], F32)])


def _pi_reference(x, shift: int, order: int) -> np.ndarray:
    """π^order sin(πx + shift·π/2) in float64, reduced exactly (x − k/2 is exact for a float32 x)."""
    x = np.asarray(x, np.float64)
    k = np.rint(2 * x)
    r = x - k / 2
    s, c = np.sin(np.pi * r), np.cos(np.pi * r)
    quadrant = (np.fmod(k, 4).astype(np.int64) + shift) % 4  # fmod: exact for every float64 k
    return np.pi**order * np.choose(quadrant, [s, c, -s, -c])


def _derivatives(fn, x):
    """(f, f', f'') at every point, through jit, vmap and grad."""
    first = jax.grad(fn)
    return [np.asarray(jax.jit(jax.vmap(g))(x)) for g in (fn, first, jax.grad(first))]


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_and_their_derivatives_are_within_bound_ulps_over_the_domain(name):
    x64 = RAD.astype(np.float64)
    refs = {"sin": [np.sin(x64), np.cos(x64), -np.sin(x64)], "cos": [np.cos(x64), -np.sin(x64), -np.cos(x64)]}[name]
    for order, (got, ref) in enumerate(zip(_derivatives(getattr(trig, name), RAD), refs)):
        errors = ulps(got, ref)
        worst = int(np.argmax(errors))
        assert errors[worst] <= BOUND, (name, order, RAD[worst], got[worst], ref[worst], errors[worst])


@pytest.mark.parametrize("name, shift", [("sinpi", 0), ("cospi", 1)])
def test_sinpi_and_cospi_and_their_derivatives_are_within_bound_ulps_everywhere(name, shift):
    for order, got in enumerate(_derivatives(getattr(trig, name), HALF)):
        ref = _pi_reference(HALF, shift + order, order)
        errors = ulps(got, ref)
        worst = int(np.argmax(errors))
        assert errors[worst] <= BOUND, (name, order, HALF[worst], got[worst], ref[worst], errors[worst])


def test_accuracy_does_not_rest_on_fused_multiply_add_nor_does_the_bound_beyond_the_domain():
    # Op by op (no jit) XLA cannot contract a·b + c: the exact products of the reduction carry it alone.
    hard = neighbours(np.arange(1, 5300) * (np.pi / 2), trig.SIN_DOMAIN)
    far = RNG.uniform(trig.SIN_DOMAIN, 2.0**20, 50_000).astype(F32)
    x = np.concatenate([hard, far])
    with jax.disable_jit():
        got = np.asarray(trig.sin(jnp.asarray(x))), np.asarray(trig.cospi(jnp.asarray(HALF[-50_000:])))
    assert ulps(got[0][:len(hard)], np.sin(hard.astype(np.float64))).max() <= BOUND
    assert ulps(got[1], _pi_reference(HALF[-50_000:], 1, 0)).max() <= BOUND
    # Beyond sin's domain, up to 2^20: the absolute error stays below |x|·2^-23 (it is ~1e-7 with FMAs).
    assert np.all(np.abs(got[0][len(hard):] - np.sin(far.astype(np.float64))) <= far * 2.0**-23)


def test_special_values_zeros_and_the_ends_of_the_domain():
    special = jnp.array([0.0, -0.0, jnp.inf, -jnp.inf, jnp.nan], jnp.float32)
    for fn in (trig.sin, trig.cos, trig.sinpi, trig.cospi):
        value = np.asarray(fn(special))
        assert np.all(np.isnan(value[2:])), fn  # inf and NaN give NaN, never a number
        assert np.all(np.isnan(np.asarray(jax.vmap(jax.grad(fn))(special))[2:])), fn
    for odd in (trig.sin, trig.sinpi):  # sign of zero as in the C library: f(±0) = ±0
        np.testing.assert_array_equal(np.signbit(np.asarray(odd(special[:2]))), [False, True])
        np.testing.assert_array_equal(np.asarray(odd(special[:2])), [0.0, 0.0])
    for even in (trig.cos, trig.cospi):
        np.testing.assert_array_equal(np.asarray(even(special[:2])), [1.0, 1.0])
    # Exact at integers and half-integers, including where every float32 is an (even) integer.
    grid = jnp.array([1.0, 2.0, 0.5, 1.5, -2.5, 2.0**23 + 1, 2.0**24 + 2, 3e38, -3e38], jnp.float32)
    np.testing.assert_array_equal(np.abs(np.asarray(trig.sinpi(grid))), [0, 0, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(np.abs(np.asarray(trig.cospi(grid))), [1, 1, 0, 0, 0, 1, 1, 1, 1])
    # Subnormal inputs read as zero on XLA:CPU: the result is within the smallest normal of the truth.
    tiny = jnp.array([1e-40, -1e-40, 1e-45], jnp.float32)
    assert np.all(np.abs(np.asarray(trig.sin(tiny))) <= 2.0**-126)
    # Far beyond sin's domain: values stay in [−1, 1].
    huge = jnp.array([2.0**20 + 1, 1e7, 1e30, 3.4e38, -3.4e38], jnp.float32)
    for fn in (trig.sin, trig.cos):
        assert np.all(np.abs(np.asarray(fn(huge))) <= 1.0)


def test_the_cody_waite_parts_are_short_and_sum_to_half_pi():
    # π to 60 digits, typed from the published expansion (not the module's constant).
    pi = decimal.Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
    parts = trig._HALF_PI_PARTS
    for part in parts[:3]:  # 12 significant bits: k·part is exact for every k < 2^12 (|x| ≤ 4096 → k ≤ 2608)
        mantissa, _ = np.frexp(part)
        assert float(mantissa * 2**12).is_integer(), part
    assert trig.SIN_DOMAIN * 2 / np.pi < 2**12
    with decimal.localcontext(decimal.Context(prec=70)):
        error = abs(sum(decimal.Decimal(p) for p in parts) - pi / 2)
    assert error < decimal.Decimal(2) ** -66, error


def test_every_builtin_landscape_using_it_is_exact_at_its_minimum(registry):
    value_and_grad = jax.jit(jax.value_and_grad(rastrigin.rastrigin))
    for dim in (1, 10, 1000):
        value, grad = value_and_grad(jnp.zeros((dim,), jnp.float32))
        assert float(value) == 0.0
        np.testing.assert_array_equal(np.asarray(grad), np.zeros(dim))
    assert float(jax.jit(rastrigin.t_osz)(jnp.zeros(3))[0]) == 0.0
    for name, dim in (("rastrigin", 7), ("rastrigin_rotated", 5)):
        spec = registry.landscapes[name]
        loss = jax.jit(lambda data, x: spec.build({"dim": dim}, key=jax.random.key(0)).loss_fn(data, x, None))
        for seed in range(3):
            landscape = spec.build({"dim": dim}, key=jax.random.key(seed))
            assert float(loss(landscape.data, landscape.x_opt)) == landscape.f_opt == 0.0, (name, seed)
            with jax.enable_x64(True):  # a float64 run: native sines, still exact
                as64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), (landscape.data, landscape.x_opt))
                assert float(jax.jit(loss)(*as64)) == 0.0, (name, seed)


def test_rastrigin_and_its_curvature_match_float64_under_vmap_hessian_and_scan():
    x = RNG.uniform(-5.12, 5.12, (16, 6))
    f64 = np.sum(x * x + 10 - 10 * np.cos(2 * np.pi * x), axis=1)
    xs = jnp.asarray(x, jnp.float32)
    np.testing.assert_allclose(np.asarray(jax.vmap(rastrigin.rastrigin)(xs)), f64, rtol=1e-6, atol=1e-5)
    # The newton plugin's Hessians: diag(2 + 40π² cos 2πx) (x rounded to float32 first).
    x32 = np.asarray(xs, np.float64)
    hessians = np.asarray(jax.jit(jax.vmap(jax.hessian(rastrigin.rastrigin)))(xs))
    expected = np.stack([np.diag(2 + 40 * np.pi**2 * np.cos(2 * np.pi * row)) for row in x32])
    np.testing.assert_allclose(hessians, expected, rtol=1e-5, atol=1e-3)
    # Forward mode, and inside lax.scan as the runner uses it (gradient descent, checked against float64).
    np.testing.assert_allclose(np.asarray(jax.jacfwd(trig.cospi)(xs[0])), np.diag(-np.pi * np.sin(np.pi * x32[0])),
                               rtol=1e-6, atol=1e-6)

    def step(point, _):
        return point - 1e-3 * jax.grad(rastrigin.rastrigin)(point), rastrigin.rastrigin(point)

    _, losses = jax.jit(lambda p: jax.lax.scan(step, p, None, length=3))(xs[0])
    point, expected_losses = x32[0], []
    for _ in range(3):
        expected_losses.append(np.sum(point**2 + 20 * np.sin(np.pi * point) ** 2))
        point = point - 1e-3 * (2 * point + 20 * np.pi * np.sin(2 * np.pi * point))
    np.testing.assert_allclose(np.asarray(losses), expected_losses, rtol=1e-5)


def test_cpu_programs_hold_polynomials_and_no_conditional_while_gpus_get_the_native_sine():
    x = jnp.linspace(-5, 5, 64, dtype=jnp.float32)
    programs = (trig.sin, trig.cospi, jax.grad(lambda v: jnp.sum(rastrigin.rastrigin(v))),
                jax.hessian(lambda v: jnp.sum(trig.sin(v))))
    for fn in programs:
        compiled = jax.jit(fn).lower(x).compile().as_text()
        assert not any(op in compiled for op in (" sine(", " cosine(", " conditional(")), fn
    shape = jax.ShapeDtypeStruct((64,), jnp.float32)
    for platforms, native in ((["cuda"], True), (["cpu"], False)):
        module = jax.export.export(jax.jit(programs[2]), platforms=platforms)(shape).mlir_module()
        assert ("stablehlo.sine" in module) == native and ("round_nearest_even" in module) != native


def test_other_dtypes_take_the_native_functions_bit_for_bit():
    with jax.enable_x64(True):
        x = jnp.asarray(RNG.uniform(-10, 10, 1000))
        pairs = ((trig.sin, jnp.sin), (trig.sinpi, lambda v: jnp.sin(jnp.pi * v)),
                 (jax.vmap(jax.grad(trig.cos)), lambda v: -jnp.sin(v)))
        for mine, native in pairs:
            got = jax.jit(mine)(x)
            assert got.dtype == jnp.float64
            np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.jit(native)(x)))
        assert trig.sinpi(jnp.float32(0.5)).dtype == jnp.float32  # a float32 run stays float32 under x64
        assert trig.sin(3).dtype == jnp.float64  # integers promote as jnp.sin promotes them
    for dtype in (jnp.bfloat16, jnp.float16):
        x = jnp.linspace(-3, 3, 101, dtype=dtype)
        np.testing.assert_array_equal(np.asarray(jax.jit(trig.cospi)(x), np.float32),
                                      np.asarray(jax.jit(lambda v: jnp.cos(jnp.pi * v))(x), np.float32))
        assert jax.grad(lambda v: trig.sin(v).sum())(x).dtype == dtype


def test_the_benchmark_runs_and_prints_speed_and_accuracy():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "trig.py"), "--small"],
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    assert sum(1 for row in rows if row[:1] in (["sin"], ["cos"], ["sinpi"]) and "[" in " ".join(row)) == 6
    accuracy = [row for row in rows if row[:1] in (["sin"], ["cos"], ["sinpi"], ["cospi"]) and "[" not in " ".join(row)]
    assert len(accuracy) == 4 and all(float(row[2]) <= BOUND and float(row[3]) <= BOUND for row in accuracy)
