"""Study: vanishing and exploding gradients, per-layer gradient norms at initialization against mean field.

With W ~ N(0, g²/n) and b ~ N(0, σ_b²), a wide network's preactivations are
Gaussian with variance q_l, q_{l+1} = g² E[φ(z)²] + σ_b² (z ~ N(0, q_l)),
and back-propagation multiplies a single sample's gradient by
χ_l = g √E[φ'(z)²] per layer (Poole et al. 2016; Schoenholz et al. 2017). The
norm of layer l's gradient (weights and bias together, as the ``layers``
diagnostic records it) is ‖δ_l‖ √(‖h_{l−1}‖² + 1), with ‖δ_l‖² = ‖δ_{l+1}‖² χ_l²
and ‖h_l‖² = n E[φ(z)²]; at the fixed point q* consecutive layers differ by
χ: below 1 the gradient vanishes toward the input (sigmoid units, whose
φ' ≤ 1/4: Nielsen ch. 5; Glorot & Bengio 2010), above 1 it explodes (tanh in
the chaotic phase), at 1 it is preserved (ReLU at He's gain √2). The check
computes the whole profile itself, by quadrature over a Gaussian grid, from
the formulas above, and compares its per-layer ratio with the measured one,
both fitted the same way over the interior layers.

The law is that of a single sample's gradient. For a mean over a batch the
cross-sample terms carry the correlation of the samples' backward signals; for
ReLU they shrink by about 1 − θ/π per layer (θ the angle between two samples'
preactivations), so the batch-mean ratio lies below the per-sample one: the
check tests that direction only.

Left out: whether deep sigmoid networks fail to train within a budget while
critical tanh/ReLU ones train (Glorot & Bengio; Schoenholz et al.'s depth
scale). Training needs thousands of steps, and a run's step budget is shared
by all its cells, so the wide cells measured here would train too; the
teacher also differs with the activation, which confounds "harder to train"
with "harder to fit".

References:
  Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli, "Exponential expressivity in
  deep neural networks through transient chaos", arXiv:1606.05340, 2016.
  Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, "Deep information propagation",
  arXiv:1611.01232, ICLR 2017.
  Glorot, Bengio, "Understanding the difficulty of training deep feedforward
  neural networks", AISTATS 2010.
  He, Zhang, Ren, Sun, "Delving deep into rectifiers", arXiv:1502.01852, 2015.
  Nielsen, "Neural Networks and Deep Learning", 2015, ch. 5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

# A symmetric grid over ±10 standard deviations with an even number of nodes:
# no node at 0, so a step (ReLU's φ') averages to exactly ½.
_Z = np.linspace(-10.0, 10.0, 20000)
_W = np.exp(-0.5 * _Z * _Z)
_W /= _W.sum()


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# φ and φ' of each activation, written out here (not taken from the landscape).
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


def gaussian_mean(f, q: float) -> float:
    """E[f(z)] for z ~ N(0, q), by quadrature on a fixed grid (q = 0: f(0))."""
    return float(_W @ f(math.sqrt(max(q, 0.0)) * _Z))


def fixed_point(activation: str, gain: float, bias_scale: float, iterations: int = 2000) -> tuple[float, float]:
    """``(q*, χ*)``: the variance map q ↦ g² E[φ(z)²] + σ_b² iterated from q = g² + σ_b², and χ there.

    Iterates until q changes by less than 1e-12 relative, or ``iterations``
    times (a critical map such as tanh at g = 1, σ_b = 0 creeps toward q* = 0).
    """
    phi, dphi = ACTIVATIONS[activation]
    q = gain * gain + bias_scale * bias_scale
    for _ in range(iterations):
        new = gain * gain * gaussian_mean(lambda z: phi(z) ** 2, q) + bias_scale * bias_scale
        converged = abs(new - q) <= 1e-12 * max(q, 1e-300)
        q = new
        if converged:
            break
    return q, gain * math.sqrt(gaussian_mean(lambda z: dphi(z) ** 2, q))


def mean_field_norms(activation: str, gain: float, bias_scale: float, depth: int, width: int) -> np.ndarray:
    """Mean-field gradient norm of each layer (input first), up to the common factor of the residual.

    Unit-variance inputs give q_1 = g² + σ_b²; hidden layer l has ‖h_l‖² =
    n E[φ(z)²] and passes the gradient back with χ_l² = g² E[φ'(z)²]
    (z ~ N(0, q_l)); the output layer is linear. Layer l's norm (weights and
    bias) is ‖δ_l‖ √(‖h_{l−1}‖² + 1).
    """
    phi, dphi = ACTIVATIONS[activation]
    q = gain * gain + bias_scale * bias_scale
    inputs, chi2 = [float(width)], []  # ‖h_{l−1}‖² of each layer; χ_l² of each hidden layer
    for _ in range(depth - 1):
        square = gaussian_mean(lambda z: phi(z) ** 2, q)
        chi2.append(gain * gain * gaussian_mean(lambda z: dphi(z) ** 2, q))
        inputs.append(width * square)
        q = gain * gain * square + bias_scale * bias_scale
    delta2 = np.cumprod([1.0, *chi2[::-1]])[::-1]  # ‖δ_l‖², output layer last
    return np.sqrt(delta2 * (np.asarray(inputs) + 1.0))


def decay_rate(norms, first: int, last: int) -> float:
    """Per-layer ratio ‖g_l‖/‖g_{l+1}‖ from a least-squares line through log norms of layers first..last.

    Below 1 the gradient shrinks toward the input; NaN with fewer than two
    finite positive norms in the range.
    """
    norms = np.asarray(norms, float)
    layers = np.arange(norms.size)
    keep = (layers >= first) & (layers <= last) & np.isfinite(norms) & (norms > 0)
    if keep.sum() < 2:
        return math.nan
    return float(np.exp(-np.polyfit(layers[keep], np.log(norms[keep]), 1)[0]))


def _per_sample(cell) -> bool:
    """Whether the recorded gradient is a single sample's (mini-batch of one out of several samples)."""
    return int(cell.p_landscape_batch) == 1 and int(cell.p_landscape_samples) > 1


