"""Speed against the limit: the suite, bare JAX, PyTorch and a Python loop, timed in interleaved rounds.

Adam (learning rate 0.01) on every workload; every contender does the same
work from the **same starts** (the suite's own x0, given to JAX as arrays and
to PyTorch through NumPy) and **restarts from them at every repeat** with a
fresh optimizer state (see ``speed_contenders.py``). Workloads, in one run:

* **Rastrigin**, each ``--dims`` × each ``--restarts`` (default d 10 and
  1,000 × 1,024 and 4,096), ``--steps`` steps; rates in coordinate-updates/s
  (restarts × dim × steps / s), the unit of the GPU anchors;
* the **bowl** (``bowl``, d ``--bowl-dim``, rotated, κ 100), coordinate-updates/s;
* the **deep net** (``deep_net``, depth 8, width 256, 256 samples, 64
  restarts, sigmoid), restart-steps/s and achieved FLOP/s (6 × samples ×
  Σ n_in·n_out a restart-step: forward, and backward twice over).

Contenders: **suite** (``runner.run_group`` on the cell, its own run seconds:
compile excluded, steps + 1 loss evaluations, summaries, checkpoints and
chunks included); **suite @ DIR** with ``--against DIR``, another checkout's
suite in a persistent worker process (``speed_worker.py``), timed in the same
rounds; **jax bare**, a hand-written ``jit(vmap(lax.scan))`` with the same
math (the landscape's own loss: on Rastrigin Σ x² + 20 sinpi(x)² with
``suite.trig`` and its closed-form gradient), and on Rastrigin **jax bare,
grad once**, the same with the gradient computed once a step as the suite's
runner does on a CPU (so suite ÷ it is what the suite's bookkeeping costs:
targets, checkpoints, early stops), and **jax bare (jnp.sin)**, autodiff of
Σ x² + 20 sin²(πx) with ``jnp.sin``, to show what the trig module buys; **torch eager**
and **torch.compile** (batched tensors, ``torch.optim.Adam(fused=True)``,
``torch.bmm`` for the net; ``--no-compile`` skips the compiled one, slow to
compile); the **python loop**, one jitted scan per restart, timed on
``--loop-restarts`` restarts and scaled; on the net, **suite bfloat16**
(``--matmul-precision bfloat16``) and its accuracy against the default precision.

Fairness: denormals are flushed in every contender (``torch.set_flush_denormal``;
XLA:CPU flushes by default: both are checked and printed); on a GPU PyTorch
may use TF32 matmuls, as JAX's default precision does; every contender
compiles and runs once before timing; then ``--rounds`` rounds each time every
contender once, the order rotated a place each round, so drift hits all alike.
Per contender: the median seconds of the rounds, its rate, its fraction of
the limit (the roofline: the larger of Adam's 24 bytes a coordinate-step over
the copy bandwidth at the working set, and the FLOPs over the float32 matmul
rate; both measured again in every round, ``speed_contenders.Limits``), and
**suite ÷ it**, its seconds over the suite's in the same round (above 1: the
suite is faster), as median [min–max] over rounds. The median final loss
f(x_T) checks that all did the same work. Each table's heading gives the
machine's load: on a shared machine PyTorch's OpenMP threads suffer more from
other processes than XLA's, so its rows are trustworthy only at a load below
the core count. The last lines test the issue's bars where the sizes match,
each "met" when the median is.

``--json PATH`` writes every row; ``--small`` is the tiny configuration the
test suite runs, so this script cannot rot. Usage::

    python benchmarks/speed.py                                    # CPU-sized, a few minutes
    git worktree add /tmp/base d764495 && python benchmarks/speed.py --against /tmp/base
    python benchmarks/speed.py --workloads rastrigin --dims 1000 --restarts 65536 --steps 1000   # a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp

import speed_contenders as sc
from speed_worker import Against
from speed_bars import bars_of, print_bars
from suite.registry import load_registry
from suite_cell import suite_cell

ADAM_BYTES = 24  # x, m and v read and written: 6 float32 a coordinate a step


class Workload(NamedTuple):
    label: str
    landscape: str
    values: dict
    restarts: int
    steps: int
    coordinates: int  # per restart
    unit: str  # what a rate counts
    per_step: int  # units of work a restart-step: coordinates, or 1 (restart-steps)
    flops: float  # matrix-multiply FLOPs a restart-step (0: none counted)


def rastrigin_jnp(x):
    """Σ x² + 20 sin²(π x) with ``jnp.sin``, differentiated by autodiff: what the suite did before ``suite.trig``."""
    return jnp.sum(x * x + 20.0 * jnp.sin(jnp.pi * x) ** 2)


def workloads(args) -> list[Workload]:
    found = []
    if "rastrigin" in args.workloads:
        for dim in args.dims:
            for restarts in args.restarts:
                found.append(Workload(f"rastrigin d {dim:,} × {restarts:,} restarts", "rastrigin", {"dim": dim},
                                      restarts, args.steps, dim, "coordinate-updates/s", dim, 0.0))
    if "bowl" in args.workloads:
        d = args.bowl_dim  # rotated: Q z forward and Qᵀ g backward, 2d² FLOPs each
        found.append(Workload(f"bowl d {d:,} × {args.bowl_restarts:,} restarts", "bowl", {"dim": d},
                              args.bowl_restarts, args.steps, d, "coordinate-updates/s", d, 4.0 * d * d))
    if "net" in args.workloads:
        w, depth, samples = args.width, args.depth, args.samples
        sizes = [(w, w)] * (depth - 1) + [(w, 1)]
        found.append(Workload(f"deep_net depth {depth} width {w} × {args.net_restarts:,} restarts", "deep_net",
                              {"depth": depth, "width": w, "samples": samples}, args.net_restarts,
                              args.net_steps, sum(a * b + b for a, b in sizes), "restart-steps/s", 1,
                              6.0 * samples * sum(a * b for a, b in sizes)))
    return found


def starts(draw, restarts: int):
    """The suite's starts: restart i at ``instance.init(fold_in(draw.init, i))`` (``suite.streams``)."""
    ids = jnp.arange(restarts, dtype=jnp.int32)
    return jax.vmap(lambda i: draw.instance.init(jax.random.fold_in(draw.init, i)))(ids)


