"""Loss and gradient of the spherical p-spin glass for many restarts: time and memory.

For p = 3 and each N it evaluates ``value_and_grad`` of the suite's ``pspin``
loss (energy per spin at the retracted point) for ``--restarts`` points at
once, under one ``jit(vmap(...))``, and compares it with the plain way: the
same loss written as one ``einsum`` over an unsymmetrised tensor and
differentiated by autodiff. Printed per implementation:

* seconds per step (median of ``--repeats``, compile excluded) and the ratio
  plain/suite;
* XLA's temporary buffer size for the step, against the size a restarts × N³
  tensor would have;
* peak memory of the process: resident set size on a CPU, device peak bytes on
  an accelerator (each configuration runs in a fresh subprocess, so peaks do
  not mix).

Usage::

    python benchmarks/pspin.py                    # N = 200, 400 (CPU-sized)
    python benchmarks/pspin.py --n 400 800 1000   # larger, on a GPU
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp


def _measure(n: int, p: int, restarts: int, impl: str, repeats: int) -> dict:
    from suite.landscapes import pspin

    landscape = pspin.build({"n": n, "p": p}, key=jax.random.key(0))
    sigmas = jax.vmap(landscape.init)(jax.random.split(jax.random.key(1), restarts))
    if impl == "suite":
        loss = landscape.loss
    else:
        couplings = jax.random.normal(jax.random.key(0), (n,) * p)  # unsymmetrised, as drawn
        letters = "abcd"[:p]
        spec = ",".join([letters, *letters])

        def loss(sigma):
            on_sphere = pspin.retract(sigma)
            return jnp.einsum(spec, couplings, *([on_sphere] * p)) * n ** (-(p - 1) / 2) / n

    step = jax.jit(jax.vmap(jax.value_and_grad(loss)))
    compiled = step.lower(sigmas).compile()
    stats = compiled.memory_analysis()
    temp = int(stats.temp_size_in_bytes) if stats is not None else -1
    jax.block_until_ready(compiled(sigmas))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(sigmas))
        times.append(time.perf_counter() - start)
    device = jax.devices()[0]
    if device.platform == "cpu":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    else:
        peak = (device.memory_stats() or {}).get("peak_bytes_in_use", -1)
    return {"seconds": statistics.median(times), "temp": temp, "peak": peak,
            "device": f"{device.platform}:{device.device_kind}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 400], help="numbers of spins")
    parser.add_argument("--p", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--impl", nargs="+", default=["suite", "plain"], choices=["suite", "plain"])
    parser.add_argument("--one", nargs=2, metavar=("N", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(int(args.one[0]), args.p, args.restarts, args.one[1], args.repeats)))
        return

    print(f"p = {args.p}, {args.restarts} restarts, loss and gradient per step")
    header = f"{'N':>6} {'impl':>6} {'s/step':>9} {'plain/suite':>11} {'XLA temp':>10} {'R×N³':>10} {'peak':>10}"
    print(header)
    print("-" * len(header))
    device = ""
    for n in args.n:
        rows = {}
        for impl in args.impl:
            done = subprocess.run([sys.executable, __file__, "--one", str(n), impl, "--p", str(args.p),
                                   "--restarts", str(args.restarts), "--repeats", str(args.repeats)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                rows[impl] = None
                last = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{n:>6} {impl:>6} failed: {last[:100]}")
                continue
            rows[impl] = json.loads(done.stdout.strip().splitlines()[-1])
            device = rows[impl]["device"]
        cube = args.restarts * n**3 * 4
        for impl, row in rows.items():
            if row is None:
                continue
            ratio = (f"{rows['plain']['seconds'] / row['seconds']:.2f}"
                     if impl == "suite" and rows.get("plain") else "")
            print(f"{n:>6} {impl:>6} {row['seconds']:>9.3f} {ratio:>11} {_gib(row['temp']):>10} "
                  f"{_gib(cube):>10} {_gib(row['peak']):>10}")
    print(f"device: {device}; sizes in GiB; peak: process RSS on CPU, device peak on accelerators")


def _gib(value: int) -> str:
    return "?" if value < 0 else f"{value / 2**30:.2f}"


if __name__ == "__main__":
    main()
