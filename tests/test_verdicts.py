"""Verdicts you can trust: held vs reached, resolution, unsolved landscapes, paired ties, one rule.

Every expected value here is computed by hand or by a plain loop, never by the
code under test; the tables are small and hand-made.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from suite import metrics
from suite.metrics import ranking

NAN = float("nan")


def _restarts(cell_id: str, rows: list[tuple], labels: list[str], steps: int = 100) -> pd.DataFrame:
    """Restart rows ``(targets_held, [first-hit step per target or None], final_loss)``; labels easiest first."""
    table = pd.DataFrame({
        "cell_id": cell_id, "restart": np.arange(len(rows)), "steps": steps,
        "final_loss": [r[2] for r in rows], "best_loss": [r[2] for r in rows],
        "targets_held": np.array([r[0] for r in rows], dtype=np.int64),
    })
    for j, label in enumerate(labels):
        table[f"step_to_target_{label}"] = pd.array([r[1][j] for r in rows], dtype="Int64")
    reached = np.array([sum(h is not None for h in r[1]) for r in rows])
    table["relapsed"] = table["targets_held"].to_numpy() < reached
    return table


def _cell(cell_id: str, landscape: str, entry: str, **extra) -> dict:
    return {"cell_id": cell_id, "landscape_label": landscape, "entry": entry, "optimizer": entry.split("(")[0],
            "status": "ok", "f_opt": 0.0, "f_opt_known": True, "f_opt_kind": "exact", "precision": "float64",
            "median_final_loss": 0.0, "best_loss": 0.0, "divergence_rate": 0.0, "seconds_per_step": 1e-6,
            **extra}


def _tables(spec: dict, labels: list[str], landscape: str = "L", **cell_extra):
    """cells and restarts from ``{cell_id: (entry, rows)}``."""
    cells = pd.DataFrame([_cell(cid, landscape, entry, **cell_extra) for cid, (entry, _) in spec.items()])
    restarts = pd.concat([_restarts(cid, rows, labels) for cid, (_, rows) in spec.items()], ignore_index=True)
    return cells, restarts


# --- the exact sign test ---------------------------------------------------------------


def _binomial_p(wins: int, losses: int) -> float:
    """Two-sided sign test in exact integer arithmetic: a plain loop over binomial coefficients."""
    wins, losses = int(wins), int(losses)
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    tail = Fraction(sum(math.comb(n, j) for j in range(k + 1)), 2 ** n)
    return float(min(Fraction(1), 2 * tail))


def test_sign_test_matches_hand_computed_binomials():
    assert metrics.sign_test(9, 1) == pytest.approx(22 / 1024, rel=1e-12)  # 2 · (1 + 10) / 2^10
    assert metrics.sign_test(3, 7) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024, rel=1e-12)
    assert metrics.sign_test(30, 0) == pytest.approx(2 * 0.5 ** 30, rel=1e-12)
    assert metrics.sign_test(0, 0) == 1.0 and metrics.sign_test(5, 5) == 1.0
    wins = np.array([[0, 1, 12], [400, 37, 250]])
    losses = np.array([[4, 1, 3], [600, 60, 250]])
    p = metrics.sign_test(wins, losses)
    assert p.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert p[i, j] == pytest.approx(_binomial_p(wins[i, j], losses[i, j]), rel=1e-9)


# --- one ERT, quantiles with infinities, resolution -------------------------------------------


def test_ert_over_any_leading_axes_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    hits = np.where(rng.random((3, 4, 7)) < 0.4, rng.integers(0, 50, (3, 4, 7)).astype(float), NAN)
    steps = rng.integers(50, 100, (3, 4, 7)).astype(float)
    out = metrics.ert(hits, steps, axis=-1)
    for i in range(3):
        for j in range(4):
            used = sum(h if not math.isnan(h) else s for h, s in zip(hits[i, j], steps[i, j], strict=True))
            successes = sum(not math.isnan(h) for h in hits[i, j])
            assert out[i, j] == (used / successes if successes else math.inf)
    # And by hand: (2 + 9 + 6) steps over two successes; no success, no finite ERT.
    hand = metrics.ert(np.array([[2.0, NAN, 6.0], [NAN, NAN, NAN]]), np.array([[4, 9, 8], [5, 5, 5]]), axis=-1)
    assert hand[0] == 8.5 and math.isinf(hand[1])


def test_quantiles_tolerate_infinities_and_nan():
    # Sorted: 1, 3, inf, inf (NaN counts as +inf). Linear positions 0, 0.75, 1.5, 3.
    q = metrics.quantiles([1.0, 3.0, np.inf, NAN], [0, 0.25, 0.5, 1])
    assert q.tolist() == [1.0, 2.5, math.inf, math.inf]
    assert metrics.quantiles([-np.inf, -np.inf, 1.0], [0.75]).tolist() == [-math.inf]
    grid = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    assert metrics.quantiles(grid, [0.5], axis=0).tolist() == [[3.0, 4.0]]


def test_resolution_is_four_spacings_at_f_star():
    assert metrics.resolution(-0.25, "float32") == 4 * np.spacing(np.float32(0.25))
    assert metrics.resolution(1000.0, "float64") == 4 * np.spacing(1000.0)
    assert metrics.resolution(None, "float32") == 4 * np.spacing(np.finfo(np.float32).tiny)


# --- held versus reached ------------------------------------------------------------------

LABELS = ["1", "0.001", "1e-08"]  # targets 1, 1e-3, 1e-8, easiest first


def test_cell_scores_count_a_relapse_as_reached_but_not_success():
    rows = [
        (3, [1, 2, 5], 0.0),            # reached and held all three
        (1, [2, 4, None], 0.5),         # reached 1e-3 at step 4, ended at 0.5: relapsed
        (1, [3, None, None], 0.5),      # reached and held 1
        (0, [None, None, None], 7.0),   # nothing
    ]
    restarts = _restarts("c", rows, LABELS, steps=10)
    scores = metrics.cell_scores(restarts, [1.0, 1e-3, 1e-8], resolution=1e-12)
    assert scores["success_1"] == 3 / 4 and scores["reached_1"] == 3 / 4
    assert scores["success_0.001"] == 1 / 4 and scores["reached_0.001"] == 2 / 4
    assert scores["success_1e-08"] == 1 / 4 and scores["reached_1e-08"] == 1 / 4
    assert scores["ert_1"] == (1 + 2 + 3 + 10) / 3
    assert scores["ert_0.001"] == (2 + 4 + 10 + 10) / 2  # first hits: the relapsing restart counts
    assert scores["ert_1e-08"] == (5 + 10 + 10 + 10) / 1
    assert scores["relapse_rate"] == 1 / 4
    # Below resolution: no number at all.
    coarse = metrics.cell_scores(restarts, [1.0, 1e-3, 1e-8], resolution=1e-7)
    assert all(math.isnan(coarse[f"{k}_1e-08"]) for k in ("success", "reached", "ert"))
    assert coarse["success_0.001"] == 1 / 4
    # A run written before targets_held: every reached target counts as held.
    old = restarts.drop(columns=["targets_held", "relapsed"])
    scores = metrics.cell_scores(old, [1.0, 1e-3, 1e-8], resolution=1e-12)
    assert scores["success_0.001"] == 2 / 4 and scores["relapse_rate"] == 0.0


# --- the ranking target ------------------------------------------------------------------

LABELS4 = ["1", "0.1", "0.01", "1e-08"]


def _held(k: int, hit: int = 5, final: float = 0.0) -> tuple:
    """A restart that reached and held the k easiest targets (first hits at ``hit``)."""
    return (k, [hit] * k + [None] * (4 - k), final)


def test_an_unsolved_landscape_is_ranked_at_the_hardest_target_held_by_half():
    # Nobody holds 1e-8. At 0.01 the best setting holds 1 of 4 (less than half); at 0.1, A's
    # first setting holds 2 of 4 (half): that is the target ranked at.
    spec = {
        "a1": ("A", [_held(3), _held(2), _held(1, final=0.5), _held(1, final=0.5)]),
        "a2": ("A", [_held(1), _held(1), _held(1), _held(1)]),
        "b1": ("B", [_held(1), _held(1), _held(1), _held(0, final=2.0)]),
    }
    cells, restarts = _tables(spec, LABELS4)
    board = metrics.leaderboard(cells, restarts).set_index("entry")
    assert board["unsolved"].all() and not board["below_resolution"].any()
    assert set(board["rank_target"]) == {"0.1"}
    assert board.loc["A", "cell_id"] == "a1"  # a1 held 0.1 on 2 restarts, a2 on none
    assert board.loc["A", "success_0.1"] == 0.5
    assert board.loc["A", "settings_tried"] == 2 and board.loc["B", "settings_tried"] == 1


def test_a_landscape_where_nothing_is_held_by_half_says_so_and_ranks_at_the_easiest_target():
    # Every restart ends above every target (an unstable optimizer): no target is held at all.
    spec = {"a": ("A", [_held(0, final=5.0)] * 4), "b": ("B", [_held(0, final=7.0)] * 4)}
    cells, restarts = _tables(spec, LABELS4)
    board = metrics.leaderboard(cells, restarts)
    assert board["unsolved"].all() and not board["held_half"].any()
    assert set(board["rank_target"]) == {LABELS4[0]}  # the easiest target


def test_a_hardest_target_below_resolution_is_never_ranked_at():
    # f* = −0.25 in float32: Δf below 4 spacings (≈ 1.2e-7) is rounding. Everyone "reached"
    # 1e-8, yet the landscape is ranked at 0.01, the hardest target above the resolution.
    spec = {"a": ("A", [_held(4)] * 4), "b": ("B", [_held(4, hit=9)] * 4)}
    cells, restarts = _tables(spec, LABELS4, f_opt=-0.25, precision="float32")
    board = metrics.leaderboard(cells, restarts)
    assert board["below_resolution"].all() and not board["unsolved"].any()
    assert set(board["rank_target"]) == {"0.01"}
    assert board["resolution"].iloc[0] == 4 * np.spacing(np.float32(0.25))
    assert board["success_1e-08"].isna().all()
    assert board.set_index("entry").loc["A", "rank"] == 1  # A reached 0.01 sooner on every restart


# --- ties and the paired test --------------------------------------------------------------


def test_three_entries_with_identical_restarts_share_first_place():
    rows = [_held(4, hit=5 + i % 3) if i % 2 else _held(1, final=0.3) for i in range(12)]
    spec = {e.lower(): (e, rows) for e in ("A", "B", "C")}
    cells, restarts = _tables(spec, LABELS4)
    board = metrics.leaderboard(cells, restarts)
    assert board["rank"].tolist() == [1, 1, 1]
    assert math.isnan(board["p_value"].iloc[0]) and board["p_value"].iloc[1:].tolist() == [1.0, 1.0]
    wins = ranking.win_rates(board)
    assert wins.loc["A", "B"] == wins.loc["B", "C"] == wins.loc["C", "A"] == 0.5
    assert ranking.overall_ranking(board)["rank"].tolist() == [1, 1, 1]


def test_ties_do_not_chain_an_entry_to_one_its_group_leader_beats_on_every_restart():
    # 16 paired restarts. A holds all; B loses 4 of them (A vs B: 4–0, p = 2/16 = 0.125: tied);
    # C loses 8 (A vs C: 8–0, p = 2/256 ≈ 0.0078) though B vs C alone is 4–0 (p = 0.125).
    a = [_held(4, hit=5)] * 16
    b = [_held(4, hit=5)] * 12 + [_held(1, final=0.3)] * 4
    c = [_held(4, hit=5)] * 8 + [_held(1, final=0.3)] * 8
    cells, restarts = _tables({"a": ("A", a), "b": ("B", b), "c": ("C", c)}, LABELS4)
    board = metrics.leaderboard(cells, restarts).set_index("entry")
    assert board["rank"].to_dict() == {"A": 1, "B": 1, "C": 3}
    assert board.loc["B", "p_value"] == pytest.approx(2 / 16, rel=1e-12)  # against A, its group's first
    assert board.loc["C", "p_value"] == pytest.approx(2 / 256, rel=1e-12)  # against A as well


def test_a_clear_winner_on_thirty_paired_restarts_ranks_alone():
    spec = {"a": ("A", [_held(4, hit=5)] * 30), "b": ("B", [_held(4, hit=6)] * 30)}
    cells, restarts = _tables(spec, LABELS4)
    board = metrics.leaderboard(cells, restarts).set_index("entry")
    assert board["rank"].to_dict() == {"A": 1, "B": 2}
    assert board.loc["B", "p_value"] == pytest.approx(2 * 0.5 ** 30, rel=1e-9)
    assert board.loc["A", "rank_target"] == "1e-08" and not board.loc["A", "unsolved"]


def test_paired_outcomes_by_the_stated_rule():
    held_a = np.array([True, True, False, False, True, False])
    held_b = np.array([False, True, True, False, True, False])
    hit_a = np.array([3.0, 4.0, NAN, NAN, 9.0, NAN])
    hit_b = np.array([NAN, 5.0, 2.0, NAN, 9.0, NAN])
    final_a = np.array([0.0, 0.0, 1.0, 0.5, 0.0, NAN])
    final_b = np.array([1.0, 0.0, 0.0, 0.7, 0.0, NAN])
    # held only by a; both, a sooner; held only by b; neither, a lower; both, same step; both NaN.
    assert metrics.paired_outcomes(held_a, hit_a, final_a, held_b, hit_b, final_b).tolist() == [1, 1, -1, 1, 0, 0]


# --- one rule, everywhere -----------------------------------------------------------------


def test_leaderboard_win_rates_and_bootstrap_agree_where_a_second_rule_would_not():
    # A holds the target on every restart but reaches it late (step 50); B reaches it at
    # step 5 and relapses every time. Success says A, ERT says B: the selection rule
    # (success first) must decide the same way in the leaderboard, the win rates and the
    # bootstrap. Entry A's second setting is B's twin: it must not be selected.
    a_rows = [(4, [50] * 4, 0.0)] * 20
    b_rows = [(1, [5] * 4, 0.5)] * 20
    spec = {"a1": ("A", a_rows), "a2": ("A", b_rows), "b": ("B", b_rows)}
    cells, restarts = _tables(spec, LABELS4)
    board = metrics.leaderboard(cells, restarts).set_index("entry")
    assert board.loc["A", "cell_id"] == "a1"
    assert board.loc["A", "ert_1e-08"] == 50 and board.loc["B", "ert_1e-08"] == 5
    assert board.loc["A", "success_1e-08"] == 1.0 and board.loc["B", "success_1e-08"] == 0.0
    assert board.loc["B", "reached_1e-08"] == 1.0 and board.loc["B", "relapse_rate"] == 1.0
    assert board["rank"].to_dict() == {"A": 1, "B": 2}
    assert ranking.win_rates(board.reset_index()).loc["A", "B"] == 1.0
    # Every restart is the same, so resampling changes nothing: A first in every replicate.
    stability = ranking.ranking_stability(cells, restarts, resamples=50)
    assert stability["top"] == {"A": 1.0, "B": 0.0}
    assert stability["winners"] == {"L": {"A": 1.0}}


# --- the setting column -------------------------------------------------------------------


def test_the_setting_shows_only_the_entry_s_own_swept_hyperparameters():
    from suite.terminal import _swept

    cells = pd.DataFrame([
        _cell("a1", "L", "adam", p_opt_learning_rate=0.01, p_opt_f_min=NAN, p_opt_b1=0.9),
        _cell("a2", "L", "adam", p_opt_learning_rate=0.1, p_opt_f_min=NAN, p_opt_b1=0.9),
        _cell("p1", "L", "polyak(f_min=0.5)", p_opt_learning_rate=NAN, p_opt_f_min=0.5, p_opt_b1=NAN,
              p_opt_max_lr=1.0),
        _cell("p2", "L", "polyak(f_min=0.5)", p_opt_learning_rate=NAN, p_opt_f_min=0.5, p_opt_b1=NAN,
              p_opt_max_lr=10.0),
    ])
    cells.loc[:1, "p_opt_max_lr"] = NAN
    adam = cells.iloc[0].copy()
    adam["at_edge"] = "learning_rate"
    polyak = cells.iloc[3].copy()
    polyak["at_edge"] = ""
    assert metrics.setting_text(cells, adam) == "learning_rate=0.01*"  # no f_min=nan, no fixed b1
    assert metrics.setting_text(cells, polyak) == "max_lr=10"  # f_min is a condition, in the name
    assert _swept(cells, adam) == "lr=0.01*"
    assert _swept(cells, polyak) == "max_lr=10"


# --- the report says it -------------------------------------------------------------------


def _report_folder(tmp_path, cells: pd.DataFrame, restarts: pd.DataFrame):
    from suite.report import Report

    cells = cells.assign(optimizer_label=cells["entry"], steps_run=100, updates_per_second=1e6,
                         stop_at_target=False, tuning="grid")
    cells.to_parquet(tmp_path / "cells.parquet")
    restarts.to_parquet(tmp_path / "restarts.parquet")
    (tmp_path / "metadata.json").write_text(json.dumps({"seed": 0}))
    return Report(tmp_path)


def test_the_report_says_tied_unsolved_below_resolution_and_f_star_violated(tmp_path):
    from suite.report import Note, Table, headline
    from suite.report.landscape_sections import landscape_table
    from suite.report.sections import leaderboard, metadata, summary

    rows = [_held(4, hit=5 + i % 3) if i % 2 else _held(1, final=0.3) for i in range(12)]
    tie_cells, tie_restarts = _tables({"a": ("A", rows), "b": ("B", rows)}, LABELS4, landscape="T")
    unsolved = {"ua": ("A", [_held(2), _held(2), _held(1, final=0.5), _held(1, final=0.5)]),
                "ub": ("B", [_held(1, final=0.5)] * 4)}
    un_cells, un_restarts = _tables(unsolved, LABELS4, landscape="U")
    fine = {"ra": ("A", [_held(4)] * 8), "rb": ("B", [_held(4, hit=9)] * 8)}  # A sooner 8 of 8: p = 2/256
    res_cells, res_restarts = _tables(fine, LABELS4, landscape="R", f_opt=-0.25, precision="float32",
                                      warning="the lowest loss -0.5 is 0.25 below the exact f* = -0.25")
    cells = pd.concat([tie_cells, un_cells, res_cells], ignore_index=True)
    cells["warning"] = cells["warning"].fillna("")
    restarts = pd.concat([tie_restarts, un_restarts, res_restarts], ignore_index=True)
    report = _report_folder(tmp_path, cells, restarts)

    # T: tied; U: A first at 0.1 (unsolved at 1e-8) but 2 wins to 0 is no evidence (p = 0.5): tied;
    # R: A first at 0.01 (below resolution), alone.
    assert report.overall.set_index("entry")["rank"].to_dict() == {"A": 1, "B": 2}
    text = " ".join(b.text for b in summary(report) if hasattr(b, "text"))
    assert "unsolved at 1e-08" in text and "ranked at Δf ≤ 0.1" in text
    assert "below resolution" in text and "ranked at Δf ≤ 0.01" in text
    assert "f* violated on R" in text
    line = headline(report)
    assert "U: unsolved at 1e-08; ranked at 0.1" in line and "R: below resolution at 1e-08; ranked at 0.01" in line

    board_blocks = list(leaderboard(report))
    per_landscape = [b for b in board_blocks if isinstance(b, Table)][1].frame.set_index("landscape")
    assert per_landscape.loc["T", "first"] == "A = B (tied)" and per_landscape.loc["T", "p vs next"] == ""
    assert per_landscape.loc["U", "status"] == "unsolved at 1e-08"
    assert per_landscape.loc["R", "status"] == "below resolution" and per_landscape.loc["R", "f*"]

    blocks = list(landscape_table(report, "T"))
    table = [b for b in blocks if isinstance(b, Table)][0].frame
    assert table["#"].tolist() == [1, 1] and table["p vs lead"].tolist() == ["", "1"]
    assert table["settings tried"].tolist() == [1, 1] and "relapsed" in table
    blocks = list(landscape_table(report, "R"))
    notes = [b.text for b in blocks if isinstance(b, Note) and b.kind == "warning"]
    assert any("0.25 below the exact f*" in n for n in notes)
    assert any("below resolution" in n and "ranked at Δf ≤ 0.01" in n for n in notes)
    # Δf against an exact f* is shown as measured: a loss of 0 is Δf = 0.25 here, not clamped.
    table = [b for b in blocks if isinstance(b, Table)][0].frame
    assert table["final Δf = f − f*: median [q10, q90]"].iloc[0] == "0.25 [0.25, 0.25]"

    meta = [b for b in metadata(report) if isinstance(b, Table)][0].frame.set_index("field")["value"]
    assert meta["final loss"].startswith("default: every restart runs every step; final loss is f(x_T)")
    assert meta["precision"] == "float64"


def test_a_target_below_resolution_reads_as_such_in_the_table(tmp_path):
    from suite.report import Table
    from suite.report.landscape_sections import landscape_table

    # Every target is below the resolution of f* = 1e8 in float32 (4 spacings of 8 = 32): the
    # fallback is the easiest target, and its shares are not percentages.
    spec = {"a": ("A", [_held(4)] * 4), "b": ("B", [_held(4)] * 4)}
    cells, restarts = _tables(spec, LABELS4, f_opt=1e8, precision="float32")
    report = _report_folder(tmp_path, cells, restarts)
    table = [b for b in landscape_table(report, "L") if isinstance(b, Table)][0].frame
    assert table["success (held)"].tolist() == ["below resolution"] * 2
    assert table["ERT [95% CI]"].tolist() == ["below resolution"] * 2
