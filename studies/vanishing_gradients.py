"""Study: vanishing and exploding gradients, at initialization and in training, against mean field.

**At initialization.** With W ~ N(0, g²/n) and b ~ N(0, σ_b²), a wide
network's preactivations are Gaussian with variance q_l,
q_{l+1} = g² E[φ(z)²] + σ_b² (z ~ N(0, q_l)), and back-propagation multiplies
a single sample's gradient by χ_l = g √E[φ'(z)²] per layer (Poole et al. 2016;
Schoenholz et al. 2017). The norm of layer l's gradient (weights and bias
together, as the ``layers`` diagnostic records it) is ‖δ_l‖ √(‖h_{l−1}‖² + 1),
with ‖δ_l‖² = ‖δ_{l+1}‖² χ_l² and ‖h_l‖² = n E[φ(z)²]; at the fixed point q*
consecutive layers differ by χ: below 1 the gradient vanishes toward the input
(sigmoid units, whose φ' ≤ 1/4: Nielsen ch. 5; Glorot & Bengio 2010), above 1
it explodes (tanh in the chaotic phase), at 1 it is preserved (ReLU at He's
gain √2). The check computes the whole profile itself, by quadrature over a
Gaussian grid, from the formulas above, and compares its per-layer ratio with
the measured one, both fitted the same way over the interior layers. Only
step 0 of the ``layers`` table is read, so these cells may train (or diverge)
afterwards without changing the measurement.

The law is that of a single sample's gradient: those cells hold one training
sample (or draw mini-batches of one). For a mean over a batch the
cross-sample terms carry the correlation of the samples' backward signals; for
ReLU they shrink by about 1 − θ/π per layer (θ the angle between two samples'
preactivations), so the batch-mean ratio lies below the per-sample one: the
check tests that direction only.

**In training.** Schoenholz et al. (2017) showed that in the ordered phase
(χ < 1) the correlation between two inputs' representations approaches 1
with depth as e^{−l/ξ_c}, ξ_c = −1/ln(χ²) (their χ₁ = g² E[φ'²] is the square
of the χ above, so ξ_c is half of −1/ln χ; the mean squared gradient decays
with the same depth scale), and that networks train only when they are at
most a few ξ_c deep (about 6 ξ_c in their Figs. 5–6; the trainable region
grows with training time), while at criticality (χ = 1) ξ_c diverges and
depth no longer limits training. The training cells (the ``deep_net`` cells
of width ``training_width``) train each (activation, gain, bias) setting at
several depths with one optimizer and learning rate for every cell (a
condition of the run, not tuned per depth), full batch. A restart *trains* when its final
loss is at most ``target``. Every teacher's targets are standardised to mean
0 and variance 1 on the training set, so the best constant predictor has loss
exactly ½ whatever the teacher: ``target`` = 0.05 means the student explains
at least 90% of its teacher's variance, the same bar for every setting (the
usual failure ends at ½: only the mean was learned). For each ordered setting
the depth where the share of restarts that train falls below ½ is located
(L_½, the geometric mean of the last depth that trains and the first that
does not), and the check compares:

* the scaling: L_½/ξ_c of two ordered settings whose ξ_c differ several-fold
  agree within ``depth_scale_factor`` (the depths form a grid of doublings,
  so each L_½ is known to within a factor √2: their ratio to within 2); a
  trainable depth that did not scale with ξ_c would miss by the ratio of
  the ξ_c;
* that each ordered setting trains at its shallowest depth (share at least
  ``success_high``) and not at its deepest (at most ``success_low``), so the
  crossing is inside the grid;
* that the critical setting trains at every depth (lowest share at least
  ``success_high``), including depths where the ordered ones no longer do.

The published multiple (6 ξ_c) belongs to their budget and data; it is drawn
and L_½/ξ_c is reported, but not compared. Caveats: the teacher is drawn with
the student's activation and gain, so each setting fits a different function;
the common variance-1 bar makes "fits it" the same demand, and a teacher deep
in the ordered phase is, if anything, simpler (beyond a few ξ_c it is close to
an affine function of its first layers' features). When its input-dependent
output (about the product of the χ_l, relative to its mean) falls below ten
times the float resolution, the targets are rounding noise: such cells are
shown but not counted (sigmoid at g = 1 beyond depth 9 in float32). Adaptive
methods (Adam) rescale each coordinate's gradient and undo much of the
vanishing factor: in an exploratory run with Adam at 1e-3 (same cells, 1000
steps) the sigmoid network trained at depth 8 (25 ξ_c) while the ordered tanh
stopped between 16 and 32 (9–17 ξ_c), which would not scale with ξ_c. The
claim, like Glorot & Bengio's and Nielsen's, is about gradient descent; the
learning rate is the largest of a half-decade grid at which no training cell
diverges (the TOML says why).

References:
  Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli, "Exponential expressivity in
  deep neural networks through transient chaos", arXiv:1606.05340, 2016.
  Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, "Deep information propagation",
  arXiv:1611.01232, ICLR 2017.
  Glorot, Bengio, "Understanding the difficulty of training deep feedforward
  neural networks", AISTATS 2010.
  He, Zhang, Ren, Sun, "Delving deep into rectifiers", arXiv:1502.01852, 2015.
  Nielsen, "Neural Networks and Deep Learning", 2015, ch. 5.
  Wilson, "Probable inference, the law of succession, and statistical
  inference", J. Am. Stat. Assoc. 22, 1927.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import ok_restarts, wilson
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

# A symmetric grid over ±10 standard deviations with an even number of nodes:
# no node at 0, so a step (ReLU's φ') averages to exactly ½.
_Z = np.linspace(-10.0, 10.0, 20000)
_W = np.exp(-0.5 * _Z * _Z)
_W /= _W.sum()
# Machine epsilon of each run precision: the rounding of a teacher's output.
_EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
PUBLISHED_MULTIPLE = 6.0  # Schoenholz et al.'s trainable depth, 6 ξ_c, at their budget (drawn, not compared)


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
    # An elementwise product and numpy's pairwise sum, not `@`: a BLAS dot wakes its thread pool on every
    # call, which costs milliseconds a call on a loaded machine (and the check makes hundreds).
    return float(np.sum(_W * f(math.sqrt(max(q, 0.0)) * _Z)))


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


def hidden_layers(activation: str, gain: float, bias_scale: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """``(E[φ(z)²], χ_l²)`` of each of the ``depth − 1`` hidden layers, input side first.

    Unit-variance inputs give q_1 = g² + σ_b²; then q_{l+1} = g² E[φ(z)²] + σ_b²
    and χ_l² = g² E[φ'(z)²], z ~ N(0, q_l) (Poole et al. 2016).
    """
    phi, dphi = ACTIVATIONS[activation]
    q = gain * gain + bias_scale * bias_scale
    squares, chi2 = [], []
    for _ in range(depth - 1):
        square = gaussian_mean(lambda z: phi(z) ** 2, q)
        squares.append(square)
        chi2.append(gain * gain * gaussian_mean(lambda z: dphi(z) ** 2, q))
        q = gain * gain * square + bias_scale * bias_scale
    return np.asarray(squares, float), np.asarray(chi2, float)


def mean_field_norms(activation: str, gain: float, bias_scale: float, depth: int, width: int) -> np.ndarray:
    """Mean-field gradient norm of each layer (input first), up to the common factor of the residual.

    Hidden layer l has ‖h_l‖² = n E[φ(z)²] and passes the gradient back with
    χ_l² (:func:`hidden_layers`); the output layer is linear. Layer l's norm
    (weights and bias) is ‖δ_l‖ √(‖h_{l−1}‖² + 1).
    """
    squares, chi2 = hidden_layers(activation, gain, bias_scale, depth)
    inputs = np.concatenate([[float(width)], width * squares])  # ‖h_{l−1}‖² of each layer
    delta2 = np.cumprod([1.0, *chi2[::-1]])[::-1]  # ‖δ_l‖², output layer last
    return np.sqrt(delta2 * (inputs + 1.0))


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


def correlation_depth(chi: float) -> float:
    """ξ_c = −1/ln(χ²) (Schoenholz et al. 2017, at c* = 1): the depth scale of the ordered phase.

    Infinite at χ = 1 (criticality); NaN in the chaotic phase (χ > 1), where
    ξ_c is finite again but set by the correlation fixed point c* < 1, which
    this study does not compute.
    """
    if not np.isfinite(chi) or chi > 1.0 + 1e-12:
        return math.nan
    if chi >= 1.0 - 1e-12:
        return math.inf
    return -1.0 / math.log(chi * chi)


def phase(chi: float, tolerance: float) -> str:
    """``ordered`` (χ < 1 − tolerance), ``critical`` (|χ − 1| ≤ tolerance) or ``chaotic``."""
    if chi < 1.0 - tolerance:
        return "ordered"
    return "critical" if chi <= 1.0 + tolerance else "chaotic"


def teacher_signal(activation: str, gain: float, bias_scale: float, depth: int) -> float:
    """The teacher's input-dependent output relative to its mean, about Π χ_l over its hidden layers.

    In the ordered phase two inputs' representations approach each other by χ_l
    per layer once close (the forward Jacobian's gain), so a deep teacher's
    output varies with its input by about this fraction of its size; the
    landscape then standardises that variation to variance 1.
    """
    return float(np.prod(np.sqrt(hidden_layers(activation, gain, bias_scale, depth)[1])))


def resolvable(signal: float, precision: str) -> bool:
    """Whether a teacher's input-dependent output stands above rounding: at least 10 ulps of its size.

    Below, the standardised targets are mostly rounding noise (at 10 ulps the
    noise is ≤ 10% in amplitude, 1% of the variance: well inside the 10% a
    trained restart may leave unexplained).
    """
    return signal >= 10.0 * _EPS.get(str(precision), _EPS["float32"])


def half_depth(depths, shares) -> tuple[float, str]:
    """``(L_½, how)``: where the share of restarts that train first falls below ½, on a log scale.

    L_½ is the geometric mean of the last depth with share ≥ ½ before the first
    depth below ½ and that depth. NaN when every depth trains or none does;
    ``how`` says which, or notes a share back above ½ deeper down.
    """
    order = np.argsort(np.asarray(depths, float))
    depths = np.asarray(depths, float)[order]
    shares = np.asarray(shares, float)[order]
    failing = np.flatnonzero(shares < 0.5)
    if failing.size == 0:
        return math.nan, "trains at every depth"
    first = int(failing[0])
    if first == 0:
        return math.nan, "fails at every depth"
    how = "crossing" if np.all(shares[first:] < 0.5) else "crossing; a deeper depth trains again"
    return float(math.sqrt(depths[first - 1] * depths[first])), how


def _per_sample(cell) -> bool:
    """Whether the recorded gradient is a single sample's (one training sample, or a mini-batch of one)."""
    samples, batch = int(cell.p_landscape_samples), int(cell.p_landscape_batch)
    return samples == 1 or (batch == 1 and samples > 1)


def _label(cell) -> str:
    return f"{cell.p_landscape_activation} g={cell.p_landscape_gain:.3g} σ_b={cell.p_landscape_bias_scale:g}"


def _init_ratios(data: StudyData, cells: pd.DataFrame) -> dict:
    """Each initialization cell's measured per-layer gradient ratio at the start against the mean-field ratio."""
    rel = float(data.tolerance["rate_rel"])
    min_width = int(data.study.get("min_width", 0))
    layers = data.tables.get("layers", pd.DataFrame())
    comparisons, rows, weak, notes, plots = [], [], [], [], []
    profiles, points = {}, {}
    if layers.empty:
        return {"comparisons": [], "rows": [], "plots": [], "notes": [], "text": "no per-layer gradient norms",
                "weak": ["no per-layer gradient norms were recorded (the run needs diagnostics = [\"layers\"])"]}
    if cells.empty:
        weak.append("no initialization cells")
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
        rows.append({"part": "initialization", "activation": cell.p_landscape_activation, "gain": gain,
                     "bias_scale": bias, "depth": depth, "width": width, "gradient": kind,
                     "measured ratio": measured, "mean-field ratio": theory, "chi at q*": chi_star, "q*": q_star,
                     "relative error": measured / theory - 1 if theory else math.nan,
                     "first/last layer norm": float(measured_norms[0] / measured_norms[-1])})
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
    # From the rows, not the comparisons: a one-sided comparison carries its bound as the tolerance only.
    batch_text = "".join(f"; batch-mean ReLU {r['measured ratio']:.3g} (≤ per-sample {r['mean-field ratio']:.3g})"
                         for r in rows if r["gradient"] == "batch mean" and r["activation"] == "relu"
                         and np.isfinite(r["measured ratio"]))
    text = (f"per-layer gradient ratio at initialization, measured vs mean field (±{rel:.0%}): {text or '—'}"
            f"{batch_text}")
    return {"comparisons": comparisons, "rows": rows, "plots": plots, "weak": weak, "notes": notes, "text": text}


def _ratio_of_medians(curves: pd.DataFrame, cell_id) -> float:
    """Median final loss ÷ median initial loss of a cell, from the curves table (NaN without it)."""
    if curves.empty or "cell_id" not in curves:
        return math.nan
    mine = curves[(curves["cell_id"] == cell_id) & (curves.get("quantity", "loss") == "loss")]
    if mine.empty:
        return math.nan
    start, end = mine.loc[mine["step"].idxmin(), "q50"], mine.loc[mine["step"].idxmax(), "q50"]
    return float(end / start) if start else math.nan


def _setting(cell) -> tuple:
    return (cell.p_landscape_activation, float(cell.p_landscape_gain), float(cell.p_landscape_bias_scale))


def _setting_label(setting: tuple) -> str:
    activation, gain, bias = setting
    return f"{activation} g={gain:.5g} σ_b={bias:g}"


def _training(data: StudyData, cells: pd.DataFrame) -> dict:
    """Share of restarts that train against depth, per setting; the ordered settings' L_½/ξ_c compared."""
    tol = data.tolerance
    target = float(data.study.get("target", 0.05))
    high, low = float(tol["success_high"]), float(tol["success_low"])
    factor = float(tol["depth_scale_factor"])
    critical_tol = float(data.study.get("critical_tolerance", 0.01))
    restarts = ok_restarts(data)
    comparisons, rows, weak, notes, plots = [], [], [], [], []
    if cells.empty:
        return {"comparisons": [], "rows": [], "plots": [], "notes": [], "text": "no training cells",
                "weak": [f"no training cells (deep_net of width {data.study.get('training_width')})"]}
    by_setting: dict[tuple, list[dict]] = {}
    for cell in cells.itertuples(index=False):
        mine = restarts[restarts["cell_id"] == cell.cell_id] if "cell_id" in restarts else restarts.iloc[:0]
        final = pd.to_numeric(mine.get("final_loss", pd.Series(dtype=float)), errors="coerce").to_numpy(float)
        trials, successes = int(final.size), int(np.sum(np.isfinite(final) & (final <= target)))
        setting, depth = _setting(cell), int(cell.p_landscape_depth)
        chi = fixed_point(*setting)[1]
        # Within the critical tolerance ξ_c exceeds every depth here: infinite, on either side of χ = 1.
        xi = math.inf if phase(chi, critical_tol) == "critical" else correlation_depth(chi)
        precision = str(getattr(cell, "precision", "float32"))
        signal = teacher_signal(*setting, depth)
        counted = resolvable(signal, precision)
        if not counted:
            notes.append(f"{_setting_label(setting)} at depth {depth}: its teacher's input-dependent output is about "
                         f"{signal:.1e} of its size, below 10 ulps in {precision}: the targets are rounding noise; "
                         f"shown, not counted")
        if trials == 0:
            weak.append(f"{_setting_label(setting)} at depth {depth}: no restarts recorded")
        lo_ci, hi_ci = wilson(successes, trials)
        row = {"part": "training", "activation": setting[0], "gain": setting[1], "bias_scale": setting[2],
               "depth": depth, "width": int(cell.p_landscape_width), "chi at q*": chi, "xi_c": xi,
               "depth / xi_c": depth / xi if xi and np.isfinite(xi) else (0.0 if xi == math.inf else math.nan),
               "restarts": trials, "trained": successes, "share trained": successes / trials if trials else math.nan,
               "wilson low": lo_ci, "wilson high": hi_ci,
               "median final loss": float(np.nanmedian(final)) if np.isfinite(final).any() else math.nan,
               "median final / median initial loss": _ratio_of_medians(data.curves, cell.cell_id),
               "teacher signal": signal, "counted": counted}
        rows.append(row)
        if counted and trials:
            by_setting.setdefault(setting, []).append(row)
    ordered, critical = [], []
    for setting, entries in sorted(by_setting.items()):
        entries.sort(key=lambda r: r["depth"])
        chi, xi = entries[0]["chi at q*"], entries[0]["xi_c"]
        kind = phase(chi, critical_tol)
        depths = [r["depth"] for r in entries]
        shares = [r["share trained"] for r in entries]
        if kind == "ordered":
            l_half, how = half_depth(depths, shares)
            if how.endswith("again"):
                notes.append(f"{_setting_label(setting)}: {how}")
            label = f"{_setting_label(setting)} (ξ_c = {xi:.3g})"
            if len(entries) < 2:
                weak.append(f"{label}: one depth only, no crossing can be located")
            comparisons.append(Comparison.at_least(f"share trained at depth {depths[0]} "
                                                   f"({depths[0] / xi:.3g} ξ_c), {label}", shares[0], high,
                                                   note="shallow enough to train"))
            comparisons.append(Comparison.at_most(f"share trained at depth {depths[-1]} "
                                                  f"({depths[-1] / xi:.3g} ξ_c), {label}", shares[-1], low,
                                                  note="far beyond the trainable depth"))
            ordered.append({"setting": setting, "xi": xi, "l_half": l_half, "how": how, "label": label})
            rows.append({"part": "trainable depth", "activation": setting[0], "gain": setting[1],
                         "bias_scale": setting[2], "chi at q*": chi, "xi_c": xi, "L_half": l_half,
                         "L_half / xi_c": l_half / xi, "crossing": how})
        elif kind == "critical":
            worst = min(entries, key=lambda r: r["share trained"])
            comparisons.append(Comparison.at_least(
                f"lowest share trained over depths {depths[0]}–{depths[-1]}, {_setting_label(setting)} (critical, "
                f"χ = {chi:.4g})", worst["share trained"], high, note=f"lowest at depth {worst['depth']}"))
            critical.append({"setting": setting, "depths": depths, "worst": worst["share trained"]})
        else:
            notes.append(f"{_setting_label(setting)}: chaotic (χ = {chi:.3g}), shown but not compared")
    # Sorted by ξ_c: each ordered setting's L_½/ξ_c against the next's.
    ordered.sort(key=lambda o: o["xi"])
    for a, b in zip(ordered, ordered[1:]):
        ratio = (a["l_half"] / a["xi"]) / (b["l_half"] / b["xi"])
        comparisons.append(Comparison.within(
            f"log₂ of L_½/ξ_c, {_setting_label(a['setting'])} over {_setting_label(b['setting'])}",
            math.log2(ratio) if ratio > 0 else math.nan, 0.0, abs=math.log2(factor),
            note=f"ratio {ratio:.3g}; ξ_c {a['xi']:.3g} and {b['xi']:.3g} (×{b['xi'] / a['xi']:.3g}): L_½ = "
                 f"{a['l_half']:.3g} and {b['l_half']:.3g}"))
    if len(ordered) < 2:
        weak.append(f"{len(ordered)} ordered setting(s): the scaling with ξ_c needs two")
    if not critical:
        weak.append("no critical setting (χ = 1) among the training cells")
    plots += _training_plots(by_setting, critical_tol, target)
    optimizer = _condition(cells)
    parts = [f"{o['label'].split(' (')[0]} (ξ_c = {o['xi']:.3g}): L_½ = {o['l_half']:.3g} = "
             f"{o['l_half'] / o['xi']:.3g} ξ_c" if np.isfinite(o["l_half"]) else
             f"{o['label'].split(' (')[0]} (ξ_c = {o['xi']:.3g}): {o['how']}" for o in ordered]
    parts += [f"critical {_setting_label(c['setting'])} (ξ_c infinite): lowest share trained {c['worst']:.2g} over "
              f"depths {c['depths'][0]}–{c['depths'][-1]}" for c in critical]
    text = (f"training{optimizer}, a restart trains when its final loss ≤ {target:g} (the constant predictor's is "
            f"0.5): {'; '.join(parts) or '—'}")
    return {"comparisons": comparisons, "rows": rows, "plots": plots, "weak": weak, "notes": notes, "text": text}


def _condition(cells: pd.DataFrame) -> str:
    """The run's optimizer condition as far as the cells say, e.g. ``" (sgd, learning rate 0.03, 1000 steps)"``."""
    parts = []
    if "optimizer" in cells and cells["optimizer"].nunique() == 1:
        parts.append(str(cells["optimizer"].iloc[0]))
    if "p_opt_learning_rate" in cells and cells["p_opt_learning_rate"].nunique() == 1:
        parts.append(f"learning rate {cells['p_opt_learning_rate'].iloc[0]:g}")
    if "steps" in cells and cells["steps"].nunique() == 1:
        parts.append(f"{int(cells['steps'].iloc[0])} steps")
    return f" ({', '.join(parts)})" if parts else ""


def _training_plots(by_setting: dict, critical_tol: float, target: float) -> list[Plot]:
    """Share that trains against depth (every setting), and against depth in units of ξ_c (ordered ones)."""
    y_label = f"share with final loss ≤ {target:g} (95% Wilson interval)"
    # Critical settings first, so that the ordered ones, whose fall is the claim, are drawn on top.
    order = sorted(by_setting.items(), key=lambda item: (item[1][0]["xi_c"] != math.inf, item[1][0]["xi_c"]))
    by_depth, by_xi = [], []
    for setting, entries in order:
        entries = sorted(entries, key=lambda r: r["depth"])
        chi, xi = entries[0]["chi at q*"], entries[0]["xi_c"]
        kind = phase(chi, critical_tol)
        label = f"{_setting_label(setting)} ({kind}, χ = {chi:.3g})"
        shares = dict(y=[r["share trained"] for r in entries], low=[r["wilson low"] for r in entries],
                      high=[r["wilson high"] for r in entries])
        by_depth.append(Series(label, [r["depth"] for r in entries], **shares))
        if kind == "ordered":
            at = PUBLISHED_MULTIPLE * xi
            by_depth.append(Series(f"{PUBLISHED_MULTIPLE:g} ξ_c = {at:.3g} (Schoenholz et al.)", [at, at], [0.0, 1.0],
                                   kind="theory"))
            by_xi.append(Series(f"{label}, ξ_c = {xi:.3g}", [r["depth"] / xi for r in entries], **shares))
    plots = [Plot("Share of restarts that train against depth", "depth (weight layers)", y_label, by_depth,
                  x_log=True,
                  caption="Markers: each setting's share of restarts whose final loss is at most the target (the "
                          "constant predictor's loss is 0.5); where two settings share a value their markers "
                          "coincide. Dashed: Schoenholz et al.'s trainable depth, 6 ξ_c, of each ordered setting; a "
                          "critical setting's ξ_c is infinite, and it should train at every depth.")]
    if by_xi:
        # First, so that it is drawn grey rather than in a measurement's colour.
        by_xi.insert(0, Series(f"{PUBLISHED_MULTIPLE:g} ξ_c (Schoenholz et al.'s trainable depth)",
                               [PUBLISHED_MULTIPLE, PUBLISHED_MULTIPLE], [0.0, 1.0], kind="theory"))
        plots.append(Plot("Share of restarts that train against depth in units of ξ_c (ordered settings)",
                          "depth / ξ_c (ξ_c = −1/ln χ²)", y_label, by_xi, x_log=True,
                          caption="If the trainable depth is proportional to ξ_c, the ordered settings fall at the "
                                  "same depth/ξ_c although their ξ_c differ several-fold. The published multiple, "
                                  "6, belongs to their budget (it grows with training time); it is drawn, not "
                                  "compared."))
    return plots


def check(data: StudyData) -> Verdict:
    """The initialization cells' per-layer gradient ratios against mean field, and the training cells'
    share of restarts that train against depth in units of ξ_c."""
    cells = data.ok
    width = data.study.get("training_width")
    if width is None:
        return Verdict.of([], "The study sets no training_width: its training cells cannot be told apart.",
                          inconclusive="no training_width in [study]")
    training = cells["p_landscape_width"].astype(int) == int(width) if not cells.empty else pd.Series(dtype=bool)
    init = _init_ratios(data, cells[~training] if not cells.empty else cells)
    train = _training(data, cells[training] if not cells.empty else cells)
    parts = (init, train)
    summary = f"{init['text'][0].upper()}{init['text'][1:]}. {train['text'][0].upper()}{train['text'][1:]}."
    weak = [w for p in parts for w in p["weak"]]
    return Verdict.of([c for p in parts for c in p["comparisons"]], summary,
                      plots=[plot for p in parts for plot in p["plots"]],
                      numbers=[row for p in parts for row in p["rows"]],
                      inconclusive="; ".join(weak) or None, notes=[n for p in parts for n in p["notes"]])


@suite.hookimpl
def register_studies(register):
    register("vanishing_gradients", Path(__file__).with_name("vanishing_gradients.toml"), check)