def contenders(work: Workload, args, draw, registry, against: Against | None) -> dict:
    """The contenders after the suite, in table order: name → a builder that compiles and returns ``run()``."""
    x0, loss, data = starts(draw, work.restarts), draw.instance.loss, draw.instance.data
    found = {}
    if against is not None:
        found[f"suite @ {against.name}"] = lambda: against.cell(work.landscape, work.values, work.restarts, work.steps)
    if work.landscape == "rastrigin":
        found["jax bare"] = lambda: sc.jax_bare(loss, x0, work.steps)
        found["jax bare, grad once"] = lambda: sc.jax_bare(loss, x0, work.steps, once=True)
        found["jax bare (jnp.sin)"] = lambda: sc.jax_bare(rastrigin_jnp, x0, work.steps)
        leaves, torch_loss = [x0], sc.torch_rastrigin
    else:
        found["jax bare"] = lambda: sc.jax_bare(loss, x0, work.steps)
        if work.landscape == "bowl":
            leaves, torch_loss = [x0], sc.torch_bowl(data)
        else:
            leaves = [layer["w"] for layer in x0] + [layer["b"] for layer in x0]
            torch_loss = sc.torch_net(data, work.values["depth"])
    if sc.torch_available():
        found["torch eager"] = lambda: sc.torch_contender(leaves, torch_loss, work.steps, compiled=False)
        if not args.no_compile:
            found["torch.compile"] = lambda: sc.torch_contender(leaves, torch_loss, work.steps, compiled=True)
    found["python loop"] = lambda: sc.jax_loop(loss, x0, work.steps, args.loop_restarts)
    if work.landscape == "deep_net":
        found["suite bfloat16"] = lambda: suite_cell(work.landscape, work.values, work.restarts, work.steps,
                                                     precision="bfloat16", registry=registry)[0]
    return found


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(work: Workload, args, registry, against, matmul_n: int) -> list[dict]:
    """Builds every contender, times them in interleaved rounds with the limits, and returns one row each."""
    limits = sc.Limits(12 * work.coordinates * work.restarts, matmul_n if work.flops else None)
    suite, draw = suite_cell(work.landscape, work.values, work.restarts, work.steps, registry=registry)
    runs, failed = {"suite": suite}, {}
    for name, build in contenders(work, args, draw, registry, against).items():
        try:
            runs[name] = build()
        except Exception as error:  # noqa: BLE001 - one contender failing is a row saying so
            failed[name] = f"{type(error).__name__}: {error}".splitlines()[0][:160]
    seconds = {name: [] for name in runs}
    losses = {name: [] for name in runs}
    names, bandwidths, rates, floors = list(runs), [], [], []
    traffic = ADAM_BYTES * work.coordinates * work.restarts * work.steps
    for r in range(args.rounds):
        bandwidth, rate = limits.measure()
        bandwidths.append(bandwidth)
        rates.append(rate)
        floors.append(max(traffic / bandwidth, work.flops * work.restarts * work.steps / rate if rate else 0.0))
        for name in names[r % len(names):] + names[:r % len(names)]:
            if name in failed:
                continue
            try:
                s, f = runs[name]()
            except Exception as error:  # noqa: BLE001 - as above; the suite itself may not fail
                if name == "suite":
                    raise
                failed[name] = f"{type(error).__name__} in round {r + 1}: {error}".splitlines()[0][:160]
                continue
            seconds[name].append(s)
            losses[name].append(f)
    names = [name for name in names if name not in failed]
    units = work.restarts * work.steps * work.per_step
    common = {"workload": work.label, "landscape": work.landscape, "values": work.values, "restarts": work.restarts,
              "steps": work.steps, "bandwidth": statistics.median(bandwidths),
              "matmul_flops": statistics.median(rates) if work.flops else None, "floor_seconds": floors,
              "load": os.getloadavg()[0]}
    rows = []
    for name in names:
        mine, suite = seconds[name], seconds["suite"]
        median = statistics.median(mine)
        final = [f for f in losses[name] if f is not None]
        rows.append(common | {
            "contender": name, "seconds": mine, "median_seconds": median, "unit": work.unit, "rate": units / median,
            "gflops": work.flops * work.restarts * work.steps / median / 1e9 if work.flops else None,
            "limit_fraction": spread([floor / s for floor, s in zip(floors, mine, strict=True)]),
            "ratio": spread([s / t for s, t in zip(mine, suite, strict=True)]),
            "final_loss": statistics.median(final) if final else None, "error": None})
    rows += [common | {"contender": name, "error": error} for name, error in failed.items()]
    return rows


