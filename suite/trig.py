"""Sine and cosine that XLA:CPU vectorises, within 1.5 ulp in float32: ``sin``, ``cos``, ``sinpi``, ``cospi``.

Why: XLA:CPU does not vectorise ``jnp.sin``/``jnp.cos``. Each 8-wide vector
sine becomes eight calls to the C library's scalar ``sinf`` (``sincosf`` in
gradients), and Rastrigin's loss spends most of its time there (issue 18).
Here the float32 functions are a range reduction plus polynomials, plain
arithmetic that XLA vectorises, chosen for the CPU at lowering time by
``jax.lax.platform_dependent``; other backends (GPU, TPU) and other dtypes
(float64 under x64, bfloat16, float16, complex) get the native ``jnp.sin`` /
``jnp.cos``. The compiled CPU program holds no conditional and no ``sine``.

Method (float32 on CPU):

* ``sinpi(x) = sin(πx)``, ``cospi(x) = cos(πx)``: k = round(2|x|), r = |x| − k/2
  is exact in float arithmetic, |r| ≤ 1/4, so every float32 is in the domain.
* ``sin``, ``cos``: k = round(|x|·2/π) and r = |x| − k·π/2 by the reduction of
  Cody & Waite (1980): π/2 split into three 12-bit parts, whose products with
  k < 2^12 are exact, and a fourth full part; the last steps keep their rounding
  errors (Knuth's TwoSum), so r is known as r_hi + r_lo to about 2^-60 even
  where r nearly cancels (floats next to multiples of π/2).
* sin r and cos r on [−π/4, π/4] (sin πr, cos πr on [−1/4, 1/4]) by minimax
  polynomials in r² as in Cephes (Moshier 1989), refitted one degree higher
  (relative error ≤ 2^-33, far below float32's 2^-24). Their leading terms are
  evaluated so the large parts are exact products and sums (r split at 2^-8,
  the constants split into short heads and tails), so each result takes about
  one rounding.
* The quadrant k mod 4 (plus the shift of cos) picks ±sin r or ±cos r by
  selects; no branches.

Accuracy (against float64 NumPy, in ulps of the float32 reference, floored at
the smallest normal since XLA:CPU flushes subnormals; ``tests/test_trig.py``
checks millions of points and the reduction's hard cases, ``benchmarks/trig.py``
prints the errors): within 1.5 ulp for values, first and second derivatives
over the domain (measured ≤ 1.02 ulp, ≤ 0.9 for sin and cos), with or without
fused multiply-adds.

Domain: every float32 for ``sinpi``/``cospi``; |x| ≤ 4096 for ``sin``/``cos``
(the landscapes need |x| ≤ 1034: BBOB's T_osz takes sin(c·ln|x|), c ≤ 10,
|ln|x|| ≤ 103.3 for every nonzero float32). For 4096 < |x| ≤ 2^20 the
reduction is no longer exact: the absolute error grows up to |x|·2^-23 (about
1e-7 where XLA fuses multiply-adds), values stay in [−1, 1]. Beyond 2^20 the
argument is taken as 0 (sin → ±0, cos → 1). That is acceptable: there one ulp
of x is ≥ 1/8 radian, so the float argument no longer determines the phase.
inf and NaN give NaN. sin(±0) = sinpi(±0) = ±0 as in libm; the other exact
zeros (sinpi at integers, cospi at half-integers) may carry either sign.

Derivatives are defined by ``jax.custom_jvp`` (d sin = cos dx, d sinpi = π cospi
dx, ...), each evaluated by the same method with the factor π folded into the
coefficients, so gradients and Hessians are as accurate as the values (the
derivative of a minimax polynomial is not).

References:
  W. J. Cody and W. Waite, "Software Manual for the Elementary Functions",
  Prentice-Hall, 1980 (argument reduction with split constants).
  S. L. Moshier, "Methods and Programs for Mathematical Functions", Ellis
  Horwood, 1989; the Cephes library's ``sinf.c`` (float32 polynomials).
  D. E. Knuth, "The Art of Computer Programming", vol. 2, §4.2.2 (TwoSum).
"""

from __future__ import annotations

import decimal
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["cos", "cospi", "sin", "sinpi", "SIN_DOMAIN"]

SIN_DOMAIN = 4096.0  # |x| ≤ this: sin and cos within 1.5 ulp (the reduction is exact)
_LIMIT_RAD = 2.0**20  # beyond: the argument is taken as 0 (one ulp of x ≥ 1/8 rad)
_LIMIT_PI = 2.0**24  # every float32 from here on is an even integer: sin πx = 0, cos πx = 1
_SPLIT = 1.5 * 2.0**15  # (r + _SPLIT) − _SPLIT rounds |r| < 1 to a multiple of 2^-8 (≤ 8 bits)

# π to 50 digits: the source of every constant below (float64 holds only 53 bits).
_PI = decimal.Decimal("3.14159265358979323846264338327950288419716939937510")

