"""Speed against the limit: the suite, a bare JAX program, PyTorch and a Python loop, in one run.

Two workloads, Adam throughout (one learning rate, compile time excluded,
median of ``--repeats``):

* **Rastrigin** (elementwise; dimension ``--dim``, each of ``--restarts``):
  updates per second (restart-steps) of the suite's runner, a bare
  ``jit(vmap(lax.scan))``, the same work in PyTorch as one batched tensor with
  Adam (``fused=True``), eager and ``torch.compile``d, and a Python loop over
  restarts; and each one's **fraction of the memory-bandwidth floor**: an Adam
  step must read and write x, m and v (6 × 4 bytes a coordinate; the gradient
  stays in registers), so the floor is that traffic over the device's copy
  bandwidth, measured on an array the size of x, m and v together.
* **deep_net** (matrix multiplies; depth 8, ``--width``, 256 samples,
  ``--net-restarts``): updates per second and **achieved FLOP/s** (6 × samples
  × Σ n_in·n_out per restart-step: forward, and backward twice over) against
  the device's measured float32 matrix-multiply rate, for the suite, a bare
  JAX program and batched PyTorch (``torch.bmm``; eager and compiled), and
  the suite with bfloat16 matrix multiplies (``--matmul-precision
  bfloat16``) with its accuracy impact: the median final loss against the
  default precision's, from the same starts.

PyTorch is a benchmark-only extra (``pip install torch``); without it its
columns say so. ``--small`` is the configuration the test suite runs so this
script cannot rot. Usage::

    python benchmarks/speed.py                          # CPU-sized
    python benchmarks/speed.py --restarts 1024 65536 --width 256 --net-restarts 256 --steps 1000   # a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from suite import compiler, plan, runner, streams
from suite import config as cfg
from suite.registry import load_registry
# The bare program and the Python loop are throughput.py's (this folder is on sys.path).
from throughput import bare_program as jax_bare
from throughput import loop_program as jax_loop

LEARNING_RATE = 0.01  # throughput.py's too
SAMPLES = 256
DEPTH = 8


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm up (compile)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- the device's limits -----------------------------------------------------------------


def copy_bandwidth(nbytes: int) -> float:
    """Bytes per second of the fastest copy (read + write) of an ``nbytes`` array on the device.

    Measured at the workload's own working set: on a CPU a state that fits in
    cache streams far faster than main memory, and a floor measured on a
    larger array would be one the workload never meets. The fastest of XLA's
    copy and, when installed, PyTorch's: on a CPU, XLA runs a simple copy on
    fewer threads than the memory system can feed.
    """
    x = jnp.ones(max(nbytes, 1 << 20) // 4, jnp.float32)
    copy = jax.jit(lambda a: a + 1.0)
    rates = [2 * x.nbytes / median_seconds(lambda: copy(x).block_until_ready(), 5)]
    if _torch_available() and jax.devices()[0].platform == "cpu":
        import torch

        t = torch.ones(x.size)
        rates.append(2 * x.nbytes / median_seconds(lambda: t.add(1.0), 5))
    return max(rates)


def matmul_rate(n: int) -> float:
    """float32 FLOP/s of an n × n matrix multiply."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    return 2 * n**3 / median_seconds(lambda: mm(a).block_until_ready(), 5)


# --- Rastrigin -----------------------------------------------------------------------------


def suite_group(landscape: cfg.Component, restarts: int, steps: int, registry, precision: str = "default",
                losses: list | None = None):
    """The runner's own run seconds for one cell; appends the median final loss to ``losses``."""
    config = cfg.RunConfig(landscapes=[landscape],
                           optimizers=[cfg.Component("adam", {"learning_rate": [LEARNING_RATE]})],
                           restarts=restarts, steps=steps, targets=(1e-30,), matmul_precision=precision)
    # One compiled program timed again and again: run_group on one draw, with the cache kept.
    landscapes, optimizers = plan.resolve(config, registry)
    draw = streams.draw(landscapes[0], config.seed)
    cache = compiler.ProgramCache(compiler.local_mesh())

    def run():
        result = runner.run_group(draw, optimizers, config, cache=cache)
        if losses is not None:
            losses.append(float(np.median(result.summary["loss"])))
        return result.run_seconds

    run()  # compile
    return run


