"""Study: plateaus of deep linear networks, whose length grows with depth from small starts only.

On f = ½‖T − W_L⋯W_1‖²_F a balanced (decoupled) start keeps every mode of the
product on the scalar chain τ du/dt = L u^{2−2/L}(s − u), τ = 1/η (Saxe et al.
2014, eq. 7 and §3), so the steps from u₀ to u_f are

    t = (τ/L) ∫_{u₀}^{u_f} du / (u^{2−2/L}(s − u)),

which the check integrates itself (width-1 balanced cells; REFERENCES.md gives
2100, 3512, 7176, 10564 steps for L = 2, 3, 5, 10 at s = 3, u₀ = 1e-3,
η = 1e-3, u_f = 0.99 s). With the product u₀ held fixed the time stays
bounded in L; with a fixed per-layer scale a, u₀ = a^L and it grows without
bound. Random starts of square layers test the same claim without the exact
theory: from small Gaussian layers the plateau grows with depth, from random
orthogonal layers (the product orthogonal, "dynamical isometry") it does not.
Half of the Haar-orthogonal starts have det(W_L⋯W_1) of the other sign than
det T; the product then has to pass a rank-deficient point, which for L ≥ 3 is
a saddle with no negative curvature, and such starts may never finish (Arora
et al. 2019 on the deficiency margin): the check reports how many reached the
final target.

References:
  Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of
  learning in deep linear neural networks", arXiv:1312.6120, ICLR 2014.
  Arora, Cohen, Golowich, Hu, "A convergence analysis of gradient descent for
  deep linear neural networks", arXiv:1810.02281, ICLR 2019.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import censored_median, column, ok_restarts
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

_POINTS = 20001  # Simpson nodes of the chain integral in ln u (relative error below 1e-9 here)


def chain_steps(depth: float, strength: float, u0: float, uf: float, learning_rate: float) -> float:
    """Steps of gradient flow (τ = 1/η) along the balanced chain from u₀ to u_f (Saxe et al. 2014).

    t = (1/(ηL)) ∫_{u₀}^{u_f} du / (u^{2−2/L}(s − u)), integrated by Simpson's
    rule in x = ln u, where the integrand e^{x(2/L − 1)}/(s − eˣ) is smooth for
    0 < u₀ ≤ u_f < s. Zero when the start is already past u_f.
    """
    if not 0 < u0 < uf < strength:
        if 0 < uf <= u0:
            return 0.0
        raise ValueError(f"chain_steps needs 0 < u0 < uf < strength; got u0={u0}, uf={uf}, strength={strength}")
    x = np.linspace(math.log(u0), math.log(uf), _POINTS)
    f = np.exp(x * (2.0 / depth - 1.0)) / (strength - np.exp(x))
    weights = np.ones(_POINTS)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    integral = (x[1] - x[0]) / 3.0 * float(weights @ f)
    return integral / (learning_rate * depth)


def chain_end(strength: float, target: float) -> float:
    """u_f at which the chain's loss ½(s − u)² first reaches ``target`` from below."""
    return strength - math.sqrt(2.0 * target)


