"""The saddles study's check against tables whose answer is known by hand.

The reference index law is written out here from its formula (Auffinger,
Ben Arous & Černý 2013: α(u) = F_sc(u/E_∞), F_sc(y) = ½ + (y√(1−y²) +
arcsin y)/π), not taken from the landscape, and the hand-built end points
follow it exactly, miss it by a fixed amount, or are too few to decide.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from suite.studies import saddles
from suite.verdict import StudyData

E_INF = 2 * math.sqrt(2 / 3)  # p = 3
STUDY = {"name": "saddles", "size": "small", "critical_grad": 1e-5, "bin_width": 0.25, "min_per_bin": 3,
         "min_critical": 10, "tolerance": {"share": 0.9, "index": 0.1}}


def alpha(u: float) -> float:
    """F_sc(u/E_∞), clipped to [0, 1]."""
    y = min(1.0, max(-1.0, u / E_INF))
    return min(1.0, max(0.0, 0.5 + (y * math.sqrt(1 - y * y) + math.asin(y)) / math.pi))


CURVE = json.dumps([[float(u), alpha(float(u))] for u in np.linspace(-1.657, E_INF, 61)])


def _saddle_rows(optimizer: str, kind: str, count: int = 20) -> list[dict]:
    loss = {"saddle": 0.25, "minimum": 0.0}[kind]
    index = {"saddle": 0.5, "minimum": 0.0}[kind]
    return [{"cell_id": f"saddle-{optimizer}", "landscape": "saddle", "p_landscape_dim": 1, "p_landscape_n": np.nan,
             "optimizer": optimizer, "final_loss": loss, "end_grad_norm": 0.0, "hessian_index": index,
             "end_class": kind} for _ in range(count)]


def _pspin_rows(optimizer: str, energies, *, n: int = 30, shift: float = 0.0, grad: float = 1e-8) -> list[dict]:
    """End points at these energies whose tangent index is α(u) (+ ``shift``), as the diagnostic reports it:
    k negative eigenvalues of N − 1 tangent ones, over N coordinates."""
    rows = []
    for u in energies:
        k = round(min(1.0, max(0.0, alpha(u) + shift)) * (n - 1))
        rows.append({"cell_id": f"pspin-{optimizer}", "landscape": "pspin", "p_landscape_dim": np.nan,
                     "p_landscape_n": n, "optimizer": optimizer, "final_loss": float(u), "end_grad_norm": grad,
                     "hessian_index": k / n, "end_class": "saddle" if k else "minimum"})
    return rows


def _data(rows: list[dict], size: str = "small") -> StudyData:
    restarts = pd.DataFrame(rows)
    ids = restarts["cell_id"].unique()
    cells = pd.DataFrame({"cell_id": ids, "landscape": [i.split("-")[0] for i in ids], "status": "ok",
                          "index_curve": [CURVE if i.startswith("pspin") else "[]" for i in ids]})
    return StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={},
                     study={**STUDY, "size": size})


NEWTON_ENERGIES = np.linspace(-0.45, 0.5, 30)  # where Newton's end points lie: saddles of index ≈ 0.35–0.7
FREE_ENERGIES = np.linspace(-1.62, -1.52, 20)   # saddle-free Newton's minima: α(u)·29 < ½, index 0


def _as_theory(shift: float = 0.0, newton_kind: str = "saddle", newton_energies=NEWTON_ENERGIES) -> list[dict]:
    return (_saddle_rows("newton", newton_kind) + _saddle_rows("saddle_free_newton", "minimum")
            + _pspin_rows("newton", newton_energies, shift=shift)
            + _pspin_rows("saddle_free_newton", FREE_ENERGIES))


def test_end_points_as_the_theory_says_reproduce():
    verdict = saddles.check(_data(_as_theory()))
    assert verdict.status == "reproduced", verdict
    assert [c.measured for c in verdict.comparisons[:4]] == [1.0, 1.0, 1.0, 1.0]
    # Rounding α(u)(N − 1) to a count is the only miss: at most half an eigenvalue.
    assert abs(verdict.comparisons[4].measured) <= 0.5 / 29 + 1e-9
    assert verdict.plots and any(s.kind == "theory" for s in verdict.plots[0].series)


def test_an_index_off_the_curve_is_not_reproduced():
    verdict = saddles.check(_data(_as_theory(shift=0.2)))
    assert verdict.status == "not reproduced"
    worst = verdict.comparisons[4]
    assert not worst.passed and worst.measured == pytest.approx(0.2, abs=0.5 / 29 + 1e-9)


def test_newton_escaping_the_saddle_is_not_reproduced():
    verdict = saddles.check(_data(_as_theory(newton_kind="minimum")))
    assert verdict.status == "not reproduced"
    assert verdict.comparisons[0].measured == 0.0 and not verdict.comparisons[0].passed


def test_end_points_that_are_not_critical_are_left_out():
    far = _pspin_rows("newton", [0.0] * 30, shift=0.4, grad=1e-2)  # off the curve, but not critical points
    verdict = saddles.check(_data(_as_theory() + far))
    assert verdict.status == "reproduced", verdict
    assert "30 of Newton's 60 end points" in verdict.notes[0]


def test_too_few_critical_points_are_inconclusive():
    verdict = saddles.check(_data(_as_theory(newton_energies=NEWTON_ENERGIES[:5])))
    assert verdict.status == "inconclusive"
    assert any("only 5 of Newton's end points" in note for note in verdict.notes)


def test_tangent_index_drops_the_radial_null_direction():
    assert saddles.tangent_index([0.0, 3 / 30, 29 / 30], [30, 30, 30]) == pytest.approx([0.0, 3 / 29, 1.0])
