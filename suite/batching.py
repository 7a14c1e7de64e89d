"""Batching: how many restarts run at once (device memory) and how many steps per chunk.

Restarts are split into equal batches that fit the device's memory budget;
steps run in chunks so that progress moves and a batch whose restarts are
all frozen stops early. Nothing here changes a result: every draw is keyed
by restart and step (:mod:`suite.streams`).

What cannot fit fails its cell with a one-line reason (:class:`DoesNotFit`)
instead of an out-of-memory kill or a raw XLA error: a landscape instance
larger than the device, one restart larger than the device, or a cell whose
tables would not fit in host memory. Host memory is the smaller of physical
memory and the container's limit (cgroup v2 ``memory.max``, v1
``memory.limit_in_bytes``); on the CPU the programs and the host-side tables
share it.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp

from suite import program, streams
from suite.config import RunConfig
from suite.errors import DoesNotFit, size_text

# Live memory per restart relative to its state (point + optimizer state):
# the state in and out of the scan step, gradient, updates and temporaries.
STATE_MEMORY_FACTOR = 8
# Share of an accelerator's free memory, and of the host's memory, a run may use.
DEVICE_FRACTION, HOST_FRACTION = 0.8, 0.5
# Where a container's memory limit is read (cgroup v2, then v1), besides the
# process's own cgroup named in PROC_CGROUP; a value of 2**60 or more means none.
CGROUP_LIMIT_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
PROC_CGROUP = "/proc/self/cgroup"
# Host-side tables, per restart and setting: the summaries copied from the device
# (twice: the batches and their concatenation), and restarts.parquet's row: about
# this many bytes per value (a pandas column built from a list, then Arrow's copy).
HOST_BYTES_PER_VALUE = 16
RESTART_TABLE_COLUMNS = 48  # identity, parameters and results, besides one column per target


def _cgroup_files() -> list[str]:
    files = list(CGROUP_LIMIT_FILES)
    try:
        lines = Path(PROC_CGROUP).read_text().splitlines()
    except OSError:
        return files
    for line in lines:  # "0::/path" (v2) or "4:memory:/path" (v1)
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        path = path.strip().lstrip("/")
        if not path:
            continue
        if controllers == "":
            files.append(f"/sys/fs/cgroup/{path}/memory.max")
        elif "memory" in controllers.split(","):
            files.append(f"/sys/fs/cgroup/memory/{path}/memory.limit_in_bytes")
    return files


def host_memory_limit() -> int:
    """Bytes of memory this process may use: physical memory, or less where a container limits it."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for file in _cgroup_files():
        try:
            text = Path(file).read_text().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit() and 0 < int(text) < 2**60:  # "max" (v2) or a huge number (v1): no limit
            limits.append(int(text))
    return min(limits) if limits else 8 << 30


def _device_budget(device: jax.Device) -> int:
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001
        stats = {}
    if "bytes_limit" in stats:
        return int(DEVICE_FRACTION * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    return int(HOST_FRACTION * host_memory_limit())


def memory_budget(device: jax.Device) -> int:
    """Bytes a program may use on ``device``: most of an accelerator's free memory, half of the host's.

    The host's memory is its container's limit where that is lower than
    physical memory. Batches are sized to this budget.
    """
    return _device_budget(device)


def _on_host(device: jax.Device) -> bool:
    return device.platform == "cpu"


def _bytes(tree) -> int:
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree) if hasattr(x, "dtype"))


def check_instance(setting, seed: int, device: jax.Device | None = None) -> None:
    """Refuses, before it is built, a landscape instance larger than the device allows.

    The build is traced abstractly (``jax.eval_shape``: nothing is allocated);
    a build that cannot be traced so (host code on the values) is not checked.

    Raises:
      DoesNotFit: one line with the instance's size and the device's allowance.
    """
    device = device or jax.devices()[0]
    key = streams.keys(seed, setting)[0]
    try:
        shapes = jax.eval_shape(lambda k: setting.spec.build(dict(setting.values), key=k), key)
        need = _bytes(shapes)
    except Exception:  # noqa: BLE001 - only the real build can say
        return
    allowed = _device_budget(device)
    if need > allowed:
        raise DoesNotFit(f"the instance of {setting.label} needs {size_text(need)}; this device allows "
                         f"{size_text(allowed)}")


def host_table_bytes(config: RunConfig, n_settings: int, summary_bytes: int) -> int:
    """Host memory the tables of one group of cells take: summaries and restarts.parquet rows."""
    columns = len(config.targets) + RESTART_TABLE_COLUMNS
    return config.restarts * n_settings * (2 * summary_bytes + columns * HOST_BYTES_PER_VALUE)


