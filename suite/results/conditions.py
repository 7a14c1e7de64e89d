"""The conditions a cell ran under, recorded in its ``cell.json``, and the check that a resume keeps them.

Each cell records every run key that shapes its numbers (:data:`CONDITIONS`),
beside the landscape and optimizer values its id already holds. A run into a
folder (or a resume of it) whose config would mix conditions is refused in
one line naming the first changed key and both values, or, asked to, runs
those cells again. A cell written before cells recorded their conditions is
taken to match its folder's config.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from suite.errors import UsageError

# The batch size and device count change the last bits (README, "Common random
# numbers"); the chunk size changes none, and ``instances`` only adds cells.
CONDITIONS = ("restarts", "steps", "seed", "targets", "checkpoints", "precision", "stop_at_target", "tuning",
              "matmul_precision", "batch", "devices", "diagnostics", "diagnose_restarts")


def conditions(config) -> dict[str, Any]:
    """What ``cell.json`` records of a run config: every condition that shapes a cell's result."""
    out = {}
    for key in CONDITIONS:
        value = getattr(config, key)
        out[key] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def changed(recorded: dict, current: dict) -> tuple[str, Any, Any] | None:
    """The first condition that differs, as ``(key, recorded, current)``; None if none does.

    Keys one of them does not hold (a version that recorded fewer) are not compared.
    """
    for key in CONDITIONS:
        if key in recorded and key in current and recorded[key] != current[key]:
            return key, recorded[key], current[key]
    return None


def fingerprint(record: dict) -> str:
    """A short hash of a cell's conditions."""
    return hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def stale_cells(recorded: dict[str, dict | None], current: dict, order: list[str], folder: Path, *,
                resume: bool, rerun: bool) -> tuple[list[str], str]:
    """The finished cells that ran under other conditions than ``current``, refused unless ``rerun``.

    Args:
      recorded: cell id -> the conditions it recorded (None: before cells did).
      order: the plan's cell ids, to name the first stale cell of the plan.
      folder: the run folder, for the message.
      resume: a resume (the fix is to restore ``config.toml``), or a run into the folder.
      rerun: return the stale cells (to run again) instead of refusing.

    Returns:
      The stale cell ids in plan order, and a line saying what changed ("" if none).

    Raises:
      UsageError: stale cells without ``rerun``: the first changed key and both values.
    """
    stale = {cid: change for cid, record in recorded.items() if record and (change := changed(record, current))}
    if not stale:
        return [], ""
    rank = {cid: i for i, cid in enumerate(order)}
    ids = sorted(stale, key=lambda cid: (rank.get(cid, len(rank)), cid))
    key, before, now = stale[ids[0]]
    count = f"{len(ids)} cell" + ("s" if len(ids) > 1 else "")
    what = f"{key} changed from {shown_value(before)} to {shown_value(now)} since the cells in {folder} were run ({count})"
    if rerun:
        return ids, what
    if resume:
        fix = (f"restore {key} = {shown_value(before)} in {folder / 'config.toml'} to resume as it was, or rerun "
               f"those {count} with --rerun-stale (suite.resume(..., rerun_stale=True))")
    else:
        fix = f"run with {key} = {shown_value(before)}, choose another folder, or rerun those {count} with --rerun-stale"
    raise UsageError(f"{what}; {fix}")


def shown_value(value) -> str:
    """A condition's (or any recorded) value for a one-line message: short, as JSON writes it."""
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."
