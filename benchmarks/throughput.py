"""Throughput of the suite's runner against a bare program and a Python loop.

Adam on Rastrigin, one learning rate. For each (restarts, dimension) it prints
updates per second (restarts × dimension × steps / run seconds, compile time
excluded) of:

* suite: ``suite.runner.run_group``, as ``suite run`` uses it (summaries,
  51 targets, checkpoints, chunks with early-stop checks);
* bare: a hand-written ``jit(vmap(lax.scan))`` of the same work: each step
  evaluates the loss (with the suite's sine, ``suite.trig.sinpi``) and
  gradient, applies Adam and keeps the best loss;
* grad-only: the same without reading the loss, which lets XLA drop the loss's
  forward pass (less work than a benchmark needs; shown for scale);
* loop: a Python loop over restarts of one jitted ``lax.scan`` (timed on at
  most ``--loop-restarts`` restarts; a rate needs no more);

and the ratios suite/bare and suite/loop. Each timing is the median of
``--repeats`` runs. Usage::

    python benchmarks/throughput.py              # CPU-sized
    python benchmarks/throughput.py --large      # GPU-sized (65,536 restarts × 1,000 dims)
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

from suite import compiler, plan, runner, streams
from suite import config as cfg
from suite.registry import load_registry

try:
    from suite.trig import sinpi
except ImportError:  # a checkout from before the trig module: the landscape uses jnp.sin too
    def sinpi(x):
        return jnp.sin(jnp.pi * x)

LEARNING_RATE = 0.01


def rastrigin(x):
    """The suite's Rastrigin, Σ x² + 20 sin²(πx), with the same sine."""
    return jnp.sum(x * x + 20.0 * sinpi(x) ** 2)


def _restart(tx, dim: int, steps: int, track_best: bool):
    def one(key):
        x = jax.random.uniform(key, (dim,), minval=-5.12, maxval=5.12)

        def step(carry, _):
            x, state, best = carry
            value, grad = jax.value_and_grad(rastrigin)(x)
            updates, state = tx.update(grad, state, x)
            if track_best:
                best = jnp.minimum(best, value)
            return (optax.apply_updates(x, updates), state, best), None

        (x, _, best), _ = jax.lax.scan(step, (x, tx.init(x), jnp.inf), None, length=steps)
        return rastrigin(x) + best

    return one


def bare_program(restarts: int, dim: int, steps: int, track_best: bool = True):
    """``jit(vmap(lax.scan))``. With ``track_best=False`` nothing reads the loss,
    so XLA drops its forward pass: a program that does less work than any
    benchmark must (kept as a column to show the size of that effect)."""
    one = _restart(optax.adam(LEARNING_RATE), dim, steps, track_best)
    keys = jax.random.split(jax.random.key(0), restarts)
    compiled = jax.jit(jax.vmap(one)).lower(keys).compile()
    return lambda: compiled(keys).block_until_ready()


def loop_program(restarts: int, dim: int, steps: int):
    """A Python loop over restarts, each one call of a jitted scan."""
    one = jax.jit(_restart(optax.adam(LEARNING_RATE), dim, steps, True))
    keys = list(jax.random.split(jax.random.key(0), restarts))
    one(keys[0]).block_until_ready()  # compile
    return lambda: [one(k).block_until_ready() for k in keys]


def suite_program(restarts: int, dim: int, steps: int, registry, cache):
    config = cfg.RunConfig(
        landscapes=[cfg.Component("rastrigin", {"dim": [dim]})],
        optimizers=[cfg.Component("adam", {"learning_rate": [LEARNING_RATE]})],
        restarts=restarts, steps=steps)
    # One compiled program timed again and again: run_group on one draw, with the cache kept.
    landscapes, optimizers = plan.resolve(config, registry)
    draw = streams.draw(landscapes[0], config.seed)
    runner.run_group(draw, optimizers, config, cache=cache)  # compile

    def run():
        return runner.run_group(draw, optimizers, config, cache=cache).run_seconds

    return run


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="GPU-sized problems")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-restarts", type=int, default=32)
    args = parser.parse_args()
    if args.large:
        sizes = [(4096, 100), (4096, 1000), (65536, 100), (65536, 1000)]
        steps = args.steps or 1000
    else:
        sizes = [(256, 10), (256, 100), (1024, 10), (1024, 100), (4096, 100)]
        steps = args.steps or 500
    registry = load_registry()
    cache = compiler.ProgramCache()
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} × {jax.device_count()}; "
          f"jax {jax.__version__}; Adam on Rastrigin, {steps} steps; updates/s, median of {args.repeats}")
    header = (f"{'restarts':>9} {'dim':>5} {'suite':>10} {'bare':>10} {'grad-only':>10} "
              f"{'loop':>10} {'suite/bare':>11} {'suite/loop':>11}")
    print(header)
    print("-" * len(header))
    for restarts, dim in sizes:
        work = restarts * dim * steps
        suite_run = suite_program(restarts, dim, steps, registry, cache)
        # The runner reports its own run seconds (compile excluded); it does
        # steps + 1 evaluations for `steps` updates.
        suite_s = statistics.median(suite_run() for _ in range(args.repeats))
        bare_s = median_seconds(bare_program(restarts, dim, steps), args.repeats)
        grad_s = median_seconds(bare_program(restarts, dim, steps, track_best=False), args.repeats)
        n_loop = min(restarts, args.loop_restarts)
        loop_s = median_seconds(loop_program(n_loop, dim, steps), args.repeats) * restarts / n_loop
        suite_r, bare_r, grad_r, loop_r = (work / s for s in (suite_s, bare_s, grad_s, loop_s))
        print(f"{restarts:>9} {dim:>5} {suite_r:>10.3g} {bare_r:>10.3g} {grad_r:>10.3g} "
              f"{loop_r:>10.3g} {suite_r / bare_r:>11.2f} {suite_r / loop_r:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
