"""Shared fixtures: a fresh registry per test, small run configs, tree comparison."""

from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np
import pytest

from suite import config as cfg
from suite.registry import load_registry, make_plugin_manager

# Runs inside the tests compile for real: a persistent cache shared across test
# sessions would hide compilations that tests count. tests/test_compile_cache.py
# turns it on in its own processes.
os.environ["SUITE_COMPILE_CACHE"] = "off"


@pytest.fixture
def registry():
    """Every installed plugin, from a fresh plugin manager (no global state)."""
    return load_registry(make_plugin_manager())


def small_config(**overrides) -> cfg.RunConfig:
    """A run small enough for CI: a few restarts, a few steps."""
    base = cfg.RunConfig(
        landscapes=[cfg.Component("bowl", {"dim": [3], "condition": [10.0]})],
        optimizers=[cfg.Component("adam", {"learning_rate": [0.01, 0.1]})],
        restarts=6, steps=40, checkpoints=8,
    )
    return dataclasses.replace(base, **overrides)


def assert_trees_close(actual, expected, *, rtol=1e-6, atol=0.0):
    """Asserts two pytrees have the same structure and close leaves."""
    a_leaves, a_def = jax.tree.flatten(actual)
    e_leaves, e_def = jax.tree.flatten(expected)
    assert a_def == e_def, f"tree structures differ: {a_def} != {e_def}"
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol,
                                   err_msg=f"leaf {i} differs")


def hand_tables(rows: list[dict], restarts: int = 10, label: str = "1e-08"):
    """cells and restarts tables of finished cells, by hand: one target ``label``.

    Each row gives cell columns plus ``success`` (the share of restarts that
    reach the target at step ``hit``, default 5, and hold it with final loss 0;
    the others end at loss 1 without reaching it).
    """
    import pandas as pd

    cells, tables = [], []
    for i, row in enumerate(rows):
        row = dict(row)
        success, hit = row.pop("success"), row.pop("hit", 5)
        cid = f"c{i}"
        cells.append({"cell_id": cid, "landscape_label": "L", "status": "ok", "f_opt": 0.0,
                      "f_opt_known": True, "f_opt_kind": "exact", "precision": "float64",
                      "median_final_loss": 0.0, **row})
        won = np.arange(restarts) < round(success * restarts)
        tables.append(pd.DataFrame({
            "cell_id": cid, "restart": np.arange(restarts), "steps": 100,
            "final_loss": np.where(won, 0.0, 1.0), "best_loss": np.where(won, 0.0, 1.0),
            f"step_to_target_{label}": pd.array(np.where(won, hit, -1), dtype="Int64").astype("Int64"),
            "targets_held": won.astype(np.int64), "relapsed": False}))
    restarts_table = pd.concat(tables, ignore_index=True)
    column = restarts_table[f"step_to_target_{label}"]
    restarts_table[f"step_to_target_{label}"] = column.mask(column < 0)
    return pd.DataFrame(cells), restarts_table


BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def count_compiles():
    """A context manager counting XLA compilations by JAX's own monitoring events.

    Yields a ``collections.Counter``: function name as JAX reports it
    (``"jit(run_chunk)"``) → executables compiled while the block runs. JAX
    records ``/jax/core/compile/backend_compile_duration`` once per executable
    it builds. Its in-memory caches are cleared on entry, so a program another
    test already compiled in this process is counted too: the counts do not
    depend on which tests ran before. (The tests keep the persistent cache off.)
    """
    import collections
    import contextlib

    @contextlib.contextmanager
    def counting():
        counts = collections.Counter()

        def listener(event, duration, **kwargs):
            del duration
            if event == BACKEND_COMPILE_EVENT:
                counts[kwargs.get("fun_name", "")] += 1

        jax.clear_caches()
        jax.monitoring.register_event_duration_secs_listener(listener)
        try:
            yield counts
        finally:
            jax.monitoring.unregister_event_duration_listener(listener)

    return counting()
