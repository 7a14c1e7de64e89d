"""Compilation: programs lowered once, cached by what shapes them, sharded over devices.

A :class:`ProgramCache` compiles :func:`suite.program.init` and
:func:`suite.program.run_chunk` for one static configuration and argument
signature, and hands the same executable to every later group with the same
shapes: two instances of one landscape structure, or two sweeps of one
optimizer, compile once. With several devices (or processes) the restarts
axis is split over a one-axis mesh. A run's float precision is a scope
around tracing (:func:`precision_scope`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from suite import program

RESTART_AXIS = "restarts"


@dataclasses.dataclass
class CompiledProgram:
    init: Callable
    chunk: Callable
    compile_seconds: float
    batch: int


class ProgramCache:
    """Compiled programs keyed by what shapes them, kept across groups and runs.

    Two landscape instances with the same structure and two sweeps of the same
    optimizer reuse one executable: only arrays change.
    """

    def __init__(self, mesh: Mesh | None = None):
        self._programs: dict = {}
        self.compilations = 0
        # Restarts shard over the mesh's devices; None (one device) keeps the plain program.
        self.mesh = mesh

    def get(self, static: program.Static, args: tuple, budget: int, batch: int) -> CompiledProgram:
        key = (static, _signature(args), budget, batch)
        if key in self._programs:
            found = self._programs[key]
            return dataclasses.replace(found, compile_seconds=0.0)
        compiled = self._compile(static, args, budget, batch)
        self._programs[key] = compiled
        return compiled

    def _compile(self, static, args, budget, batch) -> CompiledProgram:
        landscape, hparams, ctx = args
        if self.mesh is None:
            init_jit = jax.jit(program.init, static_argnums=0)
            chunk_jit = jax.jit(program.run_chunk, static_argnums=0, donate_argnums=3)
        else:
            # Every state leaf is [settings, restarts, ...]: split the restarts axis.
            rep, by_restart = replicated(self.mesh), NamedSharding(self.mesh, P(None, RESTART_AXIS))
            init_jit = jax.jit(program.init, static_argnums=0,
                               in_shardings=(rep, rep, NamedSharding(self.mesh, P(RESTART_AXIS)), rep, rep, rep),
                               out_shardings=by_restart)
            chunk_jit = jax.jit(program.run_chunk, static_argnums=0, donate_argnums=3,
                                in_shardings=(rep, rep, by_restart, rep, rep, rep), out_shardings=(by_restart, rep))
        start = time.perf_counter()
        precision = (contextlib.nullcontext() if static.matmul_precision == "default"
                     else jax.default_matmul_precision(static.matmul_precision))
        with precision:
            init, chunk, batch = self._lower(static, landscape, hparams, ctx, budget, batch, init_jit, chunk_jit)
        return CompiledProgram(init, chunk, time.perf_counter() - start, batch)

    def _lower(self, static, landscape, hparams, ctx, budget, batch, init_jit, chunk_jit):
        """Compiles for ``batch`` restarts, halving it while the program needs more than ``budget``."""
        stream = jax.random.key(0)
        while True:
            ids = jax.ShapeDtypeStruct((batch,), jnp.int32)
            init_args = (static, landscape, hparams, ids, stream, stream, ctx)
            states = jax.eval_shape(init_jit, *init_args)
            t0 = jax.ShapeDtypeStruct((), jnp.int32)
            chunk = chunk_jit.lower(static, landscape, hparams, states, t0, t0, ctx).compile()
            self.compilations += 1
            if program_bytes(chunk) <= budget:
                break
            # The estimate was too optimistic for this landscape: halve and retry,
            # as long as halving still shrinks the batch (on a mesh it is rounded
            # up to whole devices, so one restart per device is the floor).
            smaller = whole_devices(max(1, batch // 2), self.mesh)
            if smaller >= batch:
                break
            batch = smaller
        init = init_jit.lower(*init_args).compile()
        self.compilations += 1
        return init, chunk, batch


def local_mesh(devices: int = 0) -> Mesh | None:
    """A one-axis mesh over the devices the restarts shard over, or None for one device.

    In one process: its devices (the first ``devices``; 0: all). With several
    processes (``suite run --distributed``): every device of every process, so
    each process runs its share of every batch's restarts.
    """
    if jax.process_count() > 1:
        return Mesh(np.asarray(jax.devices()), (RESTART_AXIS,))
    found = jax.local_devices()
    if devices:
        found = found[:devices]
    return Mesh(np.asarray(found), (RESTART_AXIS,)) if len(found) > 1 else None


def put(tree, sharding: NamedSharding):
    """``tree`` placed with ``sharding``; across processes each builds its own shards (values agree)."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def one(x):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(one(jax.random.key_data(x)), impl=impl)
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def to_host(tree):
    """``tree`` on the host, gathered from every process when it is spread over several."""
    leaves = jax.tree.leaves(tree)
    if all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def by_restart(mesh: Mesh) -> NamedSharding:
    """A restarts-long array split over the mesh."""
    return NamedSharding(mesh, P(RESTART_AXIS))


def whole_devices(batch: int, mesh: Mesh | None) -> int:
    """``batch`` rounded up to a multiple of the devices, so each holds as many restarts."""
    n = 1 if mesh is None else mesh.devices.size
    return -(-batch // n) * n


def program_bytes(compiled) -> int:
    """Device memory a compiled program needs (0 where the backend does not say)."""
    try:
        stats = compiled.memory_analysis()
        return int(stats.argument_size_in_bytes + stats.output_size_in_bytes
                   + stats.temp_size_in_bytes - stats.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - not every backend reports memory
        return 0


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(x), jnp.result_type(x)) for x in leaves)


def float_dtype(precision: str):
    """The float dtype of a run's points, losses and summaries."""
    return jnp.float64 if precision == "float64" else jnp.float32


def precision_scope(precision: str):
    """JAX's x64 mode on for a float64 run (every array it makes is then float64), off for float32.

    A scope, not a global switch: one process can run float32 and float64
    runs one after the other (tests, notebooks), and a float32 run stays
    float32 even where x64 was switched on globally (``JAX_ENABLE_X64=1``).
    """
    return jax.enable_x64(precision == "float64")
