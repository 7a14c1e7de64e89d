"""Runs a resolved config: groups cells into compiled programs and writes results.

Cells that share a landscape instance and an optimizer's static configuration
(for example every learning rate of a sweep) run as one program; its float
hyperparameters are a leading array axis. Restarts are split into batches that
fit the device memory, and steps into chunks so that progress moves and a
batch stops as soon as every restart in it is frozen (diverged, or, in
fixed-target mode, at its last target).

Randomness. Every draw derives from the run seed by ``fold_in``: landscape
instance j from (seed, stream 0, setting, j), the start of restart i from
(seed, stream 1, setting, j, i), its noise at step t from (seed, stream 2,
setting, j, i, t), split into the mini-batch key and the optimizer's key
(gradient-noise wrappers) by a last ``fold_in``. So restart i starts from the same point for every optimizer
and setting, and nothing depends on batch or chunk sizes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import time
import zlib
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from suite import diagnostics, metrics, program
from suite.config import (
    Cell,
    LandscapeCell,
    OptimizerSetting,
    RunConfig,
    checkpoint_steps,
    target_label,
)
from suite.errors import one_line
from suite.metrics import finite_or_inf
from suite.results import RunDir
from suite.specs import Landscape

STREAM_INSTANCE, STREAM_INIT, STREAM_NOISE = 0, 1, 2
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Columns of cells.parquet that say how a cell was executed, not what it
# computed: they differ between an interrupted-and-resumed run and a whole one.
EXECUTION_COLUMNS = ("compile_seconds", "run_seconds", "seconds_per_step", "batch",
                     "program_cells", "steps_run", "diagnostics_seconds", "updates_per_second",
                     "copy_bandwidth", "floor_fraction")
# Live memory per restart relative to its state (params + optimizer state):
# the state in and out of the scan step, gradient, updates and temporaries.
STATE_MEMORY_FACTOR = 8


class Progress:
    """What the runner reports while it works; the CLI draws it with rich."""

    def start(self, total: float) -> None:
        """Announces the total amount of work (cell-steps)."""

    def describe(self, text: str) -> None:
        """Names the program now running."""

    def advance(self, amount: float) -> None:
        """Reports work done."""


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
                                in_shardings=(rep, rep, by_restart, rep, rep), out_shardings=(by_restart, rep))
        stream = jax.random.key(0)
        start = time.perf_counter()
        precision = (contextlib.nullcontext() if static.matmul_precision == "default"
                     else jax.default_matmul_precision(static.matmul_precision))
        with precision:
            return self._lower(static, landscape, hparams, ctx, budget, batch, init_jit, chunk_jit, stream, start)

    def _lower(self, static, landscape, hparams, ctx, budget, batch, init_jit, chunk_jit, stream, start):
        while True:
            ids = jax.ShapeDtypeStruct((batch,), jnp.int32)
            init_args = (static, landscape, hparams, ids, stream, stream, ctx)
            states = jax.eval_shape(init_jit, *init_args)
            t0 = jax.ShapeDtypeStruct((), jnp.int32)
            chunk = chunk_jit.lower(static, landscape, hparams, states, t0, ctx).compile()
            self.compilations += 1
            needed = _program_bytes(chunk)
            if needed <= budget or batch == 1:
                break
            # The estimate was too optimistic for this landscape: halve and retry.
            batch = max(1, batch // 2)
            batch = _whole_devices(batch, self.mesh)
        init = init_jit.lower(*init_args).compile()
        self.compilations += 1
        return CompiledProgram(init, chunk, time.perf_counter() - start, batch)


RESTART_AXIS = "restarts"


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


def _put(tree, sharding: NamedSharding):
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


def _to_host(tree):
    """``tree`` on the host, gathered from every process when it is spread over several."""
    leaves = jax.tree.leaves(tree)
    if all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def _whole_devices(batch: int, mesh: Mesh | None) -> int:
    """``batch`` rounded up to a multiple of the devices, so each holds as many restarts."""
    n = 1 if mesh is None else mesh.devices.size
    return -(-batch // n) * n


def _program_bytes(compiled) -> int:
    try:
        stats = compiled.memory_analysis()
        return int(stats.argument_size_in_bytes + stats.output_size_in_bytes
                   + stats.temp_size_in_bytes - stats.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - not every backend reports memory
        return 0


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(x), jnp.result_type(x)) for x in leaves)


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


def landscape_id(cell: LandscapeCell) -> int:
    """A stable 31-bit id of a landscape setting (not its instance), for ``fold_in``."""
    return zlib.crc32(cell.setting_label.encode()) & 0x7FFFFFFF


def streams(seed: int, cell: LandscapeCell) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Keys of the instance, the starts and the noise of one landscape instance."""
    root = jax.random.key(seed)
    lid = landscape_id(cell)
    return tuple(jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(root, s), lid), cell.instance)
                 for s in (STREAM_INSTANCE, STREAM_INIT, STREAM_NOISE))


