"""The random-restarts study's check against tables whose answer is known by hand.

Independent restarts (Bernoulli draws) follow 1 − (1 − p)^k; restarts whose
successes are spread evenly (one in every five) or bunched in runs do not;
too few successes cannot decide; the ERT compared is COCO's, worked by hand.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.studies import random_restarts
from suite.studies._common import normal_quantile, wilson
from suite.verdict import StudyData

TOML = Path(random_restarts.__file__).with_name("random_restarts.toml")
HIT = "step_to_target_0.0001"
BUDGET, HIT_STEP = 200, 10


def study() -> dict:
    return tomllib.loads(TOML.read_text(encoding="utf-8"))["study"]


def tables(success: np.ndarray, *, ert: float | None = None, cell: str = "c") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A cell whose restarts succeed as ``success`` says: hits at step 10, failures run the 200-step budget."""
    success = np.asarray(success, bool)
    restarts = pd.DataFrame({"cell_id": cell, "restart": np.arange(len(success)),
                             "steps": np.where(success, HIT_STEP, BUDGET),
                             HIT: np.where(success, float(HIT_STEP), np.nan)})
    if ert is None:  # COCO: (10 per success + 200 per failure) / successes
        ert = (HIT_STEP * success.sum() + BUDGET * (~success).sum()) / success.sum() if success.any() else math.inf
    cells = pd.DataFrame({"cell_id": [cell], "status": ["ok"], "landscape_label": [f"rastrigin({cell})"],
                          "optimizer_label": ["sgd(learning_rate=0.002)"], "ert_0.0001": [ert]})
    return cells, restarts


def verdict(success, **kwargs):
    cells, restarts = tables(success, **kwargs)
    return random_restarts.check(StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={},
                                           study=study()))


def test_best_of_k_counts_disjoint_groups_by_hand():
    success = np.array([0, 0, 1, 0, 0, 0, 1, 1, 0], bool)
    assert random_restarts.best_of_k(success, 2) == (4, 2)  # 00 10 00 11, the ninth left out
    assert random_restarts.best_of_k(success, 3) == (3, 2)  # 001 000 110
    assert random_restarts.best_of_k(success, 9) == (1, 1)
    assert random_restarts.best_of_k(success, 10) == (0, 0)
    assert random_restarts.ks_for(1024, 16) == [1, 2, 4, 8, 16, 32, 64]
    assert random_restarts.restart_law(0.5, 3) == pytest.approx(0.875)


def test_wilson_and_bonferroni_match_published_values():
    low, high = wilson(5, 10)  # Wilson's interval for 5 of 10 at 95%: [0.2366, 0.7634]
    assert (low, high) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0  # exact ends, never rounded inside
    assert normal_quantile(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.95, 10) == pytest.approx(2.807034, abs=1e-6)  # z of 1 − 0.0025


def test_independent_restarts_reproduce_the_law_and_coco_ert():
    success = np.random.default_rng(7).random(8192) < 0.05
    v = verdict(success)
    assert v.status == "reproduced", [c for c in v.comparisons if not c.passed]
    ert = [c for c in v.comparisons if c.quantity.startswith("ERT")][0]
    s = success.sum()
    assert ert.theory == pytest.approx((10 * s + 200 * (8192 - s)) / s)
    assert v.plots[0].x_log and {s.kind for s in v.plots[0].series} == {"measured", "theory"}


def test_successes_spread_evenly_beat_independence_and_fail():
    # One success in every five restarts: p̂ = 0.2, and every group of 8 holds one, so best-of-8 is 1,
    # against 1 − 0.8⁸ = 0.832 for independent restarts.
    success = np.arange(5000) % 5 == 0
    v = verdict(success)
    assert v.status == "not reproduced"
    failed = {c.quantity.split(",")[0] for c in v.comparisons if not c.passed}
    assert "best of 8 restarts succeeds" in failed


def test_successes_bunched_in_runs_stay_near_p_and_fail():
    # Runs of 16 alike restarts (one draw per run): best-of-k for k ≤ 16 stays at p, far below 1 − (1 − p)^k.
    draws = np.random.default_rng(3).random(512) < 0.2
    v = verdict(np.repeat(draws, 16))
    assert v.status == "not reproduced"


def test_a_wrong_ert_in_the_cells_table_fails():
    success = np.random.default_rng(11).random(4096) < 0.1
    s = success.sum()
    right = (10 * s + 200 * (4096 - s)) / s
    v = verdict(success, ert=200 / success.mean())  # every restart charged the whole budget
    ert = [c for c in v.comparisons if c.quantity.startswith("ERT")][0]
    assert not ert.passed and ert.theory == pytest.approx(right)


def test_too_few_successes_are_inconclusive():
    success = np.zeros(4096, bool)
    success[[5, 900, 3000]] = True
    v = verdict(success)
    assert v.status == "inconclusive" and "3 successes" in v.notes[0]


def test_the_config_parses_at_every_size():
    from suite import study as study_files
    from suite.registry import load_registry

    spec = load_registry().study("random_restarts")
    for size in ("tiny", "small", "full"):
        run = study_files.config(spec, size)
        assert run.stop_at_target and run.targets == (1e-4,)
