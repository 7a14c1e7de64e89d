"""Study: gradient descent on a spherical spin glass stalls at the threshold energy, in a band narrowing with N.

On the spherical p-spin glass (energy per spin u = H/N on |σ|² = N) the
critical points above the threshold −E_∞ = −2√((p−1)/p) are nearly all
saddles and the minima lie below it, down to the ground state −E₀
(Auffinger, Ben Arous & Černý 2013). Gradient flow from random starts relaxes
to the threshold, not the ground state, as N → ∞ (Cugliandolo & Kurchan
1993); Choromanska et al. (2015) found the same for the losses of multilayer
networks: the minima gradient descent finds lie in a band that narrows with N.

Measured: plain gradient descent at the same step η on H for every N
(learning rate η·N on u), run until it stops in a minimum, over several
coupling draws per N. The check reads

* the mean final energy at the largest N, against −E_∞ with a finite-N
  tolerance (the Hessian-edge estimate of the correction, ∝ (N − 1)^(−2/3));
  and whether it is closer to the threshold than to the ground state;
* the log-log slopes against N of the mean's distance to −E_∞ and of the
  spread (standard deviation over restarts, within each coupling draw,
  averaged over draws): both ∝ N^(−2/3) by the edge argument (Boltz, Kurchan
  & Liu 2021 find Tracy-Widom-like distributions of these energies).

At finite N descent stops *above* the threshold: the lowest Hessian
eigenvalue at an energy u fluctuates by O(N^(−2/3)) about its N → ∞ edge, and
descent stops where it first turns positive. The threshold and ground state
are the levels the landscape declares (the cells' ``levels`` column).

References:
  Choromanska, Henaff, Mathieu, Ben Arous, LeCun, "The loss surfaces of
  multilayer networks", AISTATS 2015, arXiv:1412.0233.
  Auffinger, Ben Arous, Černý, "Random matrices and complexity of spin
  glasses", Comm. Pure Appl. Math. 66, 2013, arXiv:1003.1129.
  Cugliandolo, Kurchan, Phys. Rev. Lett. 71, 173, 1993.
  Boltz, Kurchan, Liu, "Fluctuation distributions of energy minima in complex
  landscapes", Phys. Rev. Research 3, 013061, 2021, arXiv:1911.08943.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import loglog_slope, ok_restarts, power_line
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

EDGE = -2.0 / 3.0  # the Tracy-Widom scaling of the Hessian's edge: N^(−2/3)
THRESHOLD, GROUND = "threshold", "ground state"


def levels(cells: pd.DataFrame) -> dict[str, float]:
    """The threshold and ground-state energies the landscape declares (``levels`` JSON: name → value)."""
    found: dict[str, float] = {}
    for text in cells.get("levels", pd.Series(dtype=object)).dropna():
        try:
            named = json.loads(text)
        except (TypeError, ValueError):
            continue
        for name, value in named.items():
            key = THRESHOLD if name.startswith(THRESHOLD) else GROUND if name.startswith(GROUND) else None
            if key and key not in found:
                found[key] = float(value)
    return found


def read_cells(restarts: pd.DataFrame, step_on_h: float) -> pd.DataFrame:
    """The restarts whose learning rate is ``step_on_h``·N: the same step on H = N·u at every N."""
    rate = restarts["p_opt_learning_rate"].to_numpy(float) / restarts["p_landscape_n"].to_numpy(float)
    return restarts[np.isclose(rate, step_on_h, rtol=1e-6)]


def per_size(restarts: pd.DataFrame) -> pd.DataFrame:
    """Per N: the mean final energy, its spread over restarts and how many end points have converged.

    ``spread`` is the standard deviation over restarts within each coupling
    draw (instance), averaged over draws: the width of the band one landscape
    offers; ``pooled spread`` also holds the draw-to-draw differences.
    """
    rows = []
    for n, mine in restarts.groupby("p_landscape_n"):
        energy = mine["final_loss"].to_numpy(float)
        within = mine.groupby("instance")["final_loss"].std(ddof=1) if "instance" in mine else \
            pd.Series([float(np.std(energy, ddof=1))])
        examined = mine[mine["end_class"].isin(["minimum", "saddle", "flat", "not converged"])] \
            if "end_class" in mine else mine.iloc[:0]
        rows.append({"N": int(n), "restarts": len(mine), "instances": int(mine["instance"].nunique())
                     if "instance" in mine else 1,
                     "mean energy": float(np.mean(energy)), "q25": float(np.quantile(energy, 0.25)),
                     "q75": float(np.quantile(energy, 0.75)), "spread": float(within.mean()),
                     "pooled spread": float(np.std(energy, ddof=1)) if len(energy) > 1 else math.nan,
                     "examined": len(examined),
                     "converged": float((examined["end_class"] != "not converged").mean()) if len(examined)
                     else math.nan,
                     "minima": float((examined["end_class"] == "minimum").mean()) if len(examined) else math.nan})
    return pd.DataFrame(rows)


def below_note(table: pd.DataFrame) -> str:
    """Which N have a mean at or below the threshold: they have no distance above it, and leave the fit."""
    below = table.loc[~(table["above threshold"] > 0), "N"]
    if below.empty:
        return "theory −2/3 (Hessian edge)"
    return (f"mean at or below the threshold at N = {', '.join(str(int(n)) for n in below)}: left out of the fit "
            "(the edge argument puts it above)")


def check(data: StudyData) -> Verdict:
    """Mean final energy near −E_∞ at the largest N, and the band's distance and width ∝ N^(−2/3)."""
    coefficient, slope_tol = float(data.tolerance["energy"]), float(data.tolerance["slope"])
    step_on_h, least = float(data.study["step_on_h"]), float(data.study["min_converged"])
    cells = data.ok[data.ok["landscape"] == "pspin"] if "landscape" in data.ok else data.ok
    known = levels(cells)
    restarts = ok_restarts(data)
    restarts = read_cells(restarts[restarts["landscape"] == "pspin"], step_on_h) if len(restarts) else restarts
    if THRESHOLD not in known or GROUND not in known or restarts.empty:
        return Verdict.of([], "No p-spin cells at learning rate step_on_h·N with the landscape's levels.",
                          inconclusive="nothing to measure: no p-spin restarts at learning rate "
                                       f"{step_on_h:g}·N, or no threshold and ground-state levels")
    threshold, ground = known[THRESHOLD], known[GROUND]
    table = per_size(restarts).sort_values("N")
    table["above threshold"] = table["mean energy"] - threshold
    sizes, top = table["N"].to_numpy(float), table.iloc[-1]
    band = coefficient * (top["N"] - 1) ** EDGE
    gap_slope = loglog_slope(sizes, table["above threshold"])
    spread_slope = loglog_slope(sizes, table["spread"])
    comparisons = [
        Comparison.within(f"mean final energy per spin at the largest N = {int(top['N'])}", top["mean energy"],
                          threshold, abs=band,
                          note=f"−E_∞ ± {coefficient:g}·(N − 1)^(−2/3): the finite-N correction"),
        Comparison.at_least(f"mean final energy at N = {int(top['N'])}: above the midpoint between ground state "
                            "and threshold (closer to the threshold)", top["mean energy"], (threshold + ground) / 2,
                            note=f"ground state {ground:g}, threshold {threshold:g}"),
        Comparison.within("log-log slope against N of the mean energy's distance above −E_∞", gap_slope, EDGE,
                          abs=slope_tol, note=below_note(table)),
        Comparison.within("log-log slope against N of the spread of final energies (std over restarts)",
                          spread_slope, EDGE, abs=slope_tol, note="theory −2/3 (Hessian edge); negative: narrows"),
    ]
    weak = []
    if len(table) < 3:
        weak.append("fewer than three N: a slope from two points cannot be told from noise")
    slow = table[~(table["converged"] >= least)]
    if len(slow):
        weak.append(f"gradient descent had not stopped (‖∇u‖ > 1e-3) in more than {1 - least:.0%} of the "
                    f"examined end points at N = {', '.join(str(int(n)) for n in slow['N'])}: the energies are "
                    "not those of minima")
    if data.size == "tiny":
        weak.append("size tiny: too few restarts and steps to decide")
    summary = (f"Mean final energy per spin at N = {int(top['N'])}: {top['mean energy']:.4f}, "
               f"{top['above threshold']:+.4f} from the threshold {threshold:.5f} (tolerance ±{band:.3f}), ground "
               f"state {ground:.5f}; from N = {int(sizes[0])} to {int(sizes[-1])} the distance above the threshold "
               f"falls with slope {gap_slope:.2f} and the spread over restarts ({table['spread'].iloc[0]:.3f} → "
               f"{table['spread'].iloc[-1]:.3f}) with slope {spread_slope:.2f} (theory −2/3 ± {slope_tol:g}).")
    return Verdict.of(comparisons, summary, plots=plots(table, threshold, ground), numbers=table,
                      inconclusive="; ".join(weak) if weak else None)