# Minimax tails, relative error on the whole interval (Remez, refitted from Cephes' forms):
# sin r = r + r·u·P(u) and cos r = 1 − u/2 + u²·Q(u), u = r², |r| ≤ π/4 (2^-37.5, 2^-33.0);
# sin πr = πr + r·u·P(u) and cos πr = 1 − (π²/2)u + u²·Q(u), |r| ≤ 1/4 (2^-37.5, 2^-33.0).
_SIN_P = (-0.16666666640797043, 0.008333329304842318, -0.0001983931226939832, 2.718121627112919e-06)
_COS_Q = (0.04166664568297498, -0.0013887316254325506, 2.4433157054207717e-05)
_SINPI_P = (-5.1677127720287634, 2.5501628070797993, -0.5992054049102434, 0.08102475758391829)
_COSPI_Q = (4.058710082414435, -1.3351115774671696, 0.23183476852994003)


def _split(value: decimal.Decimal | float, bits: int) -> tuple[float, float]:
    """``value`` as head + tail: the head rounded to ``bits`` significant bits, the tail to float32."""
    value = decimal.Decimal(value)
    if value == 0:
        return 0.0, 0.0
    exponent = math.frexp(float(value))[1]
    step = decimal.Decimal(2) ** (exponent - bits)
    head = (value / step).to_integral_value(decimal.ROUND_HALF_EVEN) * step
    return float(head), float(np.float32(float(value - head)))


def _cody_waite_parts() -> tuple[float, float, float, float]:
    """π/2 as three 12-bit parts (k·part exact for integers k < 2^12) and a float32 rest."""
    with decimal.localcontext(decimal.Context(prec=60)):
        rest, parts = _PI / 2, []
        for _ in range(3):
            head, _ = _split(rest, 12)
            parts.append(head)
            rest -= decimal.Decimal(head)
        return (*parts, float(np.float32(float(rest))))


_HALF_PI_PARTS = _cody_waite_parts()


class _Coefficients(NamedTuple):
    """scale·sin(ωr) = a·r + r·u·P(u) and scale·cos(ωr) = b + c·u + u²·Q(u), each constant split."""

    a: tuple[float, float]  # (16-bit head: rh·head exact, tail)
    p: tuple[float, ...]
    b: tuple[float, float]  # (float32 head, tail)
    c: tuple[float, float]  # (8-bit head: head·rh² exact, tail)
    q: tuple[float, ...]


@functools.lru_cache(maxsize=None)
def _coefficients(family: str, order: int) -> _Coefficients:
    """The polynomials of ω^order·sin(ωr), ω^order·cos(ωr): ω = 1 ('rad') or π ('pi')."""
    with decimal.localcontext(decimal.Context(prec=60)):
        if family == "rad":
            return _Coefficients((1.0, 0.0), _SIN_P, (1.0, 0.0), (-0.5, 0.0), _COS_Q)
        scale = _PI**order
        b_head = float(np.float32(float(scale)))
        return _Coefficients(_split(scale * _PI, 16), tuple(float(scale) * v for v in _SINPI_P),
                             (b_head, float(np.float32(float(scale - decimal.Decimal(b_head))))),
                             _split(-scale * _PI**2 / 2, 8), tuple(float(scale) * v for v in _COSPI_Q))


def _horner(u, coefficients):
    acc = jnp.float32(coefficients[-1])
    for value in coefficients[-2::-1]:
        acc = acc * u + jnp.float32(value)
    return acc