def _label(cell) -> str:
    return f"{cell.p_landscape_activation} g={cell.p_landscape_gain:.3g} σ_b={cell.p_landscape_bias_scale:g}"


def check(data: StudyData) -> Verdict:
    """Each cell's measured per-layer gradient ratio at the start against the mean-field ratio."""
    rel = float(data.tolerance["rate_rel"])
    min_width = int(data.study.get("min_width", 0))
    layers = data.tables.get("layers", pd.DataFrame())
    cells = data.ok
    comparisons, rows, weak, notes = [], [], [], []
    profiles, points = {}, {}
    if layers.empty:
        return Verdict.of([], "No per-layer gradient norms were recorded (the run needs diagnostics = [\"layers\"]).",
                          inconclusive="no layers table")
    for cell in cells.itertuples(index=False):
        mine = layers[layers["cell_id"] == cell.cell_id]
        if mine.empty:
            weak.append(f"{_label(cell)}: no layer norms recorded")
            continue
        start = int(mine["step"].min())
        if start != 0:
            weak.append(f"{_label(cell)}: the first recorded step is {start}, not the initialization")
        at_start = mine[mine["step"] == start].sort_values("layer")
        measured_norms = at_start["q50"].to_numpy(float)
        depth, width = int(cell.p_landscape_depth), int(cell.p_landscape_width)
        gain, bias = float(cell.p_landscape_gain), float(cell.p_landscape_bias_scale)
        theory_norms = mean_field_norms(cell.p_landscape_activation, gain, bias, depth, width)
        # Interior layers: the first sees the raw inputs, the last is the linear output.
        first, last = 1, depth - 2
        measured = decay_rate(measured_norms, first, last)
        theory = decay_rate(theory_norms, first, last)
        q_star, chi_star = fixed_point(cell.p_landscape_activation, gain, bias)
        per_sample = _per_sample(cell)
        if last - first + 1 < 3:
            weak.append(f"{_label(cell)}: {max(last - first + 1, 0)} interior layers, a ratio needs at least three")
        if width < min_width:
            weak.append(f"{_label(cell)}: width {width} < {min_width}, too narrow for mean field")
        if per_sample:
            comparisons.append(Comparison.within(f"per-layer gradient ratio, {_label(cell)} (per sample)",
                                                 measured, theory, rel=rel, note=f"χ* = {chi_star:.4g}"))
            profiles.setdefault(cell.p_landscape_activation, []).append((theory, cell, measured_norms, theory_norms))
        elif cell.p_landscape_activation == "relu":
            comparisons.append(Comparison.at_most(
                f"per-layer gradient ratio, {_label(cell)} (batch mean of {int(cell.p_landscape_samples)})",
                measured, theory,
                note="cross-sample terms shrink by about 1 − θ/π per layer: below the per-sample law"))
        else:
            notes.append(f"{_label(cell)}: a batch-mean gradient, shown but not compared (its law has cross-sample "
                         f"terms)")
        kind = "per sample" if per_sample else "batch mean"
        points.setdefault((cell.p_landscape_activation, kind), []).append((theory, measured))
        rows.append({"activation": cell.p_landscape_activation, "gain": gain, "bias_scale": bias, "depth": depth,
                     "width": width, "gradient": kind, "measured ratio": measured, "mean-field ratio": theory,
                     "chi at q*": chi_star, "q*": q_star,
                     "relative error": measured / theory - 1 if theory else math.nan,
                     "first/last layer norm": float(measured_norms[0] / measured_norms[-1])})
    plots = []
    if points:
        everything = [v for pairs in points.values() for pair in pairs for v in pair if np.isfinite(v) and v > 0]
        span = [min(everything) / 1.2, max(everything) * 1.2] if everything else [0.1, 2.0]
        series = [Series("measured = mean field", span, span, kind="theory")]
        series += [Series(f"{activation}, {kind}", [t for t, _ in pairs], [m for _, m in pairs])
                   for (activation, kind), pairs in sorted(points.items())]
        plots.append(Plot("Per-layer gradient ratio at initialization: measured against mean field",
                          "mean-field ratio (per-sample law; χ at the fixed point)",
                          "measured ratio ‖g_l‖/‖g_{l+1}‖", series, x_log=True, y_log=True,
                          caption="Each marker is one (activation, gain, bias) setting: the per-layer ratio fitted to "
                                  "the median gradient norms over restarts of the interior layers, against the same "
                                  "fit to the mean-field profile. On the line they agree; batch-mean ReLU is meant "
                                  "to fall below it."))
    if profiles:
        series = []
        for activation, entries in sorted(profiles.items()):
            _, cell, measured_norms, theory_norms = min(entries, key=lambda e: e[0])  # the steepest decay
            layers_axis = list(range(len(measured_norms)))
            # Only ratios are predicted: the theory profile is drawn through the measured norms' log-mean.
            shift = float(np.exp(np.mean(np.log(measured_norms[1:-1])) - np.mean(np.log(theory_norms[1:-1]))))
            series.append(Series(f"{_label(cell)}, measured (median)", layers_axis, measured_norms.tolist()))
            series.append(Series(f"{_label(cell)}, mean field", layers_axis, (theory_norms * shift).tolist(),
                                 kind="theory"))
        plots.append(Plot("Gradient norm of each layer at initialization (per sample)", "layer (0: input)",
                          "‖∂f/∂θ_l‖ (median over restarts)", series, y_log=True,
                          caption="For each activation the setting whose gradient shrinks fastest toward the input. "
                                  "Lines: mean field, shifted to the measurements (the overall scale is the "
                                  "sample's residual); its slope is the prediction."))
    compared = [c for c in comparisons if "per sample" in c.quantity]
    text = ", ".join(f"{c.quantity.split(', ', 1)[1].replace(' (per sample)', '')}: {c.measured:.3g} vs {c.theory:.3g}"
                     for c in compared if c.measured is not None)
    batch = [c for c in comparisons if "batch mean" in c.quantity]
    batch_text = "".join(f"; batch-mean ReLU {c.measured:.3g} (≤ per-sample {c.theory:.3g})"
                         for c in batch if c.measured is not None)
    summary = (f"Per-layer gradient ratio at initialization, measured vs mean field (±{rel:.0%}): {text or '—'}"
               f"{batch_text}.")
    return Verdict.of(comparisons, summary, plots=plots, numbers=pd.DataFrame(rows),
                      inconclusive="; ".join(weak) or None, notes=notes)


@suite.hookimpl
def register_studies(register):
    register("vanishing_gradients", Path(__file__).with_name("vanishing_gradients.toml"), check)
