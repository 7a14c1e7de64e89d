"""Result tables: the rows a finished (or failed) cell writes to the run folder.

``restarts.parquet`` has one row per restart, ``curves.parquet`` quantiles
over restarts at the checkpoint steps, ``cells.parquet`` one row per cell: what
names it, the conditions it was measured under, how it was executed, and its
scores (computed by :mod:`suite.metrics`, the one place scoring rules live).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from suite import metrics
from suite.config import RunConfig
from suite.metrics import target_label
from suite.plan import Cell
from suite.specs import Landscape

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Columns of cells.parquet that say how a cell was executed, not what it
# computed: they differ between an interrupted-and-resumed run and a whole one.
EXECUTION_COLUMNS = ("compile_seconds", "run_seconds", "seconds_per_step", "batch",
                     "program_cells", "steps_run", "diagnostics_seconds", "updates_per_second",
                     "copy_bandwidth", "floor_fraction")


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


def cell_row(cell: Cell, order: int, config: RunConfig, *, status: str, group: str, error: str = "",
             device: str = "", restarts: pd.DataFrame | None = None, instance: Landscape | None = None,
             execution: dict | None = None) -> dict:
    """The cells.parquet row of one cell, with its scores when it finished.

    Args:
      group: the id of the cells that ran as one compiled program (they share
        its compile and run seconds: sum those once per group).
      restarts: the cell's restart table, when it finished.
      instance: the landscape instance it ran on.
      execution: how it ran (``EXECUTION_COLUMNS`` and ``traffic_bytes``).
    """
    row = identity_columns(cell) | {
        "order": order,
        "landscape_label": cell.landscape.label,
        "optimizer_label": cell.optimizer.label,
        "group": group,
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
    if restarts is None or instance is None:
        return row
    known = instance.f_opt is not None
    row |= {
        "f_opt": float(instance.f_opt) if known else float("nan"),
        "f_opt_known": known,
        "f_opt_kind": instance.f_opt_kind if known else "",
        # Named reference losses (the p-spin threshold, ...) for reports to draw.
        "levels": json.dumps(dict(instance.levels)),
        "tags": ",".join(instance.tags),
        # How many numbers the optimizer moves: the dimension COCO and IOHprofiler report.
        "coordinates": _coordinates(instance),
        **(execution or {}),
    }
    scores = metrics.cell_metrics(restarts, list(config.targets), float(instance.f_opt) if known else None,
                                  instance.f_opt_kind, config.precision)
    # Column order as the run folders before: the scores, then the index curve
    # and the diagnostics asked, then the per-target scores.
    per_target = {k: v for k, v in scores.items() if k not in metrics.CELL_SUMMARY_COLUMNS}
    row |= {k: scores[k] for k in metrics.CELL_SUMMARY_COLUMNS}
    row |= {
        # The theoretical index of critical points against loss, for the diagnostics' figure.
        "index_curve": json.dumps(list(instance.index_curve)),
        "diagnostics": ",".join(config.diagnostics),
    }
    return row | per_target


def _coordinates(instance: Landscape) -> int:
    """The size of the flattened start point, from its shapes alone (nothing is computed)."""
    import jax

    shapes = jax.eval_shape(instance.init, jax.random.key(0))
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(shapes)))
