"""The vanishing-gradients check against answers known by hand: mean-field integrals, hand-built norms and
hand-built training outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.studies.vanishing_gradients import (
    check,
    correlation_depth,
    decay_rate,
    fixed_point,
    gaussian_mean,
    half_depth,
    mean_field_norms,
    phase,
    resolvable,
    teacher_signal,
)
from suite.verdict import StudyData

STUDY = {"min_width": 128, "training_width": 32, "target": 0.05, "critical_tolerance": 0.01,
         "tolerance": {"rate_rel": 0.06, "depth_scale_factor": 2.0, "success_high": 0.75, "success_low": 0.25}}
SIGMOID, TANH, CRITICAL = ("sigmoid", 1.0, 1.0), ("tanh", 1.0, 0.5), ("tanh", 1.5497, 0.5)


_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(120)


def _hermite_mean(f, q: float) -> float:
    """E f(z), z ~ N(0, q), by Gauss–Hermite quadrature: an independent rule for smooth f."""
    return float(_WEIGHTS @ f(math.sqrt(q) * _NODES) / _WEIGHTS.sum())


def _hermite_chi(phi, dphi, gain, bias):
    q = gain * gain + bias * bias
    for _ in range(500):
        q = gain * gain * _hermite_mean(lambda z: phi(z) ** 2, q) + bias * bias
    return gain * math.sqrt(_hermite_mean(lambda z: dphi(z) ** 2, q))


TANH_PAIR = (np.tanh, lambda z: 1 / np.cosh(z) ** 2)


def test_relu_means_are_exact():
    assert gaussian_mean(lambda z: np.maximum(z, 0.0) ** 2, 3.0) == pytest.approx(1.5, rel=1e-9)
    assert gaussian_mean(lambda z: (z > 0).astype(float), 3.0) == pytest.approx(0.5, abs=1e-12)
    assert fixed_point("relu", math.sqrt(2.0), 0.0)[1] == pytest.approx(1.0, abs=1e-9)
    q, chi = fixed_point("relu", 1.0, 1.0)  # q* = σ_b² / (1 − g²/2) = 2, χ = g/√2
    assert (q, chi) == pytest.approx((2.0, 1 / math.sqrt(2.0)), rel=1e-9)


def test_smooth_activations_match_gauss_hermite_and_the_published_values():
    sigmoid = (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2)
    for name, (phi, dphi), gain, bias, published in (("sigmoid", sigmoid, 1.0, 1.0, 0.205),
                                                     ("tanh", TANH_PAIR, 1.0, 1.0, 0.63),
                                                     ("tanh", TANH_PAIR, 2.0, 0.0, None)):
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


# --- depth scales of training, by hand ----------------------------------------------------------------


def test_correlation_depth_by_hand():
    assert correlation_depth(1 / math.sqrt(2.0)) == pytest.approx(1 / math.log(2.0))  # ReLU g = 1: χ² = ½
    assert correlation_depth(math.exp(-0.5)) == pytest.approx(1.0)  # χ² = 1/e
    assert correlation_depth(1.0) == math.inf and math.isnan(correlation_depth(1.2))
    assert correlation_depth(fixed_point(*SIGMOID)[1]) == pytest.approx(0.315, abs=0.001)
    assert correlation_depth(fixed_point(*TANH)[1]) == pytest.approx(1.835, abs=0.002)
    assert [phase(c, 0.01) for c in (0.5, 0.995, 1.005, 1.2)] == ["ordered", "critical", "critical", "chaotic"]


def test_the_critical_gain_of_the_study_is_critical_by_an_independent_rule():
    # The TOML's g = 1.5497 for σ_b = 0.5: χ = 1 within 1e-4 by Gauss–Hermite quadrature too.
    assert _hermite_chi(*TANH_PAIR, 1.5497, 0.5) == pytest.approx(1.0, abs=1e-4)
    assert _hermite_chi(*TANH_PAIR, 1.0, 0.5) == pytest.approx(0.7615, abs=1e-3)


def test_teacher_signal_and_its_resolution_by_hand():
    assert teacher_signal("relu", math.sqrt(2.0), 0.0, 9) == pytest.approx(1.0)  # χ_l = 1 at every layer
    assert teacher_signal("relu", 1.0, 1.0, 5) == pytest.approx(0.25)  # χ_l = 1/√2 whatever q: (1/√2)^4
    eps32 = float(np.finfo(np.float32).eps)
    assert resolvable(10.0 * eps32, "float32") and not resolvable(9.0 * eps32, "float32")
    assert resolvable(1e-12, "float64")
    # Sigmoid at g = 1, σ_b = 1: depth 8 stands above float32 rounding, depth 16 (Π χ ≈ 4e-11) does not.
    assert resolvable(teacher_signal(*SIGMOID, 8), "float32")
    assert not resolvable(teacher_signal(*SIGMOID, 16), "float32")


def test_half_depth_by_hand():
    assert half_depth([2, 4, 8], [1.0, 0.0, 0.0]) == (pytest.approx(math.sqrt(8.0)), "crossing")
    assert half_depth([32, 4, 16, 8], [0.0, 1.0, 0.5, 1.0]) == (pytest.approx(math.sqrt(16 * 32)), "crossing")
    l_half, how = half_depth([2, 4], [1.0, 0.9])
    assert math.isnan(l_half) and how == "trains at every depth"
    assert half_depth([2, 4], [0.2, 0.0])[1] == "fails at every depth"
    assert half_depth([2, 4, 8], [1.0, 0.0, 1.0])[1].endswith("again")


# --- hand-built runs ------------------------------------------------------------------------------------

# Shares that train: sigmoid (ξ_c = 0.315) up to depth 2, ordered tanh (ξ_c = 1.84) up to 16: L_½ = 2.83 and 22.6,
# 8.97 and 12.3 ξ_c (ratio 0.73); the critical tanh trains everywhere.
GOOD = {SIGMOID: {2: 1.0, 4: 0.0, 8: 0.0}, TANH: {4: 1.0, 8: 1.0, 16: 1.0, 32: 0.0},
        CRITICAL: {4: 1.0, 8: 1.0, 16: 1.0, 32: 1.0}}
INIT = [("relu", 1.0, 1.0, 1, 1), ("sigmoid", 1.0, 1.0, 1, 1), ("relu", math.sqrt(2.0), 0.0, 64, 0)]
INIT_RATIOS = [1 / math.sqrt(2.0), 0.205, 0.85]


def _data(settings=INIT, *, ratios=INIT_RATIOS, depth=10, width=256, start=0, training=None, restarts=16):
    """Initialization cells whose median layer norms fall by ``ratios[i]`` per layer toward the input, and
    training cells (width 32) of which a share ``training[setting][depth]`` of ``restarts`` ends at loss 0.01,
    the rest at 0.5 (the constant predictor's loss)."""
    cells, layers, rows = [], [], []
    for i, ((activation, gain, bias, samples, batch), ratio) in enumerate(zip(settings, ratios)):
        cid = f"c{i}"
        cells.append({"cell_id": cid, "status": "ok", "p_landscape_activation": activation, "p_landscape_gain": gain,
                      "p_landscape_bias_scale": bias, "p_landscape_depth": depth, "p_landscape_width": width,
                      "p_landscape_samples": samples, "p_landscape_batch": batch})
        norms = ratio ** (depth - 1 - np.arange(depth, dtype=float))
        for step in (start, start + 1):
            layers += [{"cell_id": cid, "step": step, "layer": l, "q25": 0.9 * n, "q50": n, "q75": 1.1 * n}
                       for l, n in enumerate(norms)]
    for (activation, gain, bias), shares in (GOOD if training is None else training).items():
        for d, share in shares.items():
            cid = f"t-{activation}-{gain}-{bias}-{d}"
            cells.append({"cell_id": cid, "status": "ok", "p_landscape_activation": activation,
                          "p_landscape_gain": gain, "p_landscape_bias_scale": bias, "p_landscape_depth": d,
                          "p_landscape_width": 32, "p_landscape_samples": 64, "p_landscape_batch": 0,
                          "precision": "float32", "optimizer": "sgd", "p_opt_learning_rate": 0.03, "steps": 1000})
            trained = round(share * restarts)
            rows += [{"cell_id": cid, "restart": r, "final_loss": 0.01 if r < trained else 0.5}
                     for r in range(restarts)]
    return StudyData(cells=pd.DataFrame(cells), restarts=pd.DataFrame(rows), curves=pd.DataFrame(),
                     tables={"layers": pd.DataFrame(layers)}, study=STUDY)


def _compared(verdict, words: str):
    return [c for c in verdict.comparisons if words in c.quantity]


def test_mean_field_ratios_and_a_depth_scale_proportional_to_xi_reproduce():
    verdict = check(_data())
    assert verdict.status == "reproduced", verdict
    # 3 ratio comparisons; shallowest and deepest of two ordered settings; the critical one; the scaling.
    assert len(verdict.comparisons) == 3 + 4 + 1 + 1 and len(verdict.plots) == 4
    (scaling,) = _compared(verdict, "L_½/ξ_c")
    ratio = (math.sqrt(8.0) / correlation_depth(fixed_point(*SIGMOID)[1])) / \
        (math.sqrt(512.0) / correlation_depth(fixed_point(*TANH)[1]))
    assert scaling.measured == pytest.approx(math.log2(ratio)) and ratio == pytest.approx(0.727, abs=0.002)
    numbers = pd.DataFrame(list(verdict.numbers))
    depths = numbers[numbers["part"] == "trainable depth"].set_index("activation")["L_half"]
    assert depths.to_dict() == pytest.approx({"sigmoid": math.sqrt(8.0), "tanh": math.sqrt(512.0)})
    trained = numbers[(numbers["part"] == "training") & (numbers["share trained"] == 1.0)]
    assert trained["wilson low"].to_numpy() == pytest.approx(0.8064, abs=1e-4)  # 16/16, Wilson at 95%


def test_squared_ratios_do_not_reproduce():
    verdict = check(_data(ratios=[0.5, 0.205 ** 2, 0.85]))
    assert verdict.status == "not reproduced"
    assert [c.passed for c in verdict.comparisons[:3]] == [False, False, True]


def test_a_batch_mean_relu_above_the_per_sample_law_does_not_reproduce():
    assert check(_data(ratios=[1 / math.sqrt(2.0), 0.205, 1.2])).status == "not reproduced"


def test_a_trainable_depth_that_ignores_xi_does_not_reproduce():
    # Both ordered settings stop at depth 8 although their ξ_c differ ×5.8: L_½/ξ_c differ ×5.8 (log₂ 2.5 > 1).
    same = {SIGMOID: {2: 1.0, 4: 1.0, 8: 0.0}, TANH: {4: 1.0, 8: 0.0, 16: 0.0, 32: 0.0}, CRITICAL: GOOD[CRITICAL]}
    verdict = check(_data(training=same))
    assert verdict.status == "not reproduced"
    (scaling,) = _compared(verdict, "L_½/ξ_c")
    assert not scaling.passed and scaling.measured == pytest.approx(math.log2(1.835 / 0.3154), abs=0.01)
    assert all(c.passed for c in verdict.comparisons if c is not scaling)


def test_a_critical_network_that_stops_training_with_depth_does_not_reproduce():
    verdict = check(_data(training={**GOOD, CRITICAL: {4: 1.0, 8: 1.0, 16: 0.5, 32: 0.0}}))
    assert verdict.status == "not reproduced"
    (critical,) = _compared(verdict, "critical")
    assert not critical.passed and critical.measured == 0.0


def test_an_ordered_network_that_trains_at_every_depth_does_not_reproduce():
    verdict = check(_data(training={**GOOD, SIGMOID: {2: 1.0, 4: 1.0, 8: 0.9375}}))
    assert verdict.status == "not reproduced"
    assert not _compared(verdict, "depth 8")[0].passed and not _compared(verdict, "L_½/ξ_c")[0].passed


def test_an_ordered_network_that_never_trains_does_not_reproduce():
    assert check(_data(training={**GOOD, SIGMOID: {2: 0.0, 4: 0.0, 8: 0.0}})).status == "not reproduced"


def test_cells_whose_teacher_is_rounding_noise_are_shown_but_not_counted():
    # Sigmoid at depth 16: Π χ ≈ 4e-11 < 10 ulps of float32; its "success" there must not count.
    verdict = check(_data(training={**GOOD, SIGMOID: {2: 1.0, 4: 0.0, 8: 0.0, 16: 1.0}}))
    assert verdict.status == "reproduced", verdict
    assert any("rounding noise" in n for n in verdict.notes)
    numbers = pd.DataFrame(list(verdict.numbers))
    assert not numbers[(numbers["part"] == "training") & (numbers["depth"] == 16) &
                       (numbers["activation"] == "sigmoid")]["counted"].item()


def test_one_ordered_setting_or_no_critical_one_is_inconclusive():
    assert check(_data(training={SIGMOID: GOOD[SIGMOID], CRITICAL: GOOD[CRITICAL]})).status == "inconclusive"
    assert check(_data(training={SIGMOID: GOOD[SIGMOID], TANH: GOOD[TANH]})).status == "inconclusive"
    assert check(_data(training={})).status == "inconclusive"


def test_a_study_without_training_width_is_inconclusive():
    data = _data()
    data.study = {k: v for k, v in STUDY.items() if k != "training_width"}
    assert check(data).status == "inconclusive"


def test_narrow_layers_are_inconclusive():
    assert check(_data(width=16)).status == "inconclusive"


def test_too_few_interior_layers_are_inconclusive():
    assert check(_data(depth=3)).status == "inconclusive"


def test_norms_not_at_the_start_are_inconclusive():
    assert check(_data(start=5)).status == "inconclusive"


def test_no_layers_table_is_inconclusive():
    data = _data(ratios=[1.0, 1.0, 1.0])
    data.tables = {}
    assert check(data).status == "inconclusive"


# --- the study file at every size ---------------------------------------------------------------------


@pytest.mark.parametrize("size", ["tiny", "small", "full"])
def test_every_size_parses_and_its_training_settings_are_ordered_or_critical(size):
    from suite import study
    from suite.registry import load_registry

    run = study.config(load_registry().study("vanishing_gradients"), size)
    settings = {(l.values["activation"][0], float(gain), float(l.values["bias_scale"][0]))
                for l in run.landscapes if l.values["width"] == [STUDY["training_width"]] for gain in l.values["gain"]}
    phases = {phase(fixed_point(*s)[1], STUDY["critical_tolerance"]) for s in settings}
    assert phases == {"ordered", "critical"}
    for layer in run.landscapes:  # the initialization cells' gradient is a single sample's, or a batch mean
        if layer.values["width"] != [STUDY["training_width"]]:
            assert layer.values["samples"] == [1] or layer.values["activation"] == ["relu"]
