"""Study: steps to a target against the condition number, ∝ κ for gradient descent and ∝ √κ with momentum.

On f(x) = ½(x − x*)ᵀA(x − x*) with eigenvalues from μ = 1 to L = κ, gradient
descent at its best step contracts the error by (κ−1)/(κ+1) per step, heavy
ball by (√κ−1)/(√κ+1) and Nesterov's method by 1 − 1/√κ, so the steps to a
fixed accuracy grow ∝ κ and ∝ √κ (log-log slopes 1 and ½). Each method is
tuned over a grid; its steps at κ are the ERT of its best setting.

References:
  Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
  Nesterov, "Introductory Lectures on Convex Optimization", 2004, §2.1–2.2.
  Lessard, Recht, Packard, arXiv:1408.3595, 2014.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import column, loglog_slope, power_line
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

THEORY = {"sgd": 1.0, "momentum": 0.5, "nesterov": 0.5}
NAMES = {"sgd": "gradient descent", "momentum": "heavy ball", "nesterov": "Nesterov"}


def check(data: StudyData) -> Verdict:
    """Steps to the target grow ∝ κ for gradient descent and ∝ √κ for heavy ball and Nesterov."""
    target = float(data.study["target"])
    tolerance = float(data.tolerance["slope"])
    cells = data.ok
    ert = column(cells, "ert", target)
    best = (cells.groupby(["optimizer", "p_landscape_condition"])[ert].min().rename("steps").reset_index())
    comparisons, series, rows, few = [], [], [], []
    for optimizer, slope in THEORY.items():
        mine = best[best["optimizer"] == optimizer].sort_values("p_landscape_condition")
        if mine.empty:
            continue
        kappa, steps = mine["p_landscape_condition"].to_numpy(float), mine["steps"].to_numpy(float)
        measured = loglog_slope(kappa, steps)
        unsolved = int((~np.isfinite(steps)).sum())
        if len(kappa) - unsolved < 3:
            few.append(f"{NAMES[optimizer]} reached {target:g} at {len(kappa) - unsolved} condition numbers")
        note = f"{unsolved} of {len(kappa)} κ never reached {target:g}" if unsolved else ""
        comparisons.append(Comparison.within(f"log-log slope of steps against κ, {NAMES[optimizer]}",
                                             measured, slope, abs=tolerance, note=note))
        solved = np.isfinite(steps)
        series.append(Series(f"{NAMES[optimizer]}, measured", kappa[solved].tolist(), steps[solved].tolist()))
        if solved.any():
            middle = np.flatnonzero(solved)[solved.sum() // 2]
            series.append(Series(f"∝ κ^{slope:g} (theory)", kappa.tolist(),
                                 power_line(kappa, slope, kappa[middle], steps[middle]), kind="theory"))
        rows += [{"optimizer": optimizer, "condition": float(k), "steps to target": float(s)}
                 for k, s in zip(kappa, steps)]
    slopes = ", ".join(f"{NAMES[o]} {c.measured:.2f}" if c.measured is not None else f"{NAMES[o]} —"
                       for o, c in zip(THEORY, comparisons))
    plot = Plot("Steps to the target against the condition number", "condition number κ",
                f"steps to Δf ≤ {target:g} (ERT of the best setting)", series, x_log=True, y_log=True,
                caption="Markers: measured; lines: the theory's power law, drawn through the middle "
                        "measurement (only the slope is predicted).")
    # A slope from two points cannot be told from noise: every method needs three solved condition numbers.
    weak = ("fewer than three solved condition numbers: " + "; ".join(few)) if few else None
    return Verdict.of(comparisons, f"Measured log-log slopes: {slopes} (theory 1, ½, ½; tolerance "
                                   f"±{tolerance:g}).", plots=[plot], numbers=pd.DataFrame(rows),
                      inconclusive=weak)


@suite.hookimpl
def register_studies(register):
    register("ill_conditioning", Path(__file__).with_name("ill_conditioning.toml"), check)
