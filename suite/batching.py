"""Batching: how many restarts run at once (device memory) and how many steps per chunk.

Restarts are split into equal batches that fit the device's memory budget;
steps run in chunks so that progress moves and a batch whose restarts are
all frozen stops early. Nothing here changes a result: every draw is keyed
by restart and step (:mod:`suite.streams`).
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp

from suite import program
from suite.config import RunConfig

# Live memory per restart relative to its state (point + optimizer state):
# the state in and out of the scan step, gradient, updates and temporaries.
STATE_MEMORY_FACTOR = 8


def memory_budget(device: jax.Device) -> int:
    """Bytes a program may use on ``device``: most of an accelerator, half of host RAM."""
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001
        stats = {}
    if "bytes_limit" in stats:
        return int(0.8 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    try:
        return int(0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def default_chunk(steps: int) -> int:
    """About 20 chunks per run, so progress moves and early stops are cheap to check."""
    return max(1, math.ceil((steps + 1) / 20))


def _one_restart(static: program.Static, instance, hparams: dict, ctx: program.Context) -> program.RestartState:
    """Shapes of the state of one setting's one restart."""
    return jax.eval_shape(functools.partial(program.init, static), instance,
                          jax.tree.map(lambda h: jax.ShapeDtypeStruct((1,), h.dtype), hparams),
                          jax.ShapeDtypeStruct((1,), jnp.int32), jax.random.key(0), jax.random.key(0), ctx)


def batch_size(static: program.Static, instance, hparams: dict, ctx: program.Context, budget: int,
               config: RunConfig, n_settings: int) -> int:
    """Restarts per batch: ``config.batch``, or equal batches that fit ``budget`` bytes."""
    if config.batch:
        return min(config.batch, config.restarts)
    one = _one_restart(static, instance, hparams, ctx)
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(one)) or 1
    fits = max(1, budget // (STATE_MEMORY_FACTOR * state_bytes * n_settings))
    n_batches = math.ceil(config.restarts / min(fits, config.restarts))
    # Equal batches waste less padding than one full batch and a small remainder.
    return math.ceil(config.restarts / n_batches)


def traffic_bytes(static: program.Static, instance, hparams: dict, ctx: program.Context) -> int:
    """Bytes a restart-step reads and writes at least: its point and optimizer state, in and out."""
    one = _one_restart(static, instance, hparams, ctx)
    return 2 * sum(x.size * x.dtype.itemsize for x in jax.tree.leaves((one.x, one.opt_state)))