def plots(table: pd.DataFrame, threshold: float, ground: float) -> list[Plot]:
    """Energy against N with the threshold and ground state; distance and spread against N, log-log."""
    sizes = table["N"].tolist()
    # The ground state first (a grey line); the threshold after the measurement, in its colour.
    energy = Plot("Final energy per spin of gradient descent against N", "number of spins N",
                  "energy per spin u at the end",
                  [Series(f"ground state −E₀ = {ground:.5f} (theory, N → ∞)", sizes, [ground] * len(sizes),
                          kind="theory"),
                   Series("mean final energy (bars: quartiles over restarts)", sizes, table["mean energy"].tolist(),
                          low=table["q25"].tolist(), high=table["q75"].tolist()),
                   Series(f"threshold −E_∞ = {threshold:.5f} (theory, N → ∞)", sizes, [threshold] * len(sizes),
                          kind="theory")],
                  x_log=True,
                  caption="Markers: the mean final energy over restarts and coupling draws, with its quartiles. "
                          "Dashed: the N → ∞ threshold, where gradient flow stalls, and the ground state below it. "
                          "The claim: the markers approach the threshold, not the ground state.")
    series = []
    middle = len(sizes) // 2
    for label, column in (("distance of the mean above −E_∞", "above threshold"),
                          ("spread: std of final energies over restarts", "spread")):
        values = table[column].to_numpy(float)
        series.append(Series(label, sizes, values.tolist()))
        if np.isfinite(values[middle]) and values[middle] > 0:
            series.append(Series("∝ N^(−2/3) (theory: Hessian edge)", sizes,
                                 power_line(sizes, EDGE, sizes[middle], values[middle]), kind="theory"))
    scaling = Plot("Finite-N corrections: distance to the threshold and spread against N", "number of spins N",
                   "energy per spin", series, x_log=True, y_log=True,
                   caption="Markers: measured; dashed: the N^(−2/3) law drawn through the middle N (only the "
                           "slope is predicted). Both fall: the band of energies narrows toward the threshold.")
    return [energy, scaling]


@suite.hookimpl
def register_studies(register):
    register("spin_glass", Path(__file__).with_name("spin_glass.toml"), check)