def build_instance(cell: LandscapeCell, seed: int) -> Landscape:
    """The landscape instance of ``cell`` under ``seed``: the same for every optimizer."""
    key, _, _ = streams(seed, cell)
    instance = cell.spec.build(dict(cell.values), key=key)
    if not isinstance(instance, Landscape):
        raise TypeError(f"build() of landscape {cell.spec.name!r} returned "
                        f"{type(instance).__name__}, not suite.Landscape")
    return instance


def float_dtype(precision: str):
    """The float dtype of a run's points, losses and summaries."""
    return jnp.float64 if precision == "float64" else jnp.float32


def precision_scope(precision: str):
    """JAX's x64 mode for a float64 run (every array it makes is then float64), else nothing.

    A scope, not a global switch: one process can run float32 and float64
    runs one after the other (tests, notebooks).
    """
    if precision != "float64":
        return contextlib.nullcontext()
    return jax.enable_x64(True)


def default_chunk(steps: int) -> int:
    """About 20 chunks per run, so progress moves and early stops are cheap to check."""
    return max(1, math.ceil((steps + 1) / 20))


@dataclasses.dataclass
class GroupResult:
    """Raw per-setting summaries of one program, on the host."""

    summary: dict  # field -> np.ndarray [settings, restarts, ...]
    compile_seconds: float
    run_seconds: float
    steps_run: int
    batch: int
    # Per setting: what the end-point pass and the checkpoints found (empty without diagnostics).
    diagnostics: list = dataclasses.field(default_factory=list)
    diagnostics_seconds: float = 0.0
    traffic_bytes: int = 0  # bytes one restart-step must read and write: its point and optimizer state, twice


