"""``suite.trig`` against ``jnp.sin``/``jnp.cos`` on this machine: speed in interleaved rounds, and accuracy.

Speed: for each function g ∈ {sin, cos, sinpi} the Rastrigin term
f(x) = Σ x² + 20 g(πx)² (with sinpi: 20 sinpi(x)²) over a [restarts, dim]
float32 batch uniform on [−5.12, 5.12] (default [1024, 1000]), jitted and
vmapped over restarts, as the value alone and as ``value_and_grad``. Each
round times native and ``suite.trig`` once each (order alternating between
rounds, so drift hits both alike); a time is the mean of as many calls as fill
``--seconds``. Printed: median milliseconds a call and native ÷ trig (above 1:
trig is faster) as median [min–max] over rounds.

Accuracy: the largest error, in ulps of the float32-rounded float64 NumPy
reference (ulp floored at the smallest normal: XLA:CPU flushes subnormals), of
value and first derivative, on an even grid over the domain plus the floats
next to the multiples of π/4 (sin, cos: range reduction's hard cases) or of 1/4
(sinpi, cospi). Usage::

    python benchmarks/trig.py             # [1024, 1000], 5 rounds, 4M grid points
    python benchmarks/trig.py --small     # a few seconds (the tests run it)
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from suite import trig

NATIVE = {"sin": lambda x: jnp.sin(jnp.pi * x), "cos": lambda x: jnp.cos(jnp.pi * x),
          "sinpi": lambda x: jnp.sin(jnp.pi * x)}
TRIG = {"sin": lambda x: trig.sin(jnp.pi * x), "cos": lambda x: trig.cos(jnp.pi * x), "sinpi": trig.sinpi}


def term(g):
    return lambda x: jnp.sum(x * x + 20.0 * g(x) ** 2)


def programs(g, mode: str):
    f = term(g)
    return jax.jit(jax.vmap(f if mode == "value" else jax.value_and_grad(f)))


def seconds_per_call(fn, x, budget: float) -> float:
    calls, start = 0, time.perf_counter()
    while True:
        jax.block_until_ready(fn(x))
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return elapsed / calls


def speed(args) -> None:
    x = jax.random.uniform(jax.random.key(0), (args.restarts, args.dim), jnp.float32, -5.12, 5.12)
    print(f"speed: Rastrigin term Σ x² + 20 g(πx)², float32 [{args.restarts}, {args.dim}], jit(vmap(·)), "
          f"{args.rounds} interleaved rounds; native ÷ trig above 1: trig is faster")
    print(f"{'g':6} {'mode':15} {'native ms':>10} {'trig ms':>10}   native ÷ trig [min–max]")
    for name in NATIVE:
        for mode in ("value", "value_and_grad"):
            pair = {"native": programs(NATIVE[name], mode), "trig": programs(TRIG[name], mode)}
            for fn in pair.values():
                jax.block_until_ready(fn(x))  # compile and warm up outside the timing
            times = {"native": [], "trig": []}
            for r in range(args.rounds):
                for who in (("native", "trig") if r % 2 == 0 else ("trig", "native")):
                    times[who].append(seconds_per_call(pair[who], x, args.seconds))
            ratios = [a / b for a, b in zip(times["native"], times["trig"])]
            print(f"{name:6} {mode:15} {1e3 * statistics.median(times['native']):10.3f} "
                  f"{1e3 * statistics.median(times['trig']):10.3f}   {statistics.median(ratios):5.2f} "
                  f"[{min(ratios):.2f}–{max(ratios):.2f}]")


def ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    ulp = np.maximum(np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64), 2.0**-126)
    return np.abs(got.astype(np.float64) - ref) / ulp


def neighbours(centres: np.ndarray, bound: float) -> np.ndarray:
    """The float32 nearest each centre and its three neighbours on each side, both signs, within ±bound."""
    out, up, down = [centres.astype(np.float32)], centres.astype(np.float32), centres.astype(np.float32)
    for _ in range(3):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(0))
        out += [up, down]
    points = np.concatenate(out)
    points = points[np.abs(points) <= bound]
    return np.concatenate([points, -points])


def accuracy(args) -> None:
    sin_box = trig.SIN_DOMAIN
    rad = np.concatenate([np.linspace(-sin_box, sin_box, args.points, dtype=np.float32),
                          neighbours(np.arange(1, sin_box / (np.pi / 4) + 2) * (np.pi / 4), sin_box)])
    half = np.concatenate([np.linspace(-8.0, 8.0, args.points, dtype=np.float32),
                           neighbours(np.arange(1, 4 * 2.0**12 + 1) / 4, 2.0**12)])
    x64, h64 = rad.astype(np.float64), half.astype(np.float64)
    # sin(πx) in float64 from x's exact reduction: x − k/2 is exact in float64 too.
    k = np.rint(2 * h64)
    sr, cr, q = np.sin(np.pi * (h64 - k / 2)), np.cos(np.pi * (h64 - k / 2)), k.astype(np.int64) % 4
    sinpi64 = np.choose(q, [sr, cr, -sr, -cr])
    cospi64 = np.choose(q, [cr, -sr, -cr, sr])
    cases = [("sin", trig.sin, rad, np.sin(x64), np.cos(x64), f"|x| ≤ {sin_box:g}"),
             ("cos", trig.cos, rad, np.cos(x64), -np.sin(x64), f"|x| ≤ {sin_box:g}"),
             ("sinpi", trig.sinpi, half, sinpi64, np.pi * cospi64, "|x| ≤ 8, quarters to 4096"),
             ("cospi", trig.cospi, half, cospi64, -np.pi * sinpi64, "|x| ≤ 8, quarters to 4096")]
    print(f"\naccuracy: max error in ulps against float64 NumPy ({args.points:,} grid points + the reduction's "
          "hard cases)")
    print(f"{'function':9} {'points':>10} {'value':>8} {'derivative':>11}   domain")
    for name, fn, points, value, slope in [c[:5] for c in cases]:
        got = np.asarray(jax.jit(fn)(points))
        grad = np.asarray(jax.jit(jax.vmap(jax.grad(fn)))(points))
        domain = next(c[5] for c in cases if c[0] == name)
        print(f"{name:9} {len(points):10,} {ulps(got, value).max():8.3f} {ulps(grad, slope).max():11.3f}   {domain}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3, help="time per contender per round")
    parser.add_argument("--points", type=int, default=4_000_000, help="grid points per function for accuracy")
    parser.add_argument("--small", action="store_true", help="tiny sizes: checks that the script runs")
    args = parser.parse_args(argv)
    if args.small:
        args.restarts, args.dim, args.rounds, args.seconds, args.points = 8, 16, 2, 0.01, 10_000
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}")
    speed(args)
    accuracy(args)


if __name__ == "__main__":
    main()