def _medians(cells: pd.DataFrame, restarts: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per cell: median steps to ``target`` over restarts (censored at the budget), quartiles, share reached."""
    steps_col = column(restarts, "step_to_target", target)
    rows = []
    for cell in cells.itertuples(index=False):
        mine = restarts.loc[restarts["cell_id"] == cell.cell_id, steps_col]
        values = np.asarray(pd.to_numeric(mine, errors="coerce"), float)
        budget = float(cell.steps)
        median, bound = censored_median(values, budget)
        filled = np.where(np.isfinite(values), values, budget)
        rows.append({"cell_id": cell.cell_id, "init": cell.p_landscape_init, "width": int(cell.p_landscape_width),
                     "depth": int(cell.p_landscape_depth), "scale": float(cell.p_landscape_scale),
                     "strength": float(cell.p_landscape_strength), "learning_rate": float(cell.p_opt_learning_rate),
                     "target": target, "steps": median, "lower_bound": bound,
                     "q25": float(np.quantile(filled, 0.25)) if filled.size else math.nan,
                     "q75": float(np.quantile(filled, 0.75)) if filled.size else math.nan,
                     "reached": float(np.isfinite(values).mean()) if values.size else math.nan,
                     "restarts": int(values.size), "budget": budget})
    return pd.DataFrame(rows)


def _chain_series(balanced: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The width-1 balanced cells split into series: a product u₀ shared by several depths, or u₀ = a^L."""
    shared = balanced.groupby("scale")["depth"].transform("nunique") > 1
    series = {}
    for scale, group in balanced[shared].groupby("scale"):
        series[f"balanced, product u₀ = {scale:g}"] = group.sort_values("depth")
    rest = balanced[~shared].assign(per_layer=lambda d: (d["scale"] ** (1.0 / d["depth"])).round(6))
    for a, group in rest.groupby("per_layer"):
        series[f"balanced, per-layer scale a = {a:g} (u₀ = a^L)"] = group.sort_values("depth")
    return series


def _ratio(group: pd.DataFrame) -> tuple[float, str, int, int]:
    """Median steps at the deepest over the shallowest depth, and which side of it is a bound.

    Returns ``(ratio, kind, deepest, shallowest)``; ``kind`` is ``exact``,
    ``lower`` (the deepest was censored), ``upper`` (the shallowest was) or
    ``none`` (both).
    """
    group = group.sort_values("depth")
    low, high = group.iloc[0], group.iloc[-1]
    kind = {(False, False): "exact", (True, False): "lower", (False, True): "upper",
            (True, True): "none"}[(bool(high["lower_bound"]), bool(low["lower_bound"]))]
    return float(high["steps"] / low["steps"]), kind, int(high["depth"]), int(low["depth"])


def check(data: StudyData) -> Verdict:
    """Balanced chains against the flow integral; small random starts grow with depth, orthogonal ones do not."""
    target, escape = float(data.study["target"]), float(data.study["escape_target"])
    tol = data.tolerance
    rel, growth_min, bounded_max = float(tol["steps_rel"]), float(tol["growth_min"]), float(tol["bounded_max"])
    cells, restarts = data.ok, ok_restarts(data)
    if cells.empty:
        return Verdict.of([], "No cell finished: nothing was measured.", inconclusive="no finished cells")
    comparisons, notes, weak, plots = [], [], [], []

    fine = _medians(cells, restarts, target)
    chain = fine[(fine["init"] == "balanced") & (fine["width"] == 1)].copy()
    if (fine["init"].eq("balanced") & fine["width"].ne(1)).any():
        notes.append("balanced cells wider than 1 are not compared: their loss sums several chains")
    chain["theory"] = [chain_steps(r.depth, r.strength, r.scale, chain_end(r.strength, target), r.learning_rate)
                       for r in chain.itertuples()]
    chain_plot = []
    for label, group in _chain_series(chain).items():
        for r in group.itertuples():
            note = "never reached in the budget: the measured steps are a lower bound" if r.lower_bound else ""
            comparisons.append(Comparison.within(f"steps to Δf ≤ {target:g}, L = {r.depth}, {label}",
                                                 r.steps, r.theory, rel=rel, note=note))
        chain_plot.append(Series(f"{label}, measured", group["depth"].tolist(), group["steps"].tolist()))
        depths = np.arange(group["depth"].min(), group["depth"].max() + 1)
        first = group.iloc[0]
        if label.startswith("balanced, product"):
            u0 = np.full(depths.size, first["scale"])
        else:
            u0 = (first["scale"] ** (1.0 / first["depth"])) ** depths
        theory = [chain_steps(L, first["strength"], u, chain_end(first["strength"], target), first["learning_rate"])
                  for L, u in zip(depths, u0)]
        chain_plot.append(Series(f"{label}, theory", depths.tolist(), theory, kind="theory"))
    if chain.empty:
        weak.append("no width-1 balanced cells: nothing to compare with the chain's theory")
    else:
        plots.append(Plot(f"Steps to Δf ≤ {target:g} against depth, balanced scalar chain (s = "
                          f"{chain['strength'].iloc[0]:g}, η = {chain['learning_rate'].iloc[0]:g})",
                          "depth L", "steps of gradient descent", chain_plot, y_log=True,
                          caption="Markers: measured steps of gradient descent; lines: the gradient-flow "
                                  "integral t = (τ/L)∫du/(u^{2−2/L}(s − u)) (no free constant). With the product "
                                  "u₀ fixed the time saturates in L; with a fixed per-layer scale (u₀ = a^L) it "
                                  "grows without bound."))

    plateau = _medians(cells, restarts, escape)
    random_plot, ratios = [], {}
    for init, bound, name in (("small", growth_min, "small random"), ("orthogonal", bounded_max, "random orthogonal")):
        group = plateau[plateau["init"] == init].sort_values("depth")
        if group["depth"].nunique() < 2:
            weak.append(f"fewer than two depths of {name} starts: no growth to measure")
            continue
        ratio, kind, deep, shallow = _ratio(group)
        ratios[init] = (ratio, kind)
        quantity = f"plateau (median steps to Δf ≤ {escape:g}) at L = {deep} over L = {shallow}, {name} start"
        if init == "small":
            comparisons.append(Comparison.at_least(quantity, ratio, bound, note={
                "exact": "", "lower": "the deepest never reached it in the budget: the ratio is a lower bound"}.get(
                kind, "the shallowest was censored: the ratio is not bounded below")))
            if kind in ("upper", "none"):
                weak.append(f"the {name} start at L = {shallow} did not reach Δf ≤ {escape:g} in the budget")
        else:
            comparisons.append(Comparison.at_most(quantity, ratio, bound, note={
                "exact": "", "upper": "the shallowest never reached it in the budget: the ratio is an upper bound"}.get(
                kind, "the deepest was censored: the ratio is only a lower bound")))
            if kind == "none" or (kind == "lower" and ratio <= bound):
                weak.append(f"the {name} start at L = {deep} did not reach Δf ≤ {escape:g} in the budget")
        random_plot.append(Series(f"{name} (width {group['width'].iloc[0]}), median", group["depth"].tolist(),
                                  group["steps"].tolist(), low=group["q25"].tolist(), high=group["q75"].tolist()))
        # Orthogonal starts whose product has the other determinant sign than the teacher's must pass a
        # rank-deficient product to finish: say how many never did (the fine target; "share reached").
        stalled = fine[(fine["init"] == init) & (fine["reached"] < 1)] if init == "orthogonal" else fine[:0]
        for r in stalled.itertuples():
            notes.append(f"{name}, L = {r.depth}: {round((1 - r.reached) * r.restarts)} of {r.restarts} restarts "
                         f"never reached Δf ≤ {target:g} in {r.budget:g} steps (half the Haar-orthogonal starts "
                         f"have det(W_L⋯W_1) of the other sign than det T and must pass a rank-deficient saddle)")
    if random_plot:
        plots.append(Plot(f"The first plateau against depth, random starts (steps to Δf ≤ {escape:g})", "depth L",
                          "steps of gradient descent (median, bars: quartiles)", random_plot, y_log=True,
                          caption="Median over restarts, bars from the first to the third quartile; a restart that "
                                  "never got there counts as the whole budget. No exact theory: small Gaussian "
                                  "layers should climb with depth, orthogonal ones should not."))

    numbers = pd.concat([chain.assign(theory=chain["theory"]), plateau[plateau["init"] != "balanced"],
                         fine[fine["init"] != "balanced"]], ignore_index=True)
    numbers = numbers.drop(columns=["cell_id"]).rename(columns={"steps": "median steps", "reached": "share reached"})
    chain_text = "; ".join(f"{label}: " + ", ".join(
        f"L={r.depth} {r.steps:.0f} vs {r.theory:.0f}" for r in group.itertuples())
        for label, group in _chain_series(chain).items()) if not chain.empty else "no balanced chain"
    ratio_text = ", ".join(f"{'small' if k == 'small' else 'orthogonal'} ×{v:.2g}"
                           + (" (lower bound)" if kind == "lower" else " (upper bound)" if kind == "upper" else "")
                           for k, (v, kind) in ratios.items())
    summary = (f"Balanced chain, measured vs theory steps (±{rel:.0%}): {chain_text}. Plateau growth from the "
               f"shallowest to the deepest random start: {ratio_text or '—'} (small ≥ {growth_min:g}, "
               f"orthogonal ≤ {bounded_max:g}).")
    return Verdict.of(comparisons, summary, plots=plots, numbers=numbers,
                      inconclusive="; ".join(weak) or None, notes=notes)


@suite.hookimpl
def register_studies(register):
    register("deep_linear_plateaus", Path(__file__).with_name("deep_linear_plateaus.toml"), check)