def run_group(instance: Landscape, settings: list[OptimizerSetting], config: RunConfig,
              streams_: tuple, *, cache: ProgramCache, progress: Progress | None = None,
              device: jax.Device | None = None) -> GroupResult:
    """Runs every setting of one optimizer on one instance as one compiled program."""
    progress = progress or Progress()
    device = device or jax.devices()[0]
    first = settings[0]
    hparams = {n: jnp.asarray([s.traced[n] for s in settings], float_dtype(config.precision))
               for n in first.traced}
    chunk = config.chunk or default_chunk(config.steps)
    asked = set(config.diagnostics)
    n_params = diagnostics.flatten(instance.init(jax.random.key(0)))[0].shape[0]
    static = program_static(first, chunk, layers="layers" in asked and instance.layered,
                            trace="pictures" in asked and n_params == 2,
                            matmul_precision=config.matmul_precision)
    end_point = tuple(d for d in diagnostics.END_POINT if d in asked)
    sample = diagnostics.sample_size(config.diagnose_restarts, config.restarts, n_params) if end_point else 0
    f_opt = 0.0 if instance.f_opt is None else instance.f_opt
    dtype = float_dtype(config.precision)
    ctx = program.Context(
        steps=jnp.asarray(config.steps, jnp.int32),
        targets=jnp.asarray(config.targets, dtype),
        ckpt_steps=jnp.asarray(checkpoint_steps(config.steps, config.checkpoints), jnp.int32),
        f_opt=jnp.asarray(f_opt, dtype),
        stop_at_target=jnp.asarray(config.stop_at_target),
    )
    n_settings, restarts = len(settings), config.restarts
    mesh = cache.mesh
    budget = memory_budget(device) * (1 if mesh is None else mesh.devices.size)
    batch = _whole_devices(_batch_size(static, instance, hparams, ctx, budget, config, n_settings), mesh)
    compiled = cache.get(static, (instance, hparams, ctx), budget, batch)
    batch = compiled.batch
    n_batches = math.ceil(restarts / batch)
    _, init_stream, noise_stream = streams_
    if mesh is not None:  # the compiled program takes its inputs where it was compiled for them
        rep = replicated(mesh)
        instance_in, hparams, ctx, init_in, noise_in = _put(
            (instance, hparams, ctx, init_stream, noise_stream), rep)
    else:
        instance_in, init_in, noise_in = instance, init_stream, noise_stream

    pieces, steps_run, run_seconds = [], 0, 0.0
    found: list[dict] = [{} for _ in settings]
    diag_seconds, diag_error = 0.0, ""
    # Progress counts cells: one unit is every step of every restart of a cell.
    per_step = n_settings / ((config.steps + 1) * restarts)
    for b in range(n_batches):
        # The last batch is padded to the compiled size; the padding is discarded.
        ids = jnp.arange(b * batch, (b + 1) * batch, dtype=jnp.int32)
        real = min(batch, restarts - b * batch)
        start = time.perf_counter()
        ids_in = ids if mesh is None else _put(ids, NamedSharding(mesh, P(RESTART_AXIS)))
        states = compiled.init(instance_in, hparams, ids_in, init_in, noise_in, ctx)
        t0 = 0
        while True:
            t0_in = jnp.int32(t0) if mesh is None else _put(jnp.int32(t0), replicated(mesh))
            states, done = compiled.chunk(instance_in, hparams, states, t0_in, ctx)
            t0 += chunk
            # Waits for the chunk, so the progress bar is honest; `done` is replicated,
            # so this process's own copy answers for all.
            finished = bool(np.asarray(done.addressable_data(0)))
            progress.advance(per_step * min(chunk, config.steps + 1 - (t0 - chunk)) * real)
            if finished:
                break
        summary = _to_host(states.summary)
        run_seconds += time.perf_counter() - start
        progress.advance(per_step * max(0, config.steps + 1 - t0) * real)
        steps_run = max(steps_run, min(t0, config.steps + 1) - 1)
        pieces.append({k: v[:, :real] for k, v in summary._asdict().items() if v is not None})
        take = min(sample - b * batch, real)
        if take > 0 and not diag_error:
            start = time.perf_counter()
            try:
                ends = jax.tree.map(lambda x, take=take: x[:, :take], states.params)
                if mesh is not None:  # the extra pass is small: gather the sample on one device
                    ends = jax.device_put(_to_host(ends), device)
                _end_point_pass(instance, ends, ids[:take], init_stream, end_point, found, n_params)
            except Exception as exc:  # noqa: BLE001 - diagnostics never cost the training results
                diag_error = one_line(exc)[:500]
            diag_seconds += time.perf_counter() - start
    summary = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    summary["hit"] = complete_hits(summary["hit"], summary["reached"])
    _fill_checkpoints(summary, np.asarray(ctx.ckpt_steps))
    if end_point or static.layers or static.trace:
        start = time.perf_counter()
        try:
            found = [_finish_diagnostics(instance, {} if diag_error else f, summary, h, end_point, static.trace)
                     for h, f in enumerate(found)]
        except Exception as exc:  # noqa: BLE001 - diagnostics never cost the training results
            diag_error = diag_error or one_line(exc)[:500]
            found = [{} for _ in settings]
        if diag_error:
            for f in found:
                f["error"] = diag_error
        diag_seconds += time.perf_counter() - start
    else:
        found = []
    return GroupResult(summary, compiled.compile_seconds, run_seconds, steps_run, batch, found, diag_seconds,
                       _traffic_bytes(static, instance, hparams, ctx))


def _traffic_bytes(static, instance, hparams, ctx) -> int:
    """Bytes a restart-step reads and writes at least: its point and optimizer state, in and out."""
    one = jax.eval_shape(functools.partial(program.init, static), instance,
                         jax.tree.map(lambda h: jax.ShapeDtypeStruct((1,), h.dtype), hparams),
                         jax.ShapeDtypeStruct((1,), jnp.int32), jax.random.key(0), jax.random.key(0), ctx)
    return 2 * sum(x.size * x.dtype.itemsize for x in jax.tree.leaves((one.params, one.opt_state)))