def torch_rastrigin(restarts: int, dim: int, steps: int, compiled: bool):
    import torch

    x = (torch.rand(restarts, dim) * 10.24 - 5.12).requires_grad_(True)
    opt = _adam(torch, [x])

    def loss(x):
        return (x * x + 20.0 * torch.sin(torch.pi * x) ** 2).sum(-1)

    return _torch_loop(torch, loss, x, opt, steps, compiled, restarts)


def _adam(torch, params):
    try:
        return torch.optim.Adam(params, lr=LEARNING_RATE, fused=True)
    except (RuntimeError, TypeError):  # fused Adam missing on this build/device
        return torch.optim.Adam(params, lr=LEARNING_RATE, foreach=True)


def _torch_loop(torch, loss, x, opt, steps: int, compiled: bool, restarts: int):
    best = torch.full((restarts,), float("inf"))

    def step():
        opt.zero_grad(set_to_none=True)
        value = loss(x)
        value.sum().backward()
        opt.step()
        return value.detach()

    step_fn = torch.compile(step) if compiled else step

    def run():
        nonlocal best
        for _ in range(steps):
            best = torch.minimum(best, step_fn())

    return run


# --- deep_net ------------------------------------------------------------------------------


def net_flops(width: int) -> int:
    """FLOPs of one restart-step: forward 2·S·Σ n_in·n_out, backward twice that."""
    sizes = [(width, width)] * (DEPTH - 1) + [(width, 1)]
    return 6 * SAMPLES * sum(a * b for a, b in sizes)


def jax_net_bare(instance, restarts: int, steps: int):
    tx = optax.adam(LEARNING_RATE)

    def one(key):
        params = instance.init(key)

        def step(carry, _):
            params, state, best = carry
            value, grad = jax.value_and_grad(instance.loss)(params)
            updates, state = tx.update(grad, state, params)
            return (optax.apply_updates(params, updates), state, jnp.minimum(best, value)), None

        (_, _, best), _ = jax.lax.scan(step, (params, tx.init(params), jnp.inf), None, length=steps)
        return best

    keys = jax.random.split(jax.random.key(0), restarts)
    compiled = jax.jit(jax.vmap(one)).lower(keys).compile()
    return lambda: compiled(keys).block_until_ready()


def torch_net(instance, restarts: int, width: int, steps: int, compiled: bool):
    import torch

    x = torch.from_numpy(np.array(instance.data["x"]))
    y = torch.from_numpy(np.array(instance.data["y"]))
    weights, biases = [], []
    for i in range(DEPTH):
        n_out = 1 if i == DEPTH - 1 else width
        weights.append((torch.randn(restarts, width, n_out) / width**0.5).requires_grad_(True))
        biases.append(torch.zeros(restarts, 1, n_out, requires_grad=True))
    opt = _adam(torch, weights + biases)
    inputs = x.expand(restarts, *x.shape)

    def loss(_):
        h = inputs
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            h = torch.sigmoid(torch.bmm(h, w) + b)
        out = (torch.bmm(h, weights[-1]) + biases[-1])[..., 0]
        return 0.5 * ((out - y) ** 2).mean(-1)

    return _torch_loop(torch, loss, None, opt, steps, compiled, restarts)


