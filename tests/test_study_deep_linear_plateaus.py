"""The deep-linear-plateaus check against answers known by hand: the chain integral and hand-built tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.studies.deep_linear_plateaus import chain_end, chain_steps, check
from suite.verdict import StudyData

TARGET, ESCAPE = 4.5e-4, 4.0
STUDY = {"target": TARGET, "escape_target": ESCAPE,
         "tolerance": {"steps_rel": 0.02, "growth_min": 3.0, "bounded_max": 2.0}}
# REFERENCES.md, "Deep linear network": s = 3, u0 = 1e-3, η = 1e-3, u_f = 0.99 s.
PUBLISHED = {2: 2100, 3: 3512, 5: 7176, 10: 10564}


@pytest.mark.parametrize("depth, steps", sorted(PUBLISHED.items()))
def test_chain_integral_gives_the_published_steps(depth, steps):
    assert abs(chain_steps(depth, 3.0, 1e-3, chain_end(3.0, TARGET), 1e-3) - steps) < 1.0


def test_chain_integral_at_depth_two_is_the_closed_form():
    s, u0, uf, eta = 2.0, 0.01, 1.9, 0.01
    closed = (1 / eta) / (2 * s) * math.log(uf * (s - u0) / (u0 * (s - uf)))
    assert chain_steps(2, s, u0, uf, eta) == pytest.approx(closed, rel=1e-8)


def test_chain_end_is_where_the_loss_meets_the_target():
    assert chain_end(3.0, TARGET) == pytest.approx(2.97)
    assert chain_steps(3, 3.0, 2.98, 2.97, 1e-3) == 0.0


def _tables(chain: dict, small: dict, orthogonal: dict, budget: int = 30000, n: int = 4):
    """Cells and restarts: ``chain`` maps depth → steps to TARGET (balanced, width 1, u0 = 1e-3);
    ``small``/``orthogonal`` map depth → steps to ESCAPE of every restart (None: never reached)."""
    cells, restarts = [], []

    def add(init, width, depth, scale, fine, escape):
        cid = f"{init}-{depth}"
        cells.append({"cell_id": cid, "status": "ok", "steps": budget, "p_landscape_init": init,
                      "p_landscape_width": width, "p_landscape_depth": depth, "p_landscape_scale": scale,
                      "p_landscape_strength": 3.0, "p_opt_learning_rate": 1e-3})
        for i in range(n):
            restarts.append({"cell_id": cid, "restart": i, "step_to_target_4": escape,
                             "step_to_target_0.00045": fine})

    for depth, steps in chain.items():
        add("balanced", 1, depth, 1e-3, steps, 1)
    for init, table in (("small", small), ("orthogonal", orthogonal)):
        for depth, steps in table.items():
            add(init, 4, depth, 0.6, None, steps)
    cells, restarts = pd.DataFrame(cells), pd.DataFrame(restarts)
    for name in ("step_to_target_4", "step_to_target_0.00045"):
        restarts[name] = restarts[name].astype("Int64")
    return cells, restarts


def _verdict(chain, small, orthogonal, **kw):
    cells, restarts = _tables(chain, small, orthogonal, **kw)
    return check(StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={}, study=STUDY))


GROWS = {2: 500, 5: 1500, 10: 6000}   # ×12
FLAT = {2: 300, 5: 150, 10: 80}       # ×0.27


def test_published_chain_and_the_right_trends_reproduce():
    verdict = _verdict(PUBLISHED, GROWS, FLAT)
    assert verdict.status == "reproduced", verdict
    assert len(verdict.comparisons) == len(PUBLISHED) + 2
    assert verdict.plots and any(s.kind == "theory" for s in verdict.plots[0].series)


def test_chain_steps_ten_percent_off_do_not_reproduce():
    verdict = _verdict({d: round(s * 1.1) for d, s in PUBLISHED.items()}, GROWS, FLAT)
    assert verdict.status == "not reproduced"
    assert sum(not c.passed for c in verdict.comparisons) == len(PUBLISHED)


def test_orthogonal_plateau_growing_with_depth_does_not_reproduce():
    verdict = _verdict(PUBLISHED, GROWS, {2: 300, 5: 900, 10: 1500})  # ×5
    assert verdict.status == "not reproduced"
    failed = [c for c in verdict.comparisons if not c.passed]
    assert len(failed) == 1 and "orthogonal" in failed[0].quantity and failed[0].measured == pytest.approx(5.0)


def test_small_start_without_growth_does_not_reproduce():
    verdict = _verdict(PUBLISHED, {2: 500, 5: 600, 10: 1000}, FLAT)  # ×2
    assert verdict.status == "not reproduced"


def test_one_depth_of_random_starts_is_inconclusive():
    verdict = _verdict(PUBLISHED, {2: 500}, {2: 300})
    assert verdict.status == "inconclusive"


def test_a_deepest_small_start_censored_at_the_budget_bounds_the_growth_below():
    verdict = _verdict(PUBLISHED, {2: 500, 10: None}, FLAT, budget=30000)
    growth = next(c for c in verdict.comparisons if "small" in c.quantity)
    assert growth.passed and growth.measured == pytest.approx(60.0) and "lower bound" in growth.note
    assert verdict.status == "reproduced"


def test_a_deepest_orthogonal_start_censored_within_the_bound_is_inconclusive():
    verdict = _verdict(PUBLISHED, GROWS, {2: 20000, 10: None}, budget=30000)  # ratio ≥ 1.5 only
    assert verdict.status == "inconclusive"


def test_a_chain_that_never_reached_the_target_fails_against_theory():
    chain = dict(PUBLISHED)
    chain[10] = None
    verdict = _verdict(chain, GROWS, FLAT, budget=5000)
    deepest = next(c for c in verdict.comparisons if "L = 10," in c.quantity)
    assert not deepest.passed and "lower bound" in deepest.note
    assert np.isclose(deepest.measured, 5000)


def test_censored_median_counts_unreached_restarts_as_the_budget():
    from suite.studies._common import censored_median

    assert censored_median([10, 20, 30, None], 100) == (25.0, False)
    assert censored_median(pd.array([10, 20, None, None], dtype="Int64"), 100) == (60.0, True)
    assert censored_median([np.nan, np.nan, 5.0], 100) == (100.0, True)
    value, bound = censored_median([], 100)
    assert math.isnan(value) and not bound


def test_no_finished_cell_is_inconclusive():
    cells, restarts = _tables(PUBLISHED, GROWS, FLAT)
    cells["status"] = "failed"
    verdict = check(StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={}, study=STUDY))
    assert verdict.status == "inconclusive"