@functools.lru_cache(maxsize=None)
def copy_bandwidth(device: jax.Device) -> float:
    """Bytes per second of one device copy (read + write) of a large array, measured once per process."""
    x = jax.device_put(jnp.ones((64 if device.platform == "cpu" else 512) << 18, jnp.float32), device)
    copy = jax.jit(lambda a: a + 1.0)
    copy(x).block_until_ready()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        copy(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * x.nbytes / min(times)


def _end_point_pass(instance, ends, ids, init_stream, which, found, n_params) -> None:
    """The extra pass over one batch's sampled restarts; appends per-setting arrays to ``found``."""
    starts = jax.vmap(lambda rid: instance.init(jax.random.fold_in(init_stream, rid)))(ids)
    key = jax.random.fold_in(init_stream, 0x5EED)
    out = jax.vmap(lambda e: diagnostics.end_points(
        instance, starts, e, key, which=which, exact=n_params <= diagnostics.EXACT_LIMIT))(ends)
    out = jax.device_get(out)
    plane = "pictures" in which and n_params > 2
    if plane:
        flat_starts = np.asarray(jax.vmap(lambda p: diagnostics.flatten(p)[0])(starts))
        flat_ends = np.asarray(jax.vmap(jax.vmap(lambda p: diagnostics.flatten(p)[0]))(ends))
    for h, mine in enumerate(found):
        for name, value in out.items():
            mine.setdefault(name, []).append(np.asarray(value[h]))
        # The plane picture needs points, but only three per setting: keep restart 0's
        # start and end and the lowest end point seen so far.
        if plane:
            losses = np.asarray(out["loss"][h])
            best = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan))) if np.isfinite(losses).any() else 0
            if "plane_a" not in mine:
                mine["plane_a"], mine["plane_b"] = flat_starts[0], flat_ends[h, 0]
                mine["plane_c"], mine["plane_best_loss"] = flat_ends[h, 0], np.inf
            if losses[best] < mine["plane_best_loss"]:
                mine["plane_best_loss"], mine["plane_c"] = float(losses[best]), flat_ends[h, best]


def _finish_diagnostics(instance, found: dict, summary: dict, h: int, which: tuple, trace: bool) -> dict:
    """Per-setting diagnostics on the host: classes, barriers, basins and pictures."""
    out: dict = {}
    for name in ("loss", "grad_norm", "lambda_min", "lambda_max", "index"):
        if name in found:
            out[name] = np.concatenate(found[name])
    if "path" in found:
        out["path"] = np.concatenate(found["path"])
        out["barrier"] = diagnostics.barriers(out["path"])
    if "index" in out:
        out["class"] = diagnostics.classify(out["grad_norm"], out["index"], out["lambda_min"], out["lambda_max"])
    if "canonical" in found:  # every batch's end points together
        out["basin"] = diagnostics.cluster(np.concatenate(found["canonical"]), out["loss"])
    points = [found.get(k) for k in ("plane_a", "plane_b", "plane_c")]
    if "plane_a" in found and all(np.isfinite(p).all() for p in points):  # none when restart 0 diverged
        _, unravel = diagnostics.flatten(instance.init(jax.random.key(0)))
        grid, coords, ticks = diagnostics.plane(instance, *(unravel(jnp.asarray(found[k])) for k in
                                                            ("plane_a", "plane_b", "plane_c")))
        out["plane"] = (np.asarray(grid), np.asarray(coords), np.asarray(ticks))
    if "ckpt_layers" in summary:
        out["layers"] = summary["ckpt_layers"][h]  # [restarts, n_ckpt, n_layers]
    if trace and "ckpt_params" in summary:
        paths = summary["ckpt_params"][h][:diagnostics.TRACE_RESTARTS]  # [k, n_ckpt, 2]
        points = paths[np.isfinite(paths).all(-1)]
        if points.size:
            lows, highs = points.min(0), points.max(0)
            pad = np.maximum(0.15 * (highs - lows), 1e-3)
            lows, highs = lows - pad, highs + pad
            grid = np.asarray(diagnostics.contour(instance, jnp.asarray(lows, jnp.float32),
                                                  jnp.asarray(highs, jnp.float32)))
            out["contour"] = (grid, lows, highs, paths)
    return out


def program_static(setting: OptimizerSetting, chunk: int, *, layers: bool = False,
                   trace: bool = False, matmul_precision: str = "default") -> program.Static:
    """What shapes the program of ``setting``: shared by every setting of its group."""
    own = tuple((p.name, setting.values[p.name]) for p in setting.spec.params if not p.traced)
    wrappers = tuple((w.spec.name, w.spec.wrap, w.static) for w in setting.wrappers)
    return program.Static(setting.spec.factory, own, chunk, wrappers, layers, trace, matmul_precision)


