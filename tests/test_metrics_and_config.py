"""Metrics against hand-computed values; config parsing and its TOML round trip."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite import config as cfg
from suite import plan
from suite.errors import UsageError
from suite.metrics import ert, leaderboard, selection_order, target_label
from conftest import hand_tables


def test_ert_follows_coco():
    # Two successes at steps 10 and 30; two failures that ran 100 and 40 steps
    # (the second diverged at 40): (10 + 30 + 100 + 40) / 2 = 90.
    hits = np.array([10, -1, 30, -1])
    steps = np.array([10, 100, 30, 40])
    assert ert(hits, steps) == 90.0
    assert math.isinf(ert(np.array([-1, -1]), np.array([5, 5])))
    assert ert(pd.array([0, pd.NA], dtype="Int64"), np.array([0, 7])) == 7.0


def test_leaderboard_applies_the_stated_rule():
    # Success first (a's 50% setting loses to its 100% one), then ERT (b and c reach the
    # target at step 20, a at step 40), then median final loss (NaN loses: c after b).
    success = np.array([0.5, 1.0, 1.0, 1.0])
    ert_ = np.array([10.0, 40.0, 20.0, 20.0])
    median = np.array([0.0, 0.0, 0.2, np.nan])
    assert list(selection_order(success, ert_, median)) == [2, 3, 1, 0]
    # The leaderboard applies it to per-restart tables: a's best setting is its 100% one.
    cells, restarts = hand_tables([{"optimizer": "a", "entry": "a", "success": 0.5, "hit": 1},
                                   {"optimizer": "a", "entry": "a", "success": 1.0, "hit": 40},
                                   {"optimizer": "b", "entry": "b", "success": 1.0, "hit": 20}])
    board = leaderboard(cells, restarts)
    assert list(board["entry"]) == ["b", "a"] and list(board["cell_id"]) == ["c2", "c1"]
    assert board["p_value"].iloc[1] == 2 * 0.5 ** 10  # b's hit is earlier on all 10 paired restarts
    assert list(board["rank"]) == [1, 2]


def test_component_flags_parse_sweeps():
    assert cfg.parse_component("adam:learning_rate=1e-3,1e-2:b1=0.9", "--optimizer") == (
        "adam", {"learning_rate": ["1e-3", "1e-2"], "b1": ["0.9"]})
    with pytest.raises(UsageError, match="expected NAME"):
        cfg.parse_component(":dim=3", "--landscape")


def test_resolved_config_round_trips_through_toml(registry):
    config = cfg.RunConfig(
        landscapes=[cfg.Component("bowl", {"dim": ["3"], "condition": ["10", "100"]})],
        optimizers=[cfg.Component("adam", {}), cfg.Component("sgd", {"learning_rate": [0.1]})],
        seed=7, restarts=5, steps=9)
    landscapes, optimizers = plan.resolve(config, registry)
    assert len(landscapes) == 2
    assert len(optimizers) == len(registry.optimizers["adam"].sweep["learning_rate"]) + 1
    resolved = plan.resolved_config(config, landscapes, optimizers)
    again = cfg.from_toml(__import__("tomllib").loads(cfg.to_toml(resolved)))
    l2, o2 = plan.resolve(again, registry)
    assert [c.label for c in l2] == [c.label for c in landscapes]
    assert [c.label for c in o2] == [c.label for c in optimizers]
    assert again.seed == 7 and again.targets == cfg.DEFAULT_TARGETS


def test_default_targets_are_cocos_51_levels():
    assert len(cfg.DEFAULT_TARGETS) == 51
    assert cfg.DEFAULT_TARGETS[0] == 100.0 and cfg.DEFAULT_TARGETS[-1] == pytest.approx(1e-8)
    assert target_label(cfg.DEFAULT_TARGETS[1]) == "63.1"


def test_checkpoints_are_log_spaced_and_include_both_ends():
    steps = plan.checkpoint_steps(1000, 48)
    assert steps[0] == 0 and steps[-1] == 1000
    assert 32 <= len(steps) <= 49
    assert np.all(np.diff(steps) > 0)
