"""The vanishing-gradients check against answers known by hand: mean-field integrals and hand-built norms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.studies.vanishing_gradients import check, decay_rate, fixed_point, gaussian_mean, mean_field_norms
from suite.verdict import StudyData

STUDY = {"min_width": 128, "tolerance": {"rate_rel": 0.06}}


def _hermite_mean(f, q: float) -> float:
    """E f(z), z ~ N(0, q), by Gauss–Hermite quadrature: an independent rule for smooth f."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    return float(weights @ f(math.sqrt(q) * nodes) / weights.sum())


def _hermite_chi(phi, dphi, gain, bias):
    q = gain * gain + bias * bias
    for _ in range(500):
        q = gain * gain * _hermite_mean(lambda z: phi(z) ** 2, q) + bias * bias
    return gain * math.sqrt(_hermite_mean(lambda z: dphi(z) ** 2, q))


def test_relu_means_are_exact():
    assert gaussian_mean(lambda z: np.maximum(z, 0.0) ** 2, 3.0) == pytest.approx(1.5, rel=1e-9)
    assert gaussian_mean(lambda z: (z > 0).astype(float), 3.0) == pytest.approx(0.5, abs=1e-12)
    assert fixed_point("relu", math.sqrt(2.0), 0.0)[1] == pytest.approx(1.0, abs=1e-9)
    q, chi = fixed_point("relu", 1.0, 1.0)  # q* = σ_b² / (1 − g²/2) = 2, χ = g/√2
    assert (q, chi) == pytest.approx((2.0, 1 / math.sqrt(2.0)), rel=1e-9)


def test_smooth_activations_match_gauss_hermite_and_the_published_values():
    sigmoid = (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2)
    tanh = (np.tanh, lambda z: 1 / np.cosh(z) ** 2)
    for name, (phi, dphi), gain, bias, published in (("sigmoid", sigmoid, 1.0, 1.0, 0.205),
                                                     ("tanh", tanh, 1.0, 1.0, 0.63),
                                                     ("tanh", tanh, 2.0, 0.0, None)):
        chi = fixed_point(name, gain, bias)[1]
        assert chi == pytest.approx(_hermite_chi(phi, dphi, gain, bias), rel=1e-6)
        if published is not None:  # REFERENCES.md, "Mean-field gradient ratio"
            assert chi == pytest.approx(published, abs=0.005)


def test_profiles_by_hand():
    flat = mean_field_norms("relu", math.sqrt(2.0), 0.0, 6, 100)  # q = 2 at every layer, χ = 1
    assert np.allclose(flat, flat[0])
    ordered = mean_field_norms("relu", 1.0, 1.0, 6, 100)  # at the fixed point from the first layer
    assert np.allclose(ordered[:-1] / ordered[1:], 1 / math.sqrt(2.0))


def test_decay_rate_of_a_geometric_profile():
    assert decay_rate(0.3 ** -np.arange(8.0), 1, 6) == pytest.approx(0.3)
    assert math.isnan(decay_rate([1.0, 2.0, 4.0], 1, 1))


def _data(settings, *, ratios, depth=10, width=256, start=0):
    """Cells and a layers table whose median norms fall by ``ratios[i]`` per layer toward the input."""
    cells, layers = [], []
    for i, ((activation, gain, bias, batch), ratio) in enumerate(zip(settings, ratios)):
        cid = f"c{i}"
        cells.append({"cell_id": cid, "status": "ok", "p_landscape_activation": activation, "p_landscape_gain": gain,
                      "p_landscape_bias_scale": bias, "p_landscape_depth": depth, "p_landscape_width": width,
                      "p_landscape_samples": 64, "p_landscape_batch": batch})
        norms = ratio ** (depth - 1 - np.arange(depth, dtype=float))
        for step in (start, start + 1):
            layers += [{"cell_id": cid, "step": step, "layer": l, "q25": 0.9 * n, "q50": n, "q75": 1.1 * n}
                       for l, n in enumerate(norms)]
    return StudyData(cells=pd.DataFrame(cells), restarts=pd.DataFrame(), curves=pd.DataFrame(),
                     tables={"layers": pd.DataFrame(layers)}, study=STUDY)


SETTINGS = [("relu", 1.0, 1.0, 1), ("sigmoid", 1.0, 1.0, 1), ("relu", math.sqrt(2.0), 0.0, 0)]


def test_mean_field_ratios_reproduce():
    verdict = check(_data(SETTINGS, ratios=[1 / math.sqrt(2.0), 0.205, 0.85]))
    assert verdict.status == "reproduced", verdict
    assert len(verdict.comparisons) == 3 and len(verdict.plots) == 2


def test_squared_ratios_do_not_reproduce():
    verdict = check(_data(SETTINGS, ratios=[0.5, 0.205 ** 2, 0.85]))
    assert verdict.status == "not reproduced"
    assert [c.passed for c in verdict.comparisons] == [False, False, True]


def test_a_batch_mean_relu_above_the_per_sample_law_does_not_reproduce():
    verdict = check(_data(SETTINGS, ratios=[1 / math.sqrt(2.0), 0.205, 1.2]))
    assert verdict.status == "not reproduced"


def test_narrow_layers_are_inconclusive():
    assert check(_data(SETTINGS, ratios=[1 / math.sqrt(2.0), 0.205, 0.85], width=16)).status == "inconclusive"


def test_too_few_interior_layers_are_inconclusive():
    assert check(_data(SETTINGS, ratios=[1 / math.sqrt(2.0), 0.205, 0.85], depth=3)).status == "inconclusive"


def test_norms_not_at_the_start_are_inconclusive():
    assert check(_data(SETTINGS, ratios=[1 / math.sqrt(2.0), 0.205, 0.85], start=5)).status == "inconclusive"


def test_no_layers_table_is_inconclusive():
    data = _data(SETTINGS, ratios=[1.0, 1.0, 1.0])
    data.tables = {}
    assert check(data).status == "inconclusive"