def _batch_size(static, instance, hparams, ctx, budget, config, n_settings) -> int:
    if config.batch:
        return min(config.batch, config.restarts)
    one = jax.eval_shape(functools.partial(program.init, static), instance, jax.tree.map(lambda h: h[:1], hparams),
                         jax.ShapeDtypeStruct((1,), jnp.int32), jax.random.key(0),
                         jax.random.key(0), ctx)
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(one)) or 1
    fits = max(1, budget // (STATE_MEMORY_FACTOR * state_bytes * n_settings))
    n_batches = math.ceil(config.restarts / min(fits, config.restarts))
    # Equal batches waste less padding than one full batch and a small remainder.
    return math.ceil(config.restarts / n_batches)


def complete_hits(hit, reached):
    """Fills the target-hit entries ``program.Summary`` leaves unwritten.

    Args:
      hit: int array [..., n_targets] as the device left it.
      reached: int array [...], targets reached per restart.

    Returns:
      hit with hit[j] = first step with f − f* ≤ targets[j], or -1 if never.
    """
    hit = np.array(hit, copy=True)
    n = hit.shape[-1]
    for j in range(n - 2, -1, -1):
        missing = (hit[..., j] < 0) & (j < reached)
        hit[..., j] = np.where(missing, hit[..., j + 1], hit[..., j])
    return np.where(np.arange(n) < reached[..., None], hit, program.NOT_REACHED)


def _fill_checkpoints(summary: dict, ckpt_steps: np.ndarray) -> None:
    # A finished restart is frozen: its checkpoints after the last evaluated
    # step are its final values. Filling them here rather than on the device
    # keeps early stopping free.
    later = ckpt_steps[None, None, :] > summary["steps"][..., None]
    summary["ckpt_loss"] = np.where(later, summary["loss"][..., None], summary["ckpt_loss"])
    summary["ckpt_best"] = np.where(later, summary["best"][..., None], summary["ckpt_best"])


# --- tables --------------------------------------------------------------------


def _nullable_steps(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Step counts with the device's ``-1`` ("never") as a missing value."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(values, mask=values < 0)


def identity_columns(cell: Cell) -> dict:
    """Columns that name a cell: landscape, optimizer and one per parameter."""
    columns = {"cell_id": cell.id, "landscape": cell.landscape.spec.name}
    columns |= {f"p_landscape_{k}": v for k, v in cell.landscape.values.items()}
    columns["instance"] = cell.landscape.instance
    columns["optimizer"] = cell.optimizer.spec.name
    columns |= {f"p_opt_{k}": v for k, v in cell.optimizer.values.items()}
    # Wrappers as their own columns: `wrappers` names the chain (inner first),
    # `entry` is what the leaderboard ranks, p_wrap_<wrapper>_<param> the values.
    columns["wrappers"] = "+".join(w.spec.name for w in cell.optimizer.wrappers)
    columns["entry"] = cell.optimizer.entry
    for w in cell.optimizer.wrappers:
        columns |= {f"p_wrap_{w.spec.name}_{k}": v for k, v in w.values.items()}
    return columns


def restart_table(cell: Cell, summary: dict, config: RunConfig, resolution: float = 0.0) -> pd.DataFrame:
    """One row per restart of one setting (``summary`` fields are [restarts, ...]).

    ``resolution`` is the Δf below which float rounding decides (see
    :func:`suite.metrics.resolution`): losing such a target is rounding, not a relapse.
    """
    n = summary["loss"].shape[0]
    table = pd.DataFrame({k: [v] * n for k, v in identity_columns(cell).items()})
    table["restart"] = np.arange(n, dtype=np.int64)
    table["seed"] = config.seed
    table["final_loss"] = summary["loss"].astype(np.float64)
    table["best_loss"] = summary["best"].astype(np.float64)
    table["steps"] = summary["steps"].astype(np.int64)
    table["diverged_step"] = _nullable_steps(summary["diverged"])
    # f(x_T) still meets the first `targets_held` targets; a restart that met
    # more of them on the way (or diverged after meeting one) has relapsed.
    table["targets_held"] = summary["held"].astype(np.int64)
    resolvable = sum(t >= resolution for t in config.targets)  # targets are descending: a prefix
    table["relapsed"] = summary["held"] < np.minimum(summary["reached"], resolvable)
    for j, target in enumerate(config.targets):
        table[f"step_to_target_{target_label(target)}"] = _nullable_steps(summary["hit"][:, j])
    return table


def curve_table(cell: Cell, summary: dict, ckpt_steps: np.ndarray) -> pd.DataFrame:
    """Quantiles over restarts of the loss and best-so-far loss at checkpoint steps."""
    rows = []
    for quantity, field in (("loss", "ckpt_loss"), ("best", "ckpt_best")):
        qs = metrics.quantiles(summary[field], QUANTILES, axis=0)
        for c, step in enumerate(ckpt_steps):
            rows.append({"cell_id": cell.id, "step": int(step), "quantity": quantity,
                         **{f"q{round(q * 100):02d}": float(qs[i, c]) for i, q in enumerate(QUANTILES)}})
    return pd.DataFrame(rows)


def diagnostic_restart_columns(diag: dict, n: int) -> dict:
    """Per-restart columns of the end-point diagnostics (missing outside the sample)."""
    def padded(values, fill, dtype):
        out = np.full(n, fill, dtype=dtype)
        out[:len(values)] = values
        return out

    columns = {}
    sampled = len(diag.get("grad_norm", []))
    if sampled:
        columns["diagnosed"] = padded(np.ones(sampled, bool), False, bool)
        columns["end_grad_norm"] = padded(diag["grad_norm"], np.nan, np.float64)
    for name, column in (("index", "hessian_index"), ("lambda_min", "lambda_min"), ("lambda_max", "lambda_max")):
        if name in diag:
            columns[column] = padded(diag[name], np.nan, np.float64)
    if "class" in diag:
        columns["end_class"] = padded(diag["class"], "", object)
    if "barrier" in diag:
        columns["path_barrier"] = pd.array(padded(diag["barrier"].astype(float), np.nan, np.float64)).astype("boolean")
    if "basin" in diag:
        columns["basin"] = pd.array(padded(diag["basin"], -1, np.int64), dtype="Int64")
        columns["basin"][columns["basin"] < 0] = pd.NA
    return columns


def diagnostic_cell_columns(diag: dict) -> dict:
    """Per-cell summaries of the diagnostics: end-point classes, basins, barriers, layer ratio."""
    row = {"diagnostics_error": diag["error"]} if "error" in diag else {}
    if "class" in diag:
        for name in diagnostics.CLASSES:  # minimum_rate, saddle_rate, flat_rate, not_converged_rate
            row[f"{name.replace(' ', '_')}_rate"] = float(np.mean(diag["class"] == name))
    if "basin" in diag:
        basins = diag["basin"][diag["basin"] >= 0]
        row["basins_found"] = int(len(np.unique(basins)))
        if "class" in diag:  # basins holding an end point that is a minimum
            row["minima_found"] = int(len(np.unique(diag["basin"][(diag["basin"] >= 0)
                                                                   & (diag["class"] == "minimum")])))
        row["best_basin_share"] = float(np.mean(diag["basin"] == 0)) if len(diag["basin"]) else float("nan")
    if "barrier" in diag:
        row["barrier_rate"] = float(np.mean(diag["barrier"]))
    if "layers" in diag:
        final = diag["layers"][:, -1, :]  # restarts × layers at the last checkpoint
        with np.errstate(divide="ignore", invalid="ignore"):
            row["layer_ratio_first_last"] = float(np.nanmedian(final[:, 0] / final[:, -1]))
    return row


def diagnostic_tables(cell: Cell, diag: dict, ckpt_steps: np.ndarray) -> dict[str, pd.DataFrame]:
    """The diagnostics' own tables for one cell: layers, paths, pictures."""
    tables = {}
    if "layers" in diag:
        norms = diag["layers"]  # [restarts, n_ckpt, layers]
        qs = np.nanquantile(norms, [0.25, 0.5, 0.75], axis=0) if np.isfinite(norms).any() else \
            np.full((3,) + norms.shape[1:], np.nan)
        steps, layers = np.meshgrid(ckpt_steps, np.arange(norms.shape[-1]), indexing="ij")
        tables["layers"] = pd.DataFrame({"cell_id": cell.id, "step": steps.ravel().astype(np.int64),
                                         "layer": layers.ravel().astype(np.int64), "q25": qs[0].ravel(),
                                         "q50": qs[1].ravel(), "q75": qs[2].ravel()})
    if "path" in diag:
        qs = metrics.quantiles(diag["path"], QUANTILES, axis=0)
        tables["paths"] = pd.DataFrame({"cell_id": cell.id, "alpha": diagnostics.ALPHAS,
                                        **{f"q{round(q * 100):02d}": qs[i] for i, q in enumerate(QUANTILES)}})
    pictures = []
    if "plane" in diag:
        grid, coords, ticks = diag["plane"]
        u, v = np.meshgrid(ticks[0], ticks[1])
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "plane", "restart": -1,
                                      "x": u.ravel(), "y": v.ravel(), "loss": grid.ravel()}))
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "plane_points", "restart": [0, 0, -1],
                                      "x": coords[:, 0], "y": coords[:, 1],
                                      "loss": [np.nan, np.nan, np.nan]}))
    if "contour" in diag:
        grid, lows, highs, paths = diag["contour"]
        xs, ys = np.meshgrid(np.linspace(lows[0], highs[0], grid.shape[1]),
                             np.linspace(lows[1], highs[1], grid.shape[0]))
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "contour", "restart": -1,
                                      "x": xs.ravel(), "y": ys.ravel(), "loss": grid.ravel()}))
        k, n_ckpt = paths.shape[:2]
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "trajectory",
                                      "restart": np.repeat(np.arange(k), n_ckpt),
                                      "x": paths[..., 0].ravel(), "y": paths[..., 1].ravel(),
                                      "loss": np.nan, "step": np.tile(ckpt_steps, k)}))
    if pictures:
        tables["pictures"] = pd.concat(pictures, ignore_index=True)
    return tables


