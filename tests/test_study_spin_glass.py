"""The spin_glass study's check against tables whose answer is known by hand.

Final energies are built as u = −E_∞ + a·(N − 1)^(−2/3) + b·N^(−2/3)·z with a
fixed pattern z of mean 0 (the edge law of the study's theory: slopes −2/3),
or parked at the ground state with a spread that does not narrow.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from suite.studies import spin_glass
from suite.verdict import StudyData

THRESHOLD, GROUND = -2 * math.sqrt(2 / 3), -1.657
LEVELS = json.dumps({"ground state (N → ∞)": GROUND, "threshold": THRESHOLD})
STUDY = {"name": "spin_glass", "size": "small", "step_on_h": 0.1, "min_converged": 0.9,
         "tolerance": {"energy": 2.0, "slope": 0.34}}
PATTERN = np.array([-1.5, -0.5, 0.5, 1.5])  # mean 0, std √(5/3)


def _rows(n: int, energies, *, rate: float = 0.1, instances: int = 2, end_class: str = "minimum") -> list[dict]:
    return [{"cell_id": f"{n}-{rate}-{i}", "landscape": "pspin", "p_landscape_n": n,
             "p_opt_learning_rate": rate * n, "instance": i, "final_loss": float(u), "end_class": end_class}
            for i in range(instances) for u in energies]


def _edge_law(n: int, above: float = 1.0, spread: float = 1.0) -> np.ndarray:
    return THRESHOLD + above * (n - 1) ** (-2 / 3) + spread * n ** (-2 / 3) * PATTERN


def _data(rows: list[dict], size: str = "small") -> StudyData:
    restarts = pd.DataFrame(rows)
    cells = pd.DataFrame({"cell_id": restarts["cell_id"].unique(), "landscape": "pspin", "status": "ok",
                          "levels": LEVELS})
    return StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={},
                     study={**STUDY, "size": size})


SIZES = (16, 32, 64, 128)


def test_the_edge_law_reproduces():
    verdict = spin_glass.check(_data([r for n in SIZES for r in _rows(n, _edge_law(n))]))
    assert verdict.status == "reproduced", verdict
    energy, closer, gap, spread = verdict.comparisons
    assert energy.measured == pytest.approx(THRESHOLD + 127 ** (-2 / 3))
    assert energy.tolerance == f"±{2 * 127 ** (-2 / 3):g}"
    assert spread.measured == pytest.approx(-2 / 3)  # std ∝ N^(−2/3) exactly
    # (N − 1)^(−2/3) against N over 16..128 has a slope a little steeper than −2/3.
    assert -0.75 < gap.measured < -2 / 3
    numbers = pd.DataFrame(list(verdict.numbers))
    assert numbers["spread"].to_numpy() == pytest.approx([math.sqrt(5 / 3) * n ** (-2 / 3) for n in SIZES])


def test_other_learning_rates_are_not_read():
    noise = [r for n in SIZES for r in _rows(n, [0.0, 5.0, -5.0, 1.0], rate=0.4)]  # unstable steps: wild
    verdict = spin_glass.check(_data([r for n in SIZES for r in _rows(n, _edge_law(n))] + noise))
    assert verdict.status == "reproduced", verdict


def test_descent_to_the_ground_state_is_not_reproduced():
    rows = [r for n in SIZES for r in _rows(n, GROUND + 0.02 * PATTERN)]  # at the ground state, no narrowing
    verdict = spin_glass.check(_data(rows))
    assert verdict.status == "not reproduced"
    energy, closer, gap, spread = verdict.comparisons
    assert not closer.passed and spread.measured == pytest.approx(0.0, abs=1e-9) and not spread.passed
    assert gap.measured is None and not gap.passed  # below the threshold: no distance above it to fit


def test_a_band_that_does_not_narrow_is_not_reproduced():
    rows = [r for n in SIZES for r in _rows(n, THRESHOLD + 0.03 + 0.05 * PATTERN)]
    verdict = spin_glass.check(_data(rows))
    assert verdict.status == "not reproduced"
    assert [c.passed for c in verdict.comparisons] == [True, True, False, False]


def test_two_sizes_are_inconclusive():
    verdict = spin_glass.check(_data([r for n in (64, 128) for r in _rows(n, _edge_law(n))]))
    assert verdict.status == "inconclusive" and "fewer than three N" in verdict.notes[0]


def test_end_points_that_have_not_stopped_are_inconclusive():
    rows = [r for n in SIZES for r in _rows(n, _edge_law(n), end_class="minimum" if n < 128 else "not converged")]
    verdict = spin_glass.check(_data(rows))
    assert verdict.status == "inconclusive" and "N = 128" in verdict.notes[0]


def test_levels_are_read_from_the_landscape():
    cells = pd.DataFrame({"levels": [LEVELS, None]})
    assert spin_glass.levels(cells) == {"ground state": GROUND, "threshold": THRESHOLD}


def test_a_mean_below_the_threshold_is_named():
    rows = [r for n in SIZES for r in _rows(n, _edge_law(n) if n < 128 else THRESHOLD - 0.01 + 0.01 * PATTERN)]
    gap = spin_glass.check(_data(rows)).comparisons[2]
    assert "below the threshold at N = 128" in gap.note