def _two_sum(a, b):
    """a + b = s + e exactly (Knuth's TwoSum, no precondition on the magnitudes)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def _reduce_rad(ax):
    """|x| = k·π/2 + r_hi + r_lo, |r_hi| ≲ π/4 (Cody & Waite 1980, with the last errors kept)."""
    p1, p2, p3, p4 = (jnp.float32(p) for p in _HALF_PI_PARTS)
    k = jnp.round(ax * jnp.float32(2 / math.pi))
    t = ax - k * p1  # exact: k·p1 is exact and close to ax (Sterbenz)
    t, lo = _two_sum(t, -(k * p2))
    t, e = _two_sum(t, -(k * p3))
    lo = lo + e - k * p4
    hi = t + lo
    return k, hi, lo - (hi - t)


def _polynomials(r, lo, family: str, order: int):
    """(ω^order sin ωρ, ω^order cos ωρ) for ρ = r + lo, each with about one rounding."""
    co = _coefficients(family, order)
    f32 = jnp.float32
    # r's leading 8 bits (XLA does not reassociate float adds): products with short heads are exact.
    rh = (r + f32(_SPLIT)) - f32(_SPLIT)
    rl = r - rh
    u = r * r
    small = rl if lo is None else rl + lo
    linear = small * f32(co.a[0] + co.a[1])
    if co.a[1]:
        linear = linear + rh * f32(co.a[1])
    sine = rh * f32(co.a[0]) + (linear + r * (u * _horner(u, co.p)))
    head = f32(co.c[0]) * (rh * rh)  # exact: 8-bit constant × 16-bit square
    w = f32(co.b[0]) + head
    tail = (f32(co.b[0]) - w) + head  # exact rounding error of w (Fast2Sum: |b| ≥ |head|)
    if co.b[1]:
        tail = tail + f32(co.b[1])
    if co.c[1]:
        tail = tail + f32(co.c[1]) * (rh * rh)
    tail = tail + f32(co.c[0] + co.c[1]) * (rl * (r + rh))  # c·(r² − rh²)
    if lo is not None:  # d cos ρ/dρ = −sin ρ ≈ −r (this family has c = −½)
        tail = tail - r * lo
    cosine = w + (tail + u * (u * _horner(u, co.q)))
    return sine, cosine


def _wave_cpu(x, family: str, shift: int, order: int):
    """ω^order·sin(ωx + shift·π/2) in float32 by reduction and polynomials (see the module docstring)."""
    ax = jnp.abs(x)
    limit = _LIMIT_RAD if family == "rad" else _LIMIT_PI
    ax = jnp.where(ax <= jnp.float32(limit), ax, ax * jnp.float32(0.0))  # inf·0 = NaN: inf gives NaN
    if family == "rad":
        k, r, lo = _reduce_rad(ax)
    else:
        k = jnp.round(ax + ax)
        r, lo = ax - jnp.float32(0.5) * k, None  # exact
    sine, cosine = _polynomials(r, lo, family, order)
    # sin(±|x| + shift·π/2): quadrant q = k + shift; an even shift gives an odd function (sign of x),
    # an odd shift an even one (−shift ≡ shift + 2 mod 4 flips the sign back).
    q = k.astype(jnp.int32) + shift
    value = jnp.where((q & 1) == 0, sine, cosine)
    negative = (q & 2) != 0
    if shift % 2 == 0:
        negative = negative != jnp.signbit(x)
    return jnp.where(negative, -value, value)


def _wave_native(x, family: str, shift: int, order: int):
    """The same function by ``jnp.sin``/``jnp.cos``: for other backends and dtypes."""
    omega = math.pi if family == "pi" else 1.0
    y = x * omega if family == "pi" else x
    value = (jnp.sin, jnp.cos)[shift % 2](y)
    if shift % 4 >= 2:
        value = -value
    return value * omega**order if order else value


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _wave(x, family: str, shift: int, order: int):
    """ω^order·sin(ωx + shift·π/2): the polynomials on CPU in float32, else the native functions."""
    if x.dtype != jnp.float32:
        return _wave_native(x, family, shift, order)
    return jax.lax.platform_dependent(x, cpu=functools.partial(_wave_cpu, family=family, shift=shift, order=order),
                                      default=functools.partial(_wave_native, family=family, shift=shift,
                                                                order=order))


@_wave.defjvp
def _wave_jvp(family, shift, order, primals, tangents):
    # d/dx ω^n sin(ωx + sπ/2) = ω^(n+1) sin(ωx + (s+1)π/2): the same method, one quadrant on.
    (x,), (dx,) = primals, tangents
    return _wave(x, family, shift, order), _wave(x, family, (shift + 1) % 4, order + (family == "pi")) * dx


# One program per shape when called outside jit (op by op, the ~60 operations would each compile);
# inside a jit this nests and is inlined, so the caller's program is unchanged.
_jit_wave = jax.jit(_wave, static_argnums=(1, 2, 3))


def _inexact(x) -> jax.Array:
    """``x`` as an array; integers promote to the default float, as ``jnp.sin`` does."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x * 1.0


def sin(x: jax.typing.ArrayLike) -> jax.Array:
    """sin x: ``jnp.sin``, vectorised on XLA:CPU in float32 (≤ 1.5 ulp for |x| ≤ 4096; see the module)."""
    return _jit_wave(_inexact(x), "rad", 0, 0)


def cos(x: jax.typing.ArrayLike) -> jax.Array:
    """cos x: ``jnp.cos``, vectorised on XLA:CPU in float32 (≤ 1.5 ulp for |x| ≤ 4096; see the module)."""
    return _jit_wave(_inexact(x), "rad", 1, 0)


def sinpi(x: jax.typing.ArrayLike) -> jax.Array:
    """sin(πx), exact at integers and half-integers, reduced exactly: ≤ 1.5 ulp for every float32 x.

    Example:
      >>> import jax.numpy as jnp
      >>> from suite import trig
      >>> [float(v) for v in trig.sinpi(jnp.array([0.0, 0.5, 1.5, 2.5]))]
      [0.0, 1.0, -1.0, 1.0]
    """
    return _jit_wave(_inexact(x), "pi", 0, 0)


def cospi(x: jax.typing.ArrayLike) -> jax.Array:
    """cos(πx), exact at integers and half-integers, reduced exactly: ≤ 1.5 ulp for every float32 x."""
    return _jit_wave(_inexact(x), "pi", 1, 0)