# --- the table -----------------------------------------------------------------------------


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restarts", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--dim", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--net-restarts", type=int, default=64)
    parser.add_argument("--net-steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-restarts", type=int, default=8, help="restarts the Python loop times")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument("--small", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    if args.small:
        args.restarts, args.dim, args.steps = [16], 8, 5
        args.width, args.net_restarts, args.net_steps, args.repeats, args.loop_restarts = 8, 4, 2, 1, 2
    registry = load_registry()
    device = jax.devices()[0]
    rate = matmul_rate(128 if args.small else 2048)
    use_torch = _torch_available()
    print(f"device: {device.platform} {device.device_kind} × {jax.device_count()}; jax {jax.__version__}; "
          f"float32 matmul {rate / 1e9:.0f} GFLOP/s"
          + ("" if use_torch else "; PyTorch not installed (pip install torch): its rows are skipped"))
    print(f"\nRastrigin, dim {args.dim}, Adam, {args.steps} steps: updates/s (restart-steps) and fraction "
          f"of the bandwidth floor (6 × 4 bytes a coordinate a step)")
    print(f"{'restarts':>9} {'copy GB/s':>10} {'impl':<15} {'updates/s':>11} {'of floor':>9} {'suite ×':>8}")
    for restarts in args.restarts:
        work = restarts * args.steps
        bandwidth = copy_bandwidth(3 * 4 * restarts * args.dim)
        floor = 24 * args.dim * work / bandwidth
        rows = {"suite": None}
        suite_run = suite_group(cfg.Component("rastrigin", {"dim": [args.dim]}), restarts, args.steps, registry)
        rows["suite"] = statistics.median(suite_run() for _ in range(args.repeats))
        rows["jax bare"] = median_seconds(jax_bare(restarts, args.dim, args.steps), args.repeats)
        n = min(restarts, args.loop_restarts)
        rows["python loop"] = median_seconds(jax_loop(n, args.dim, args.steps), args.repeats) * restarts / n
        if use_torch:
            rows["torch eager"] = median_seconds(torch_rastrigin(restarts, args.dim, args.steps, False), args.repeats)
            if not args.no_compile:
                rows["torch.compile"] = median_seconds(torch_rastrigin(restarts, args.dim, args.steps, True),
                                                       args.repeats)
        for name, seconds in rows.items():
            print(f"{restarts:>9} {bandwidth / 1e9:>10.1f} {name:<15} {work / seconds:>11.3g} {floor / seconds:>9.1%} "
                  f"{seconds / rows['suite']:>8.2f}", flush=True)

    landscape = registry.landscape("deep_net")
    values = {"depth": DEPTH, "width": args.width, "samples": SAMPLES}
    instance = landscape.build(landscape.defaults | values, key=jax.random.key(0))
    flops = net_flops(args.width) * args.net_restarts * args.net_steps
    print(f"\ndeep_net depth {DEPTH}, width {args.width}, {SAMPLES} samples, {args.net_restarts} restarts, "
          f"Adam, {args.net_steps} steps: updates/s and achieved FLOP/s against the matmul rate")
    print(f"{'impl':<15} {'updates/s':>11} {'GFLOP/s':>9} {'of matmul':>10} {'suite ×':>8}")
    rows = {}
    component = cfg.Component("deep_net", {k: [v] for k, v in values.items()})
    exact, fast = [], []
    suite_run = suite_group(component, args.net_restarts, args.net_steps, registry, "default", exact)
    rows["suite"] = statistics.median(suite_run() for _ in range(args.repeats))
    bf16_run = suite_group(component, args.net_restarts, args.net_steps, registry, "bfloat16", fast)
    rows["suite bfloat16"] = statistics.median(bf16_run() for _ in range(args.repeats))
    rows["jax bare"] = median_seconds(jax_net_bare(instance, args.net_restarts, args.net_steps), args.repeats)
    if use_torch:
        rows["torch eager"] = median_seconds(torch_net(instance, args.net_restarts, args.width, args.net_steps, False),
                                             args.repeats)
        if not args.no_compile:
            rows["torch.compile"] = median_seconds(
                torch_net(instance, args.net_restarts, args.width, args.net_steps, True), args.repeats)
    for name, seconds in rows.items():
        print(f"{name:<15} {args.net_restarts * args.net_steps / seconds:>11.3g} {flops / seconds / 1e9:>9.1f} "
              f"{flops / seconds / rate:>10.1%} {seconds / rows['suite']:>8.2f}", flush=True)
    print(f"\nbfloat16 matmuls (--matmul-precision bfloat16), accuracy: median final loss {fast[-1]:.6g} "
          f"against {exact[-1]:.6g} at the default precision (relative change "
          f"{abs(fast[-1] - exact[-1]) / max(abs(exact[-1]), 1e-30):.2%}).")
    print("'suite ×': an implementation's seconds over the suite's (above 1: the suite is faster). "
          "The suite's seconds are its runner's own (summaries, 1 target, checkpoints, chunks); "
          "it evaluates steps + 1 losses for steps updates.")


if __name__ == "__main__":
    main()