def cell_row(cell: Cell, order: int, config: RunConfig, *, status: str, error: str = "",
             restarts: pd.DataFrame | None = None, result: GroupResult | None = None,
             instance: Landscape | None = None, n_settings: int = 0,
             device: str = "", bandwidth: float = 0.0) -> dict:
    """The cells.parquet row of one cell, with its metrics when it finished."""
    row = identity_columns(cell) | {
        "order": order,
        "landscape_label": cell.landscape.label,
        "optimizer_label": cell.optimizer.label,
        # Cells of one program share its compile and run seconds: sum them once.
        "program": f"{zlib.crc32(repr(program_key(cell)).encode()):08x}",
        "status": status,
        "error": error,
        "restarts": config.restarts,
        "steps": config.steps,
        "seed": config.seed,
        "device": device,
        # The conditions every number of the row was measured under.
        "precision": config.precision,
        "stop_at_target": config.stop_at_target,
        "tuning": config.tuning,
        "fixed": ",".join(cell.optimizer.fixed),
    }
    if restarts is None or result is None:
        return row
    known = instance is not None and instance.f_opt is not None
    final = restarts["final_loss"].to_numpy()
    resolution = metrics.resolution(float(instance.f_opt) if known else None, config.precision)
    lowest = float(np.min(finite_or_inf(restarts["best_loss"].to_numpy())))
    # An exact f* is checked, not trusted: a finite loss below it by more than
    # rounding means the landscape's f* is wrong, and every Δf of it with it.
    violation = (metrics.f_opt_violation(lowest, float(instance.f_opt), resolution)
                 if known and instance.f_opt_kind == "exact" else 0.0)
    row |= {
        "f_opt": float(instance.f_opt) if known else float("nan"),
        "f_opt_known": known,
        "f_opt_kind": instance.f_opt_kind if known else "",
        # Named reference losses (the p-spin threshold, ...) for reports to draw.
        "levels": json.dumps(dict(instance.levels)) if instance is not None else "{}",
        "tags": ",".join(instance.tags) if instance is not None else "",
        "steps_run": result.steps_run,
        "batch": result.batch,
        "program_cells": n_settings,
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        # The program ran every setting of the sweep at once: a cell's share.
        "seconds_per_step": result.run_seconds / max(result.steps_run, 1) / max(n_settings, 1),
        # Speed: restart-steps per second, and how near the memory-traffic floor
        # (each step reads and writes the point and optimizer state) it runs.
        "updates_per_second": config.restarts / max(result.run_seconds / max(result.steps_run, 1)
                                                    / max(n_settings, 1), 1e-12),
        "traffic_bytes": result.traffic_bytes,
        "copy_bandwidth": bandwidth,
        "median_final_loss": float(np.median(finite_or_inf(final))),
        "best_loss": lowest,
        "divergence_rate": float(restarts["diverged_step"].notna().mean()),
        "resolution": resolution,
        "f_opt_violation": violation,
        "warning": (f"a loss of {lowest:.10g} is below the exact f* = {float(instance.f_opt):.10g} by "
                    f"{violation:.3g}, more than float rounding ({resolution:.3g}): the landscape's f* "
                    f"is wrong, so are its Δf and successes" if violation else ""),
        # The theoretical index of critical points against loss, for the diagnostics' figure.
        "index_curve": json.dumps(list(instance.index_curve)) if instance is not None else "[]",
        "diagnostics": ",".join(config.diagnostics),
        "diagnostics_seconds": result.diagnostics_seconds / max(n_settings, 1),
    }
    row["floor_fraction"] = (row["updates_per_second"] * result.traffic_bytes / bandwidth) if bandwidth else float("nan")
    row |= metrics.cell_scores(restarts, list(config.targets), resolution)
    return row


