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
