"""The run loop: groups a plan's cells into programs, runs them batch by batch, writes each cell.

Cells that share a landscape instance and an optimizer's static configuration
(for example every learning rate of a sweep) form a *group* and run as one
compiled program (:mod:`suite.compiler`); its float hyperparameters are a
leading array axis. Restarts are split into batches that fit the device
memory and steps into chunks (:mod:`suite.batching`), so progress moves and a
batch stops as soon as every restart in it is frozen (diverged, or, in
fixed-target mode, at its last target). Every random draw comes from
:mod:`suite.streams`, so no draw depends on batch or chunk sizes.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from suite import batching, compiler, diagnostics, program, streams, tables
from suite.config import RunConfig
from suite.diagnostics_host import (
    DiagnosticsPass,
    diagnostic_cell_columns,
    diagnostic_restart_columns,
    diagnostic_tables,
)
from suite.environment import copy_bandwidth
from suite.errors import one_line
from suite.metrics import resolution
from suite.plan import Cell, OptimizerSetting, checkpoint_steps
from suite.results import RunDir, conditions


class Progress:
    """What a run reports while it works: override what you want to see (the CLI draws it with rich).

    It is a context manager around the run loop, so a display can start and stop.
    """

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def announce(self, text: str) -> None:
        """One line saying what the run will do (cells, restarts, steps, folder)."""

    def warn(self, text: str) -> None:
        """A warning that does not stop the run (a plugin that failed to load)."""

    def start(self, total: float) -> None:
        """Announces the total amount of work, in cells."""

    def describe(self, text: str) -> None:
        """Names the program now running."""

    def advance(self, amount: float) -> None:
        """Reports work done, in cells."""


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


def program_static(setting: OptimizerSetting, *, layers: bool = False, trace: bool = False,
                   matmul_precision: str = "default", grad_once: bool = False, chunk: int = 0) -> program.Static:
    """What shapes the program of ``setting``: shared by every setting of its group."""
    own = tuple((p.name, setting.values[p.name]) for p in setting.spec.params if not p.traced)
    wrappers = tuple((w.spec.name, w.spec.wrap, w.static) for w in setting.wrappers)
    return program.Static(setting.spec.factory, own, wrappers, layers, trace, matmul_precision, grad_once, chunk)


def context(config: RunConfig, f_opt: float | None) -> program.Context:
    """The run's per-program array inputs, in its precision."""
    dtype = compiler.float_dtype(config.precision)
    return program.Context(
        steps=jnp.asarray(config.steps, jnp.int32),
        targets=jnp.asarray(config.targets, dtype),
        ckpt_steps=jnp.asarray(checkpoint_steps(config.steps, config.checkpoints), jnp.int32),
        f_opt=jnp.asarray(0.0 if f_opt is None else f_opt, dtype),
        stop_at_target=jnp.asarray(config.stop_at_target),
    )