CHUNK_SECONDS = 1.0  # a chunk's target duration: the progress bar moves about every second
CHUNK_GROWTH = 8  # a chunk is at most this many times the last: one fast measurement cannot overshoot far


class Chunks:
    """Steps per chunk: fixed (``--chunk``), or sized by elapsed time.

    Progress and early stops are checked between chunks, and each chunk costs
    a call and a wait (about a millisecond on a CPU), so chunks should be as
    long as the progress bar allows. Sized by time, they start at one step,
    grow by at most :data:`CHUNK_GROWTH` a chunk, and settle at about
    :data:`CHUNK_SECONDS`: the same policy fits a 10-µs step and a 1-s one. No
    result depends on it (``suite.program``: frozen restarts do not move), and
    the chunk length is an argument of the compiled program, not its shape.
    Processes of one distributed run must make the same calls, so there
    (``timed=False``) a run has about 20 chunks of equal length instead. A
    ``compiled`` length (``program.Static.chunk``, on accelerators) runs whole,
    past T + 1 if the last chunk ends there.
    """

    def __init__(self, steps: int, fixed: int = 0, seconds: float = CHUNK_SECONDS, timed: bool = True,
                 compiled: bool = False):
        self.end = steps + 1  # steps 0..T are evaluated
        self.fixed = fixed or (0 if timed else math.ceil(self.end / 20))
        self.seconds = seconds
        self.size = self.fixed or 1
        self.compiled = compiled

    def next(self, t0: int) -> int:
        """The step that ends the chunk starting at ``t0`` (exclusive): at most T + 1 unless compiled."""
        return t0 + self.size if self.compiled else min(t0 + self.size, self.end)

    def took(self, steps: int, seconds: float) -> None:
        """Records that a chunk of ``steps`` steps took ``seconds``; sizes the next one."""
        if self.fixed or steps <= 0:
            return
        wanted = self.seconds * steps / max(seconds, 1e-9)
        self.size = max(1, min(int(wanted), self.size * CHUNK_GROWTH, self.end))


def _one_restart(static: program.Static, instance, hparams: dict, ctx: program.Context) -> program.RestartState:
    """Shapes of the state of one setting's one restart."""
    return jax.eval_shape(functools.partial(program.init, static), instance,
                          jax.tree.map(lambda h: jax.ShapeDtypeStruct((1,), h.dtype), hparams),
                          jax.ShapeDtypeStruct((1,), jnp.int32), jax.random.key(0), jax.random.key(0), ctx)


def batch_size(static: program.Static, instance, hparams: dict, ctx: program.Context, budget: int,
               config: RunConfig, n_settings: int) -> int:
    """Restarts per batch: ``config.batch``, or equal batches that fit ``budget`` bytes.

    Raises:
      DoesNotFit: the group's tables do not fit in host memory, or one
        restart (with the instance) does not fit the device, whatever the batch.
    """
    one = _one_restart(static, instance, hparams, ctx)
    state_bytes = _bytes(one) or 1
    device = jax.devices()[0]
    host_allowed = int(HOST_FRACTION * host_memory_limit())
    tables = host_table_bytes(config, n_settings, _bytes(one.summary))
    if tables > host_allowed:
        raise DoesNotFit(f"the tables of {config.restarts:,} restarts × {n_settings} setting"
                         f"{'s' if n_settings > 1 else ''} need {size_text(tables)} of host memory; this "
                         f"machine allows {size_text(host_allowed)}: run fewer restarts")
    allowed = _device_budget(device)
    if _on_host(device):  # the programs and the tables share the host's memory
        allowed = max(0, min(allowed, host_allowed - tables))
        budget = min(budget, allowed)
    need = _bytes(instance) + STATE_MEMORY_FACTOR * state_bytes * n_settings
    if need > allowed:
        coordinates = sum(x.size for x in jax.tree.leaves(one.x))
        raise DoesNotFit(f"needs {size_text(need)} for one restart ({coordinates:,} coordinates, {n_settings} "
                         f"setting{'s' if n_settings > 1 else ''}, the instance included); this device allows "
                         f"{size_text(allowed)}")
    if config.batch:
        return min(config.batch, config.restarts)
    fits = max(1, (budget - _bytes(instance)) // (STATE_MEMORY_FACTOR * state_bytes * n_settings))
    n_batches = math.ceil(config.restarts / min(fits, config.restarts))
    # Equal batches waste less padding than one full batch and a small remainder.
    return math.ceil(config.restarts / n_batches)


def traffic_bytes(static: program.Static, instance, hparams: dict, ctx: program.Context) -> int:
    """Bytes a restart-step reads and writes at least: its point and optimizer state, in and out."""
    one = _one_restart(static, instance, hparams, ctx)
    return 2 * sum(x.size * x.dtype.itemsize for x in jax.tree.leaves((one.x, one.opt_state)))
