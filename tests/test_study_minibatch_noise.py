"""The mini-batch-noise check against hand-built tables whose answer is known.

Each synthetic cell is one data set (instance) at one (η, B); its restarts end
at f* + floor, with the floor a law of our choosing: exactly ∝ the noise scale
s = (η/B)(n − B)/(n − 1) (the linear scaling rule holds), ∝ s² (wrong slope),
∝ η/√B (equal η/B no longer gives equal floors), or ∝ s with a rise at large η
(the breakdown the check must report but not hold against the claim).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.studies import minibatch_noise as study
from suite.verdict import StudyData

N = 128
LRS = (0.25, 1.0, 4.0)
BATCHES = (4, 16, 64)
SETTINGS = {"small_lr": 1.0, "small_noise": 0.1, "tolerance": {"slope": 0.15, "scaling": 1.6}, "size": "small"}


def s(lr, batch):
    return lr / batch * (N - batch) / (N - 1)


def tables(floor, *, lrs=LRS, batches=BATCHES, instances=3, restarts=4, separable=()):
    """Cells (one per data set and setting) and restarts ending at f* + floor(η, B) × a spread of mean 1.

    ``separable`` lists instance numbers whose data set the landscape called separable (f* = 0).
    """
    spread = np.linspace(0.5, 1.5, restarts)  # mean 1: the floor is the restarts' mean excess
    cells, rows = [], []
    for batch in batches:
        for instance in range(instances):
            f_opt = 0.0 if instance in separable else 0.3 + 0.01 * instance
            for lr in lrs:
                cell_id = f"{lr}-{batch}-{instance}"
                cells.append({"cell_id": cell_id, "status": "ok", "p_opt_learning_rate": lr, "p_landscape_batch": batch,
                              "p_landscape_samples": N, "f_opt": f_opt, "instance": instance})
                rows += [{"cell_id": cell_id, "restart": r, "final_loss": f_opt + floor(lr, batch) * spread[r]}
                         for r in range(restarts)]
    return pd.DataFrame(cells), pd.DataFrame(rows)


def data(cells, restarts) -> StudyData:
    return StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={}, study=dict(SETTINGS))


def test_the_noise_scale_counts_sampling_without_replacement():
    assert study.noise_scale(0.5, 1, 128) == pytest.approx(0.5)  # one sample: the full per-sample variance
    assert study.noise_scale(1.0, 64, 128) == pytest.approx(1 / 64 * 64 / 127)
    assert study.noise_scale(1.0, 0, 128) == 0.0 and study.noise_scale(1.0, 128, 128) == 0.0  # full batch


def test_a_floor_exactly_proportional_to_eta_over_b_is_reproduced():
    verdict = study.check(data(*tables(lambda lr, b: 0.09 * s(lr, b))))
    assert verdict.status == "reproduced", verdict.summary
    slope, *pairs = verdict.comparisons
    assert slope.measured == pytest.approx(1.0, abs=1e-9)
    assert len(pairs) == 2 and all(p.measured == pytest.approx(1.0) for p in pairs)
    small = [r for r in verdict.numbers if r["in the small regime"]]
    assert {(r["learning rate η"], r["batch B"]) for r in small} == {(0.25, 64), (1.0, 64), (0.25, 16), (1.0, 16),
                                                                       (0.25, 4)}
    assert "no breakdown measured" in verdict.summary
    assert verdict.plots[0].series[0].kind == "theory" and len(verdict.plots) == 2


def test_a_floor_growing_as_the_square_fails_the_slope():
    verdict = study.check(data(*tables(lambda lr, b: 0.09 * s(lr, b) ** 2)))
    assert verdict.status == "not reproduced"
    assert verdict.comparisons[0].measured == pytest.approx(2.0, abs=1e-9)


def test_floors_that_depend_on_eta_and_b_apart_fail_the_scaling_rule():
    verdict = study.check(data(*tables(lambda lr, b: 0.01 * lr / math.sqrt(b))))
    assert verdict.status == "not reproduced"
    assert not all(c.passed for c in verdict.comparisons[1:])


def test_a_rise_at_large_eta_is_reported_as_the_breakdown_not_held_against_the_claim():
    verdict = study.check(data(*tables(lambda lr, b: 0.09 * s(lr, b) * (3.0 if lr > 1 else 1.0))))
    assert verdict.status == "reproduced"
    assert "breaks" in verdict.summary and "η=4, B=64" in verdict.summary
    row = next(r for r in verdict.numbers if r["learning rate η"] == 4.0 and r["batch B"] == 16)
    assert row["excess over the small regime"] == pytest.approx(3.0)


def test_the_floor_is_the_mean_over_restarts_and_data_sets_with_its_standard_error():
    cells, restarts = tables(lambda lr, b: 0.09 * s(lr, b))
    # Make the data sets differ: instance i's floor is (1 + i/2) times the law.
    scale = cells.set_index("cell_id")["instance"].map(lambda i: 1 + i / 2)
    f_opt = cells.set_index("cell_id")["f_opt"][restarts["cell_id"]].to_numpy()
    restarts["final_loss"] = f_opt + (restarts["final_loss"].to_numpy() - f_opt) * scale[restarts["cell_id"]].to_numpy()
    table, left_out = study.floors(cells, restarts)
    row = table[(table["lr"] == 1.0) & (table["batch"] == 16)].iloc[0]
    means = 0.09 * s(1.0, 16) * np.array([1.0, 1.5, 2.0])
    assert row["floor"] == pytest.approx(means.mean())
    assert row["se"] == pytest.approx(means.std(ddof=1) / math.sqrt(3))
    assert row["instances"] == 3 and row["restarts"] == 12 and left_out == 0


def test_separable_data_sets_are_left_out_and_counted():
    cells, restarts = tables(lambda lr, b: 0.09 * s(lr, b), separable=(2,))
    verdict = study.check(data(cells, restarts))
    assert verdict.status == "reproduced"
    assert verdict.notes and verdict.notes[0].startswith("9 cells left out")
    assert all(r["instances"] == 2 for r in verdict.numbers)


def test_too_few_noise_scales_are_inconclusive():
    verdict = study.check(data(*tables(lambda lr, b: 0.09 * s(lr, b), lrs=(0.25,), batches=(16, 64))))
    assert verdict.status == "inconclusive" and "too few" in verdict.notes[0]


def test_no_equal_eta_over_b_is_inconclusive():
    verdict = study.check(data(*tables(lambda lr, b: 0.09 * s(lr, b), lrs=(0.05, 0.2, 1.0), batches=(64,))))
    assert verdict.status == "inconclusive" and "not tested" in verdict.notes[0]