def run_group(draw: streams.Draw, settings: list[OptimizerSetting], config: RunConfig, *,
              cache: compiler.ProgramCache, progress: Progress | None = None,
              device: jax.Device | None = None) -> GroupResult:
    """Runs every setting of one optimizer on one drawn instance as one compiled program."""
    progress = progress or Progress()
    device = device or jax.devices()[0]
    instance, first = draw.instance, settings[0]
    hparams = {n: jnp.asarray([s.traced[n] for s in settings], compiler.float_dtype(config.precision))
               for n in first.traced}
    example = instance.init(jax.random.key(0))
    n_coordinates = diagnostics.flatten(example)[0].shape[0]
    on_cpu = device.platform == "cpu"
    # Chunks of any length on a CPU, sized by time; a compiled length on accelerators
    # (``program.Static.chunk``) and across processes, which must make the same calls.
    chunks = batching.Chunks(config.steps, config.chunk, timed=on_cpu and jax.process_count() == 1,
                             compiled=not on_cpu)
    static = program_static(first, layers="layers" in config.diagnostics and instance.layered,
                            trace="pictures" in config.diagnostics and n_coordinates == 2,
                            matmul_precision=config.matmul_precision,
                            grad_once=on_cpu and program.elementwise_gradient(instance, example),
                            chunk=0 if on_cpu else chunks.size)
    ctx = context(config, instance.f_opt)
    n_settings, restarts, mesh = len(settings), config.restarts, cache.mesh
    budget = batching.memory_budget(device) * (1 if mesh is None else mesh.devices.size)
    batch = compiler.whole_devices(
        batching.batch_size(static, instance, hparams, ctx, budget, config, n_settings), mesh)
    compiled = cache.get(static, (instance, hparams, ctx), budget, batch)
    batch = compiled.batch
    inputs = (instance, hparams, ctx, draw.init, draw.noise)
    if mesh is not None:  # the compiled program takes its inputs where it was compiled for them
        inputs = compiler.put(inputs, compiler.replicated(mesh))
    instance_in, hparams_in, ctx_in, init_in, noise_in = inputs

    diagnosis = DiagnosticsPass(draw, config, static, n_settings, n_coordinates, device, mesh)
    pieces, steps_run, run_seconds = [], 0, 0.0
    # Progress counts cells: one unit is every step of every restart of a cell.
    per_step = n_settings / ((config.steps + 1) * restarts)
    for first_restart in range(0, restarts, batch):
        # The last batch is padded to the compiled size; the padding is discarded.
        ids = jnp.arange(first_restart, first_restart + batch, dtype=jnp.int32)
        real = min(batch, restarts - first_restart)
        start = time.perf_counter()
        ids_in = ids if mesh is None else compiler.put(ids, compiler.by_restart(mesh))
        states = compiled.init(instance_in, hparams_in, ids_in, init_in, noise_in, ctx_in)
        t0 = 0
        while True:
            t1, began = chunks.next(t0), time.perf_counter()
            bounds = (jnp.int32(t0), jnp.int32(t1))
            if mesh is not None:
                bounds = compiler.put(bounds, compiler.replicated(mesh))
            states, done = compiled.chunk(instance_in, hparams_in, states, *bounds, ctx_in)
            # Waits for the chunk, so the progress bar is honest and the next
            # chunk is sized on its time; `done` is replicated, so this
            # process's own copy answers for all.
            finished = bool(np.asarray(done.addressable_data(0)))
            chunks.took(t1 - t0, time.perf_counter() - began)
            progress.advance(per_step * (min(t1, config.steps + 1) - t0) * real)
            t0 = t1
            if finished:
                break
        summary = compiler.to_host(states.summary)
        run_seconds += time.perf_counter() - start
        t0 = min(t0, config.steps + 1)
        progress.advance(per_step * (config.steps + 1 - t0) * real)
        steps_run = max(steps_run, t0 - 1)
        pieces.append({k: v[:, :real] for k, v in summary._asdict().items() if v is not None})
        diagnosis.after_batch(states.x, ids, first_restart, real)
    summary = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    summary["hit"] = complete_hits(summary["hit"], summary["reached"])
    _fill_checkpoints(summary, np.asarray(ctx.ckpt_steps))
    found = diagnosis.finish(summary)
    return GroupResult(summary, compiled.compile_seconds, run_seconds, steps_run, batch, found,
                       diagnosis.seconds, batching.traffic_bytes(static, instance, hparams, ctx))


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


def group_key(cell: Cell) -> tuple:
    """Cells with equal keys run as one compiled program (their float values are an array axis)."""
    return (cell.landscape.label, cell.optimizer.spec.name, cell.optimizer.static)


def group_id(cell: Cell) -> str:
    """A short stable id of the cell's group: the ``group`` column of cells.parquet."""
    return f"{zlib.crc32(repr(group_key(cell)).encode()):08x}"


