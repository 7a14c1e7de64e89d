"""The stale-gradients check against hand-built tables whose answer is known.

Each synthetic cell's median loss is f₀·ρ^k at the checkpoints k: decaying
(ρ < 1) below a boundary of our choosing and growing (ρ > 1, then +inf once
"diverged") above it, so the bracket the check must find is known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.studies import stale_gradients as study
from suite.verdict import StudyData

TAUS = (0, 1, 2, 3, 5, 8, 16, 64)
STEPS = 50_000
CHECKPOINTS = np.unique(np.round(np.geomspace(1, STEPS, 40)).astype(int))
SETTINGS = {"margin": 100.0, "tolerance": {"bracket_ratio": 1.1}, "size": "small"}


def grid(center: float) -> list[float]:
    """The study's grid: 2^(k/16) from 0.75 to 1.34 times ``center``."""
    points = 2.0 ** (np.arange(-200, 40) / 16)
    return [float(p) for p in points[(points >= 0.75 * center) & (points <= 1.34 * center)]]


def curve(cell_id: str, rate: float, *, diverge: bool = False) -> list[dict]:
    """Median loss 1·e^{rate·k} at step 0 and the checkpoints (+inf from the midpoint on when ``diverge``)."""
    rows = [{"cell_id": cell_id, "step": 0, "quantity": "loss", "q50": 1.0}]
    for k in CHECKPOINTS:
        value = math.exp(min(rate * k, 700.0))
        if diverge and k >= STEPS / 2:
            value = math.inf
        rows.append({"cell_id": cell_id, "step": int(k), "quantity": "loss", "q50": value})
        rows.append({"cell_id": cell_id, "step": int(k), "quantity": "best", "q50": min(1.0, value)})
    return rows


def tables(boundary, *, taus=TAUS, optimizer="sgd", rate=1e-3, undecided=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells at each τ on the study's grid, stable below ``boundary(τ)`` and unstable above it.

    Learning rates listed in ``undecided`` (as (τ, η)) get a loss that stays at its start.
    """
    cells, curves = [], []
    for tau in taus:
        for lr in grid(study.bound(tau)):
            cell_id = f"{optimizer}-{tau}-{lr:.6g}"
            stable = lr < boundary(tau)
            final = 1e-30 if stable else math.inf
            cells.append({"cell_id": cell_id, "optimizer": optimizer, "p_opt_learning_rate": lr,
                          "p_wrap_stale_tau": tau, "status": "ok", "median_final_loss": final})
            if (tau, lr) in undecided:
                curves += curve(cell_id, 0.0)
            else:
                curves += curve(cell_id, -rate if stable else rate, diverge=not stable)
    return pd.DataFrame(cells), pd.DataFrame(curves)


def data(cells, curves, **study_settings) -> StudyData:
    return StudyData(cells=cells, restarts=pd.DataFrame(), curves=curves, tables={},
                     study={**SETTINGS, **study_settings})


def test_the_bound_is_levin_and_may():
    published = {0: 2, 1: 1, 2: 0.618034, 3: 0.445042, 5: 0.284630, 8: 0.184537, 16: 0.095164, 64: 0.024353}
    for tau, value in published.items():
        assert study.bound(tau) == pytest.approx(value, abs=1e-6)


def test_a_boundary_at_the_theory_is_reproduced():
    verdict = study.check(data(*tables(study.bound)))
    assert verdict.status == "reproduced", verdict.summary
    assert len(verdict.comparisons) == len(TAUS)
    row = next(r for r in verdict.numbers if r["tau"] == 3)
    below = max(lr for lr in grid(study.bound(3)) if lr < study.bound(3))
    above = min(lr for lr in grid(study.bound(3)) if lr >= study.bound(3))
    assert row["largest stable η"] == below and row["smallest unstable η"] == above
    assert verdict.plots and verdict.plots[0].series[0].kind == "theory"


def test_a_boundary_ten_percent_low_is_not_reproduced():
    verdict = study.check(data(*tables(lambda tau: 0.9 * study.bound(tau))))
    assert verdict.status == "not reproduced"
    assert not any(c.passed for c in verdict.comparisons)


def test_one_bound_off_is_enough_to_fail():
    verdict = study.check(data(*tables(lambda tau: study.bound(tau) * (1.2 if tau == 16 else 1.0))))
    assert verdict.status == "not reproduced"
    assert [c.passed for c in verdict.comparisons].count(False) == 1


def test_a_stable_rate_above_an_unstable_one_fails():
    cells, curves = tables(study.bound)
    # The smallest learning rate at τ = 2 grows: the stable set is not an interval from 0.
    lowest = f"sgd-2-{grid(study.bound(2))[0]:.6g}"
    curves = pd.concat([curves[curves["cell_id"] != lowest], pd.DataFrame(curve(lowest, 1e-3))])
    verdict = study.check(data(cells, curves))
    assert verdict.status == "not reproduced"
    assert "not monotone" in verdict.comparisons[2].note


def test_slow_growth_within_the_margin_is_undecided_not_stable():
    assert study.classify(1e-3, 100.0) == "stable"
    assert study.classify(0.5, 100.0) == "undecided"
    assert study.classify(50.0, 100.0) == "undecided"
    assert study.classify(math.inf, 100.0) == "unstable"
    assert study.classify(math.nan, 100.0) == "undecided"


def test_growth_reads_the_largest_late_checkpoint_of_an_oscillation():
    # A growing oscillation that happens to be near zero at the last checkpoint still grows.
    steps = [0, 10, 100, 600, 800, 1000]
    values = [1.0, 0.5, 0.3, 1e4, 3e5, 1e-6]
    curves = pd.DataFrame({"cell_id": "a", "step": steps, "quantity": "loss", "q50": values})
    assert study.growth(curves)["a"] == pytest.approx(3e5)
    curves.loc[curves["step"] == 1000, "q50"] = np.nan  # diverged: frozen summaries are NaN
    assert study.growth(curves)["a"] == math.inf


def test_undecided_cells_that_widen_the_bracket_make_it_inconclusive():
    tau = 8
    rates = grid(study.bound(tau))
    near = [lr for lr in rates if abs(math.log(lr / study.bound(tau))) < 0.1]
    verdict = study.check(data(*tables(study.bound, undecided={(tau, lr) for lr in near})))
    assert verdict.status == "inconclusive"
    assert "coarsely" in verdict.notes[0] and "τ = 8" in verdict.notes[0]


def test_two_delays_are_inconclusive():
    verdict = study.check(data(*tables(study.bound, taus=(0, 2))))
    assert verdict.status == "inconclusive" and "too few" in verdict.notes[0]


def test_adagrad_is_reported_beside_and_never_decides():
    sgd_cells, sgd_curves = tables(study.bound)
    # Adagrad at the same τ on the same grid, all of it diverging: numbers only.
    ada_cells, ada_curves = tables(lambda tau: 0.0, optimizer="adagrad")
    verdict = study.check(data(pd.concat([sgd_cells, ada_cells]), pd.concat([sgd_curves, ada_curves])))
    assert verdict.status == "reproduced"
    row = verdict.numbers[0]
    assert row["adagrad: learning rates that converged"] == 0
    assert row["sgd: learning rates that converged"] == row["common learning rates"] // 2
    assert "not part of the verdict" in verdict.summary
