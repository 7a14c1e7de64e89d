"""Run metadata: versions, device, git commit, times (written once, not per row)."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import jax

# Distribution names: this project is "landscape-suite" on the package index.
PACKAGES = ("landscape-suite", "jax", "jaxlib", "optax", "pluggy", "numpy", "pandas", "pyarrow")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(path: Path) -> str | None:
    """The commit of the git checkout holding ``path`` (with ``+dirty``), if any."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect(seed: int, command: list[str], plugins: dict) -> dict:
    """Metadata of a run about to start; ``plugins`` is where each component came from, by plugin
    (:meth:`suite.registry.Registry.provenance`)."""
    devices = jax.devices()
    return {
        "command": command,
        "seed": seed,
        "started": now(),
        "finished": None,
        "host": socket.gethostname(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "device": {
            "platform": devices[0].platform,
            "kind": devices[0].device_kind,
            "count": len(devices),
        },
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "plugins": plugins,
    }


def compile_cache_dir(setting: str | None = None) -> Path | None:
    """Where JAX's persistent compilation cache lives, or None when it is off.

    ``setting`` (``--compile-cache``) wins, then ``$SUITE_COMPILE_CACHE``; the
    words ``off``, ``none``, ``0`` or an empty value turn the cache off. The
    default is ``$XDG_CACHE_HOME/suite/jax`` (``~/.cache/suite/jax``).
    """
    if setting is not None and not isinstance(setting, (str, Path)):
        from suite.errors import UsageError

        raise UsageError(f"compile_cache must be a folder or 'off'; got {setting!r}")
    value = str(setting) if setting is not None else os.environ.get("SUITE_COMPILE_CACHE")
    if value is not None:
        if value.strip().lower() in ("", "off", "none", "0", "false", "no"):
            return None
        return Path(value).expanduser()
    return cache_home() / "jax"


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/suite`` (``~/.cache/suite``): what the suite keeps between runs."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "suite"


def enable_compile_cache(setting: str | None = None) -> str | None:
    """Points JAX's persistent compilation cache at the folder asked for, or turns it off.

    A second run of the same programs, in a new process, then loads them
    instead of compiling; every program is kept, however quick to compile.
    JAX sets its cache up once per process: a later run in the same process
    that asks for another folder (or none) resets it, so what the run's
    metadata records is what was used. Returns the directory, or None when
    the cache is off or cannot be used (the run goes on without it).
    """
    path = compile_cache_dir(setting)
    wanted = None if path is None else str(path)
    try:
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        if jax.config.jax_compilation_cache_dir != wanted:
            _reset_compile_cache()
            jax.config.update("jax_compilation_cache_dir", wanted)
        if wanted is not None:
            # By default JAX keeps only programs that took over a second to compile;
            # a sweep's programs are often quicker, and many of them add up.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (OSError, AttributeError, ValueError):
        return None
    return wanted


def _reset_compile_cache() -> None:
    """Forgets the cache JAX set up (its documented ``reset_cache``), so a new folder takes effect."""
    try:
        from jax._src import compilation_cache
    except ImportError:
        return
    reset = getattr(compilation_cache, "reset_cache", None)
    if reset is not None:
        reset()


def init_distributed(coordinator: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None) -> tuple[int, int]:
    """Starts JAX's multi-process runtime; returns (this process's index, the number of processes).

    Unset arguments come from ``$JAX_COORDINATOR_ADDRESS``, ``$JAX_NUM_PROCESSES``
    and ``$JAX_PROCESS_ID``, else from JAX's cluster detection (SLURM, Open MPI,
    Kubernetes, ...). Must run before any JAX computation.
    """
    from suite.errors import UsageError, one_line

    def from_env(value, name):
        if value is not None or not os.environ.get(name):
            return value
        try:
            return int(os.environ[name])
        except ValueError:
            raise UsageError(f"${name} must be an integer; got {os.environ[name]!r}") from None

    try:
        jax.distributed.initialize(coordinator_address=coordinator,
                                   num_processes=from_env(num_processes, "JAX_NUM_PROCESSES"),
                                   process_id=from_env(process_id, "JAX_PROCESS_ID"))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise UsageError(f"--distributed could not start JAX's multi-process runtime: {one_line(exc)}") from None
    return jax.process_index(), jax.process_count()


def copy_bandwidth(device: jax.Device) -> float:
    """Bytes per second of one device copy (read + write) of a large array.

    Measured once per machine, device kind and JAX version, and kept in
    ``cache_home()/bandwidth.json``: it is a fact about the machine, not about
    a run, and measuring it costs a run about a tenth of a second. A cache
    that cannot be read or written only means measuring again.
    """
    import json

    key = f"{socket.gethostname()}|{device.platform}|{device.device_kind}|jax {jax.__version__}"
    if key in _BANDWIDTH:
        return _BANDWIDTH[key]
    file = cache_home() / "bandwidth.json"
    try:
        known = json.loads(file.read_text())
        value = float(known[key])
        if value > 0:
            _BANDWIDTH[key] = value
            return value
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        known = {}
    _BANDWIDTH[key] = value = measure_copy_bandwidth(device)
    try:
        known = known if isinstance(known, dict) else {}
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known | {key: value}, indent=1) + "\n")
        os.replace(tmp, file)
    except OSError:
        pass
    return value


_BANDWIDTH: dict[str, float] = {}


def measure_copy_bandwidth(device: jax.Device) -> float:
    """Bytes per second of one copy (read + write) of a 64 MiB (CPU) or 512 MiB array: best of 3."""
    import time

    import jax.numpy as jnp

    x = jax.device_put(jnp.ones((64 if device.platform == "cpu" else 512) << 18, jnp.float32), device)
    copy = jax.jit(lambda a: a + 1.0)
    copy(x).block_until_ready()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        copy(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * x.nbytes / min(times)