def program_key(cell: Cell) -> tuple:
    """Cells with equal keys run as one compiled program (their float values are an array axis)."""
    return (cell.landscape.label, cell.optimizer.spec.name, cell.optimizer.static)


def group_cells(cells: Iterable[Cell]) -> list[list[Cell]]:
    """Cells that one program can run together: same landscape, optimizer, static values."""
    groups: dict[tuple, list[Cell]] = {}
    for cell in cells:
        key = program_key(cell)
        groups.setdefault(key, []).append(cell)
    return list(groups.values())


def execute(config: RunConfig, cells: list[Cell], run_dir: RunDir, *,
            progress: Progress | None = None, cache: ProgramCache | None = None) -> dict:
    """Runs every cell not yet finished in ``run_dir`` and writes each as it ends.

    A cell that raises (a broken plugin, a program that fails to compile) is
    recorded as failed with its message; every other cell still runs.

    Returns:
      Counts: ``{"ran": ..., "skipped": ..., "failed": ...}``.
    """
    # A float64 run traces, compiles and runs under JAX's x64 mode: instances,
    # starts and summaries are all float64.
    with precision_scope(config.precision):
        return _execute(config, cells, run_dir, progress, cache)


def _execute(config: RunConfig, cells: list[Cell], run_dir: RunDir, progress: Progress | None,
             cache: ProgramCache | None) -> dict:
    progress = progress or Progress()
    cache = cache or ProgramCache(local_mesh(config.devices))
    # With several processes every one computes every cell (its share of the
    # restarts) and process 0 writes; the others must not race it.
    write = jax.process_index() == 0
    device = jax.devices()[0]
    device_name = f"{device.platform}:{device.device_kind}"
    bandwidth = copy_bandwidth(device) * (1 if cache.mesh is None else cache.mesh.devices.size)
    order = {cell.id: i for i, cell in enumerate(cells)}
    done = run_dir.finished()
    pending = [c for c in cells if c.id not in done]
    counts = {"ran": 0, "skipped": len(cells) - len(pending), "failed": 0}
    progress.start(float(len(pending)))
    ckpts = checkpoint_steps(config.steps, config.checkpoints)
    instances: dict[str, Landscape | Exception] = {}
    for group in group_cells(pending):
        lcell = group[0].landscape
        progress.describe(f"{lcell.label} · {group[0].optimizer.spec.name}")
        try:
            if lcell.label not in instances:
                try:
                    instances[lcell.label] = build_instance(lcell, config.seed)
                except Exception as exc:  # noqa: BLE001 - recorded per cell
                    instances[lcell.label] = exc
            instance = instances[lcell.label]
            if isinstance(instance, Exception):
                raise instance
            result = run_group(instance, [c.optimizer for c in group], config,
                               streams(config.seed, lcell), cache=cache, progress=progress,
                               device=device)
        except Exception as exc:  # noqa: BLE001 - one failing cell never takes the run down
            message = one_line(exc)[:2000]
            for cell in group:
                row = cell_row(cell, order[cell.id], config, status="failed", error=message,
                               device=device_name)
                if write:
                    run_dir.write_cell(cell.id, "failed", {"cells": pd.DataFrame([row])})
            counts["failed"] += len(group)
            progress.advance(len(group))
            continue
        for h, cell in enumerate(group):
            summary = {k: v[h] for k, v in result.summary.items()}
            diag = result.diagnostics[h] if result.diagnostics else {}
            known = instance.f_opt is not None
            restarts = restart_table(cell, summary, config, metrics.resolution(
                float(instance.f_opt) if known else None, config.precision))
            for name, column in diagnostic_restart_columns(diag, len(restarts)).items():
                restarts[name] = column
            row = cell_row(cell, order[cell.id], config, status="ok", restarts=restarts,
                           result=result, instance=instance, n_settings=len(group),
                           device=device_name, bandwidth=bandwidth) | diagnostic_cell_columns(diag)
            if write:
                run_dir.write_cell(cell.id, "ok", {
                    "restarts": restarts,
                    "cells": pd.DataFrame([row]),
                    "curves": curve_table(cell, summary, ckpts),
                    **diagnostic_tables(cell, diag, np.asarray(ckpts)),
                })
            counts["ran"] += 1
    return counts
