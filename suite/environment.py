"""Run metadata: versions, device, git commit, times (written once, not per row)."""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import socket
import subprocess
import sys
from pathlib import Path

import jax

PACKAGES = ("suite", "jax", "jaxlib", "optax", "pluggy", "numpy", "pandas", "pyarrow")


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


def collect(seed: int, command: list[str], plugins: list[str]) -> dict:
    """Metadata of a run about to start."""
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