def print_table(work: Workload, rows: list[dict]) -> None:
    first = rows[0]
    print(f"\n{work.label}, Adam, {work.steps} steps; rates in {work.unit}; 1-minute load {first['load']:.1f} "
          f"(this run's included) on {os.cpu_count()} cores; limit (median of the rounds): {ADAM_BYTES} B a "
          f"coordinate-step at {first['bandwidth'] / 1e9:.1f} GB/s"
          + (f", or {work.flops:.3g} FLOP a restart-step at {first['matmul_flops'] / 1e9:.0f} GFLOP/s"
             if work.flops else ""))
    print(f"{'contender':<24} {'median s':>9} {'rate':>10} {'GFLOP/s':>8} {'of limit':>9} "
          f"{'suite ÷ it [min–max]':>22} {'median f(x_T)':>14}")
    for row in rows:
        if row["error"]:
            print(f"{row['contender']:<24} failed: {row['error']}")
            continue
        ratio, gflops = row["ratio"], row["gflops"]
        final = "" if row["final_loss"] is None else f"{row['final_loss']:.6g}"
        print(f"{row['contender']:<24} {row['median_seconds']:>9.3f} {row['rate']:>10.3g} "
              f"{'' if gflops is None else f'{gflops:.1f}':>8} {row['limit_fraction']['median']:>9.1%} "
              f"{ratio['median']:>6.2f} [{ratio['min']:.2f}–{ratio['max']:.2f}]".ljust(92)
              + f" {final:>13}", flush=True)
    by_name = {row["contender"]: row for row in rows if not row["error"]}
    if "suite bfloat16" in by_name:
        fast, exact = by_name["suite bfloat16"]["final_loss"], by_name["suite"]["final_loss"]
        change = abs(fast - exact) / max(abs(exact), 1e-30)
        print(f"bfloat16 matmuls (--matmul-precision bfloat16), accuracy: median final loss {fast:.6g} against "
              f"{exact:.6g} at the default precision (relative change {change:.2%})")


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", default=["rastrigin", "bowl", "net"],
                        choices=["rastrigin", "bowl", "net"])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 1000], help="Rastrigin dimensions")
    parser.add_argument("--restarts", type=int, nargs="+", default=[1024, 4096], help="Rastrigin restarts")
    parser.add_argument("--steps", type=int, default=100, help="steps on Rastrigin and the bowl")
    parser.add_argument("--bowl-dim", type=int, default=1000)
    parser.add_argument("--bowl-restarts", type=int, default=256)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--net-restarts", type=int, default=64)
    parser.add_argument("--net-steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop-restarts", type=int, default=8, help="restarts the Python loop times")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument("--against", metavar="DIR", help="another checkout whose suite is timed too")
    parser.add_argument("--json", metavar="PATH", help="write every row here")
    parser.add_argument("--small", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    if args.small:
        args.dims, args.restarts, args.steps, args.bowl_dim, args.bowl_restarts = [8], [16], 5, 8, 16
        args.width, args.net_restarts, args.net_steps, args.rounds, args.loop_restarts = 8, 4, 2, 2, 2
    return args


def main(argv=None) -> None:
    args = parse(argv)
    if sc.torch_available():
        import torch

        torch.set_flush_denormal(True)  # XLA:CPU flushes denormals by default; PyTorch must too
        # JAX's default float32 matmul precision on recent GPUs is TF32; PyTorch's is full float32.
        torch.backends.cuda.matmul.allow_tf32 = True
    registry = load_registry()
    device = jax.devices()[0]
    matmul_n = 128 if args.small else 2048 if device.platform == "cpu" else 8192
    flushed = sc.denormals_flushed()
    print("command: python " + shlex.join(["benchmarks/speed.py", *(sys.argv[1:] if argv is None else argv)]))
    print(f"device: {device.platform} {device.device_kind} × {jax.device_count()}; jax {jax.__version__}"
          + (f"; torch {torch.__version__}" if sc.torch_available() else "; PyTorch not installed: its rows skipped"))
    print("denormals flushed to zero (2e-38 × 0.5 → 0): "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in flushed.items())
          + "; Rastrigin's sin: suite.trig.sinpi")
    against = Against(args.against) if args.against else None
    if against is not None:
        print(f"suite @ {against.name}: the suite of {against.folder}, imported from {against.suite_file}")
    print(f"{args.rounds} interleaved rounds; suite ÷ it = its seconds over the suite's in the same round "
          "(above 1: the suite is faster), median [min–max] over rounds")
    results = {"command": sys.argv if argv is None else ["benchmarks/speed.py", *argv],
               "device": f"{device.platform}:{device.device_kind}", "platform": device.platform,
               "jax": jax.__version__, "denormals_flushed": flushed,
               "rounds": args.rounds, "rows": []}
    try:
        for work in workloads(args):
            rows = measure(work, args, registry, against, matmul_n)
            print_table(work, rows)
            results["rows"] += rows
    finally:
        if against is not None:
            against.close()
    results["bars"] = bars_of(results["rows"], device.platform, against.name if against else None)
    print_bars(results["bars"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