def group_cells(cells: Iterable[Cell]) -> list[list[Cell]]:
    """Cells that one program can run together: same landscape, optimizer, static values."""
    groups: dict[tuple, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(group_key(cell), []).append(cell)
    return list(groups.values())


def share(cells: list[Cell], part: int, parts: int) -> list[Cell]:
    """The cells of part ``part`` (1-based) of ``parts`` (``suite run --part I/N``), in plan order.

    A part takes whole groups: one program runs a group's cells together, and
    its width can change the last bits, so each part computes exactly what a
    run of every cell would. Groups are dealt out in plan order, each to the
    part whose 1/N of the run's cells holds the group's middle cell; the share
    depends on the plan alone, so independent jobs agree on it with no coordinator.
    """
    total, start, mine = len(cells), 0, set()
    for group in group_cells(cells):
        if (2 * start + len(group)) * parts // (2 * total) == part - 1:
            mine |= {c.id for c in group}
        start += len(group)
    return [c for c in cells if c.id in mine]


def execution_columns(result: GroupResult, config: RunConfig, n_settings: int, bandwidth: float) -> dict:
    """How a cell of ``result``'s program ran: its share of the program's time, and its speed."""
    # The program ran every setting of the sweep at once: a cell's share.
    seconds_per_step = result.run_seconds / max(result.steps_run, 1) / max(n_settings, 1)
    # Speed: restart-steps per second, and how near the memory-traffic floor
    # (each step reads and writes the point and optimizer state) it runs.
    updates_per_second = config.restarts / max(seconds_per_step, 1e-12)
    return {
        "steps_run": result.steps_run,
        "batch": result.batch,
        "program_cells": n_settings,
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        "seconds_per_step": seconds_per_step,
        "updates_per_second": updates_per_second,
        "traffic_bytes": result.traffic_bytes,
        "copy_bandwidth": bandwidth,
        "diagnostics_seconds": result.diagnostics_seconds / max(n_settings, 1),
        "floor_fraction": updates_per_second * result.traffic_bytes / bandwidth if bandwidth else float("nan"),
    }


def execute(config: RunConfig, cells: list[Cell], run_dir: RunDir, *,
            progress: Progress | None = None, cache: compiler.ProgramCache | None = None) -> dict:
    """Runs every cell not yet finished in ``run_dir`` and writes each as it ends.

    A cell that raises (a broken plugin, a program that fails to compile) is
    recorded as failed with its message; every other cell still runs.

    Returns:
      Counts: ``{"ran": ..., "skipped": ..., "failed": ...}``.
    """
    # A float64 run traces, compiles and runs under JAX's x64 mode: instances,
    # starts and summaries are all float64.
    with compiler.precision_scope(config.precision):
        return _execute(config, cells, run_dir, progress or Progress(),
                        cache or compiler.ProgramCache(compiler.local_mesh(config.devices)))


def _execute(config: RunConfig, cells: list[Cell], run_dir: RunDir, progress: Progress,
             cache: compiler.ProgramCache) -> dict:
    # With several processes every one computes every cell (its share of the
    # restarts) and process 0 writes; the others must not race it.
    write = jax.process_index() == 0
    device = jax.devices()[0]
    device_name = f"{device.platform}:{device.device_kind}"
    bandwidth = copy_bandwidth(device) * (1 if cache.mesh is None else cache.mesh.devices.size)
    order = {cell.id: i for i, cell in enumerate(cells)}
    # Cells that ran under other conditions, or whose files cannot be read, run again.
    run_conditions = conditions(config)
    done = run_dir.finished(run_conditions)
    pending = [c for c in cells if c.id not in done]
    counts = {"ran": 0, "skipped": len(cells) - len(pending), "failed": 0}
    # A program runs every cell of its group, finished ones too, so that a cell
    # run again (its files were lost or unreadable) gets the bits of an
    # uninterrupted run: the number of settings run together can change the
    # last bits. Only the unfinished cells are written.
    todo = [group for group in group_cells(cells) if any(c.id not in done for c in group)]
    progress.start(float(sum(len(group) for group in todo)))
    ckpts = np.asarray(checkpoint_steps(config.steps, config.checkpoints))
    draws: dict[str, streams.Draw | Exception] = {}
    for group in todo:
        setting = group[0].landscape
        progress.describe(f"{setting.label} · {group[0].optimizer.spec.name}")
        try:
            if setting.label not in draws:
                try:
                    batching.check_instance(setting, config.seed, device)  # too large: one line, not an OOM
                    draws[setting.label] = streams.draw(setting, config.seed)
                except Exception as exc:  # noqa: BLE001 - recorded per cell
                    draws[setting.label] = exc
            draw = draws[setting.label]
            if isinstance(draw, Exception):
                raise draw
            result = run_group(draw, [c.optimizer for c in group], config, cache=cache,
                               progress=progress, device=device)
        except Exception as exc:  # noqa: BLE001 - one failing cell never takes the run down
            message = one_line(exc)[:2000]
            for cell in (c for c in group if c.id not in done):
                row = tables.cell_row(cell, order[cell.id], config, status="failed", group=group_id(cell),
                                      error=message, device=device_name)
                if write:
                    run_dir.write_cell(cell.id, "failed", {"cells": pd.DataFrame([row])}, run_conditions)
            counts["failed"] += sum(c.id not in done for c in group)
            progress.advance(len(group))
            continue
        instance = draw.instance
        cell_resolution = resolution(None if instance.f_opt is None else float(instance.f_opt), config.precision)
        execution = execution_columns(result, config, len(group), bandwidth)
        for h, cell in enumerate(group):
            if cell.id in done:
                continue
            summary = {k: v[h] for k, v in result.summary.items()}
            found = result.diagnostics[h] if result.diagnostics else {}
            restarts = tables.restart_table(cell, summary, config, cell_resolution)
            for name, column in diagnostic_restart_columns(found, len(restarts)).items():
                restarts[name] = column
            row = tables.cell_row(cell, order[cell.id], config, status="ok", group=group_id(cell),
                                  device=device_name, restarts=restarts, instance=instance,
                                  execution=execution) | diagnostic_cell_columns(found)
            if write:
                run_dir.write_cell(cell.id, "ok", {
                    "restarts": restarts,
                    "cells": pd.DataFrame([row]),
                    "curves": tables.curve_table(cell, summary, ckpts),
                    **diagnostic_tables(cell, found, ckpts),
                }, run_conditions)
            counts["ran"] += 1
    return counts
