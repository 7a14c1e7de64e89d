"""Leaderboard metrics on hand-made tables, against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite import metrics
from suite.metrics import ranking

NAN = float("nan")


def _ert_by_hand(first_hits, steps) -> float:
    """COCO's ERT by a plain loop, a miss coded -1: the steps every restart used (a
    success's up to its first hit, a failure's whole budget) over the successes; ∞ with none."""
    used, successes = 0.0, 0
    for hit, budget in zip(first_hits, steps, strict=True):
        if hit >= 0:
            used, successes = used + hit, successes + 1
        else:
            used += budget
    return used / successes if successes else math.inf


def test_ert_of_every_target_follows_coco():
    # Four restarts, two targets; restarts 1 and 3 miss target 0 after 10 and 8 steps.
    hits = np.array([[3, 4], [NAN, NAN], [5, NAN], [NAN, NAN]])
    steps = np.array([4, 10, 9, 8])
    ert = metrics.ert(hits, steps, axis=0)
    assert ert[0] == (3 + 10 + 5 + 8) / 2
    assert ert[1] == (4 + 10 + 9 + 8) / 1
    assert math.isinf(metrics.ert(np.full((3, 1), NAN), np.array([5, 5, 5]), axis=0)[0])
    # One target at a time, a miss coded -1: the same hand values.
    assert metrics.ert(np.array([3, -1, 5, -1]), steps) == 13.0  # (3 + 10 + 5 + 8) / 2
    assert metrics.ert(np.array([4, -1, -1, -1]), steps) == 31.0  # (4 + 10 + 9 + 8) / 1
    assert math.isinf(metrics.ert(np.array([-1, -1, -1]), np.array([5, 5, 5])))


def test_simulated_restarts_average_to_the_ert():
    # E[runtime] = E[failures] · mean failed steps + mean hit = ERT exactly (COCO's identity).
    hits = np.array([2.0, NAN, 7.0, NAN, NAN])
    steps = np.array([2, 20, 7, 20, 12])
    rng = np.random.default_rng(0)
    runtimes = metrics.simulated_runtimes(hits, steps, 200_000, rng)
    # ERT by hand: (2 + 20 + 7 + 20 + 12) steps over 2 successes.
    assert np.mean(runtimes) == pytest.approx(30.5, rel=0.01)
    # Every runtime is a sum of failed restarts' steps plus one success's.
    assert set(np.unique(runtimes % 1)) == {0.0} and runtimes.min() == 2.0
    assert np.all(np.isinf(metrics.simulated_runtimes(np.full(3, NAN), steps[:3], 10, rng)))


def test_ert_interval_holds_the_ert_and_narrows_with_more_restarts():
    rng = np.random.default_rng(1)
    steps = np.full(40, 100.0)
    hits = np.where(rng.random(40) < 0.3, rng.integers(10, 90, 40).astype(float), NAN)
    low, high = metrics.ert_interval(hits, steps, rng)
    value = _ert_by_hand(np.nan_to_num(hits, nan=-1), steps)
    assert low < value < high
    # Sixteen times the restarts with the same success rate: the interval is about 4× narrower.
    many_hits, many_steps = np.tile(hits, 16), np.tile(steps, 16)
    low16, high16 = metrics.ert_interval(many_hits, many_steps, rng)
    assert low16 < value < high16
    assert 2.5 < (high - low) / (high16 - low16) < 6
    # All restarts succeed at the same step: no uncertainty; none succeeds: no finite interval.
    assert metrics.ert_interval(np.full(8, 5.0), np.full(8, 5.0), rng) == (5.0, 5.0)
    assert metrics.ert_interval(np.full(8, NAN), np.full(8, 9.0), rng) == (math.inf, math.inf)


def test_runtime_ecdf_counts_runtimes_at_most_each_budget():
    ecdf = metrics.runtime_ecdf(np.array([1.0, 2.0, np.inf, 4.0]), np.array([0, 1, 3, 4, 10]))
    assert ecdf.tolist() == [0.0, 0.25, 0.5, 0.75, 0.75]


def test_targets_are_read_off_the_restart_table_hardest_last():
    table = pd.DataFrame(columns=["final_loss", "step_to_target_1e-08", "step_to_target_100",
                                  "step_to_target_0.1"])
    assert metrics.targets_of(table) == [(100.0, "100"), (0.1, "0.1"), (1e-8, "1e-08")]


# --- across landscapes ------------------------------------------------------------------

# Three problems, three entries. Ratios to the best: P1 A 1, B 2, C ∞; P2 A 2, B 1, C 4; P3 A 1, B 1, C ∞.
TIMES = pd.DataFrame({"A": [10.0, 30.0, 5.0], "B": [20.0, 15.0, 5.0], "C": [np.inf, 60.0, np.inf]},
                     index=["P1", "P2", "P3"])


def test_performance_profile_by_hand():
    rho = ranking.performance_profile(TIMES, [1.0, 1.5, 2.0, 4.0, 100.0])
    assert rho["A"].tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1, 1])
    assert rho["B"].tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1, 1])
    assert rho["C"].tolist() == pytest.approx([0, 0, 0, 1 / 3, 1 / 3])


def test_profile_score_is_algoperf_integral_by_hand():
    # (1/(4 − 1)) ∫_1^4 ρ dτ = mean over problems of (4 − r)⁺ / 3.
    score = ranking.profile_score(TIMES)
    assert score["A"] == pytest.approx((3 + 2 + 3) / 3 / 3)
    assert score["B"] == pytest.approx((2 + 3 + 3) / 3 / 3)
    assert score["C"] == pytest.approx(0.0)  # within 4× only at r = 4 exactly, which adds no area
    taus = np.linspace(1, 4, 300_001)
    rho = ranking.performance_profile(TIMES, taus)
    curve = rho["A"].to_numpy()
    area = np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(taus))
    assert area / 3 == pytest.approx(score["A"], abs=1e-4)


def _board(rows):
    """A leaderboard table: (landscape, entry, success, ert, median, rank); ranks as the leaderboard gave them."""
    board = pd.DataFrame(rows, columns=["landscape_label", "entry", "success_1e-08", "ert_1e-08",
                                        "median_final_loss", "rank"])
    board["ert_1"] = board["ert_1e-08"] / 2
    return board


# L3: A and B tie (the sign test could not tell them apart), C is third.
BOARD = _board([
    ("L1", "A", 1.0, 100.0, 0.0, 1), ("L1", "B", 1.0, 300.0, 0.0, 2), ("L1", "C", 0.0, np.inf, 5.0, 3),
    ("L2", "A", 0.5, 400.0, 1.0, 2), ("L2", "B", 0.9, 200.0, 0.1, 1),
    ("L3", "A", 0.0, np.inf, 3.0, 1), ("L3", "B", 0.0, np.inf, 3.0, 1), ("L3", "C", 0.0, np.inf, 4.0, 3),
])


def test_profile_times_floor_at_one_step_and_drop_problems_nobody_solved():
    board = BOARD.copy()
    board.loc[(board["landscape_label"] == "L1") & (board["entry"] == "A"), "ert_1"] = 0.0
    times = ranking.profile_times(board, ["1", "1e-08"])
    assert set(times.index) == {("L1", "1"), ("L1", "1e-08"), ("L2", "1"), ("L2", "1e-08")}
    assert times.loc[("L1", "1"), "A"] == 1.0  # met at the start: one step
    assert math.isinf(times.loc[("L2", "1e-08"), "C"])  # no cell on L2
    # A target below resolution (NaN ERT) is no problem at all.
    board["ert_1"] = np.nan
    assert set(ranking.profile_times(board, ["1", "1e-08"]).index) == {("L1", "1e-08"), ("L2", "1e-08")}


def test_win_rates_by_hand():
    wins = ranking.win_rates(BOARD)
    # A vs B: L1 A ranks above, L2 B does, L3 they tie → (1 + 0 + 0.5) / 3.
    assert wins.loc["A", "B"] == pytest.approx(0.5)
    assert wins.loc["B", "A"] == pytest.approx(0.5)
    # A vs C on L1 and L3 only (C has no L2): A ranks above C on both.
    assert wins.loc["A", "C"] == 1.0 and wins.loc["C", "A"] == 0.0
    assert wins.loc["B", "C"] == 1.0
    assert np.isnan(wins.loc["A", "A"])


def test_overall_ranking_puts_a_missing_landscape_last_and_ties_equal_means():
    overall = ranking.overall_ranking(BOARD).set_index("entry")
    # L1: A 1, B 2, C 3; L2: B 1, A 2, C absent → 3 (below both that finished); L3: A 1, B 1, C 3.
    assert overall.loc["C", "mean_rank"] == pytest.approx((3 + 3 + 3) / 3)
    assert overall.loc["A", "mean_rank"] == pytest.approx((1 + 2 + 1) / 3)
    assert overall.loc["B", "mean_rank"] == pytest.approx((2 + 1 + 1) / 3)
    assert overall.loc["C", "landscapes"] == 2
    assert overall.loc["A", "wins"] == 2 and overall.loc["B", "wins"] == 2  # a shared first place counts
    assert overall["rank"].tolist() == [1, 1, 3]  # equal mean ranks share the place


def _cells_and_restarts(success: dict[str, float], n: int, seed: int, landscapes=("L",)):
    """Cells and restarts of entries with the given success rates (one setting each)."""
    rng = np.random.default_rng(seed)
    cells, restarts = [], []
    for landscape in landscapes:
        for entry, p in success.items():
            cid = f"{landscape}-{entry}"
            hit = np.where(rng.random(n) < p, rng.integers(1, 50, n), -1)
            restarts.append(pd.DataFrame({
                "cell_id": cid, "restart": np.arange(n), "steps": np.where(hit >= 0, hit, 100),
                "final_loss": np.where(hit >= 0, 0.0, 1.0),
                "step_to_target_1e-08": pd.array(np.where(hit >= 0, hit, -1), dtype="Int64")}))
            hits = np.where(hit >= 0, hit, -1)
            cells.append({"cell_id": cid, "landscape_label": landscape, "entry": entry, "status": "ok",
                          "success_1e-08": float(np.mean(hits >= 0)),
                          "ert_1e-08": _ert_by_hand(hits, np.where(hit >= 0, hit, 100)),
                          "median_final_loss": float(np.median(np.where(hit >= 0, 0.0, 1.0)))})
    restarts = pd.concat(restarts, ignore_index=True)
    restarts["step_to_target_1e-08"] = restarts["step_to_target_1e-08"].where(
        restarts["step_to_target_1e-08"] >= 0)
    return pd.DataFrame(cells), restarts


def test_a_clear_winner_stays_on_top_under_the_bootstrap():
    cells, restarts = _cells_and_restarts({"A": 0.9, "B": 0.2}, n=200, seed=0, landscapes=("L1", "L2"))
    stability = ranking.ranking_stability(cells, restarts, "1e-08", resamples=100)
    assert stability["top"]["A"] == 1.0
    assert stability["winners"]["L1"] == {"A": 1.0}


def test_a_ranking_that_flips_with_the_seed_is_uncertain():
    # Two entries with the same success rate: which one wins depends on the draw.
    cells, restarts = _cells_and_restarts({"A": 0.5, "B": 0.5}, n=100, seed=3)
    stability = ranking.ranking_stability(cells, restarts, "1e-08", resamples=200)
    assert 0.1 < stability["top"]["A"] < 0.9
    assert stability["top"]["A"] + stability["top"]["B"] == pytest.approx(1.0)


def test_the_bootstrap_pairs_restarts_across_entries():
    # B reaches the target on A's restarts, one step sooner each time. With the
    # same draw for both, B wins every replicate; independent draws would make
    # the success rates differ and hand A about half of them.
    cells, restarts = _cells_and_restarts({"A": 0.5}, n=60, seed=4)
    twin = restarts.copy()
    twin["cell_id"] = "L-B"
    hit = twin["step_to_target_1e-08"].notna()
    twin.loc[hit, "step_to_target_1e-08"] -= 1
    twin.loc[hit, "steps"] -= 1
    hits = twin["step_to_target_1e-08"].fillna(-1).to_numpy()
    cells.loc[len(cells)] = {"cell_id": "L-B", "landscape_label": "L", "entry": "B", "status": "ok",
                             "success_1e-08": float(np.mean(hits >= 0)),
                             "ert_1e-08": _ert_by_hand(hits, twin["steps"]), "median_final_loss": 0.0}
    restarts = pd.concat([restarts, twin], ignore_index=True)
    stability = ranking.ranking_stability(cells, restarts, "1e-08", resamples=200)
    assert stability["top"]["B"] == 1.0


def test_the_bootstrap_resamples_landscape_instances():
    # Instance 0 of a setting is A's, instance 1 is B's, each won clearly. Ranks average
    # over the instances drawn: (0, 0) makes A first, (1, 1) B, and a mixed draw (half of
    # them) ties, its credit shared: B tops 1/4 + 1/2 · 1/2 = 1/2 of the replicates.
    a_cells, a_restarts = _cells_and_restarts({"A": 0.9, "B": 0.1}, n=100, seed=5, landscapes=("L(d=1)",))
    b_cells, b_restarts = _cells_and_restarts({"A": 0.1, "B": 0.9}, n=100, seed=6, landscapes=("L(d=1)#1",))
    cells = pd.concat([a_cells, b_cells], ignore_index=True)
    restarts = pd.concat([a_restarts, b_restarts], ignore_index=True)
    stability = ranking.ranking_stability(cells, restarts, "1e-08", resamples=400)
    assert stability["winners"] == {"L(d=1)": {"A": 1.0}, "L(d=1)#1": {"B": 1.0}}
    assert stability["top"]["B"] == pytest.approx(0.5, abs=0.07)
    assert stability["top"]["A"] + stability["top"]["B"] == pytest.approx(1.0)
