"""Study: the bias of an L2 penalty's minimizer against λ, and the exact zeros of an L1 penalty.

On the diagonal bowl f(x) = ½(x − x*)ᵀA(x − x*), A = diag(a), minimizing
f + (λ/2)‖x‖² gives x_λ = (A + λI)⁻¹A x* (ridge regression's shrinkage), so
f(x_λ) − f* = ½ Σ aᵢ λ² x*ᵢ² / (aᵢ + λ)². Minimizing f + λ‖x‖₁ gives the
soft threshold sign(x*ᵢ) max(|x*ᵢ| − λ/aᵢ, 0) (the lasso): coordinate i is
exactly 0 when |x*ᵢ| ≤ λ/aᵢ, and f(x_λ) − f* = ½ Σ aᵢ min(|x*ᵢ|, λ/aᵢ)².
With x* ~ U[−1, 1]^d drawn per instance (the bowl's), the expectations are
E[f − f*] = (1/6) Σ aᵢ λ²/(aᵢ + λ)² (L2), E[zeros] = Σ min(1, λ/aᵢ) and
E[f − f*] = Σ ½ aᵢ (cᵢ² − ⅔cᵢ³), cᵢ = min(λ/aᵢ, 1) (L1). The run scores f
alone (the penalty is the optimizer's, not the landscape's), so the final
loss is the unpenalized f at the penalized minimizer; the L1 runs step as
OWL-QN does (``penalty:l1_mode=orthant``), so that zeros are exact and the
``sparsity`` diagnostic counts them. The check compares the mean over
instances with these expectations, within z standard errors.

References:
  Hoerl, Kennard, "Ridge regression: biased estimation for nonorthogonal problems", Technometrics, 1970.
  Tibshirani, "Regression shrinkage and selection via the lasso", JRSS B, 1996.
  Andrew, Gao, "Scalable training of L1-regularized log-linear models", ICML 2007.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict


def eigenvalues(dim: int, condition: float, spectrum: str) -> np.ndarray:
    """The bowl's Hessian eigenvalues as its documentation defines them: from 1 to κ, log- or linearly spaced."""
    if dim == 1:
        return np.ones(1)
    return np.logspace(0.0, np.log10(condition), dim) if spectrum == "log" else np.linspace(1.0, condition, dim)


def l2_excess(a: np.ndarray, lam: float) -> float:
    """E[f(x_λ) − f*] under an L2 penalty λ, for x* ~ U[−1, 1]^d (E[x*ᵢ²] = ⅓)."""
    return float(np.sum(a * lam**2 / (a + lam) ** 2) / 6.0)


def l1_zeros(a: np.ndarray, lam: float) -> float:
    """E[number of exactly-zero coordinates] under an L1 penalty λ: Σ P(|x*ᵢ| ≤ λ/aᵢ)."""
    return float(np.sum(np.minimum(1.0, lam / a)))


def l1_excess(a: np.ndarray, lam: float) -> float:
    """E[f(x_λ) − f*] under an L1 penalty λ: Σ ½aᵢ E[min(|x*ᵢ|, cᵢ)²] = Σ ½aᵢ(cᵢ² − ⅔cᵢ³)."""
    c = np.minimum(lam / a, 1.0)
    return float(np.sum(0.5 * a * (c**2 - 2.0 * c**3 / 3.0)))


def _per_instance(restarts: pd.DataFrame, column: str, by: str) -> pd.DataFrame:
    """Mean over the restarts of each instance, then mean, standard error and count over instances."""
    one = restarts.groupby([by, "instance"])[column].mean().reset_index()
    stats = one.groupby(by)[column].agg(["mean", "std", "count"])
    stats["se"] = stats["std"] / np.sqrt(stats["count"])
    return stats.reset_index()


def check(data: StudyData) -> Verdict:
    """The L2 bias and the L1 zeros match their expectations over the bowl's random minimizers."""
    z, rel = float(data.tolerance["z"]), float(data.tolerance["relative"])
    restarts = data.restarts
    restarts = restarts[restarts["cell_id"].isin(data.ok["cell_id"])]
    first = data.ok.iloc[0]
    a = eigenvalues(int(first["p_landscape_dim"]), float(first["p_landscape_condition"]),
                    str(first["p_landscape_spectrum"]))
    ridge = restarts[restarts["p_wrap_penalty_l1"] == 0]
    lasso = restarts[(restarts["p_wrap_penalty_l1"] > 0) & (restarts["p_wrap_penalty_l1_mode"] == "orthant")]
    comparisons, rows, plots = [], [], []
    parts = {
        "L2": (ridge, "p_wrap_penalty_l2", [("final_loss", "f(x_T) − f*", l2_excess)]),
        "L1": (lasso, "p_wrap_penalty_l1", [("end_zeros", "zero coordinates", l1_zeros),
                                           ("final_loss", "f(x_T) − f*", l1_excess)]),
    }
    few = []
    for name, (table, by, quantities) in parts.items():
        for column, label, theory in quantities:
            if table.empty or column not in table:
                continue
            stats = _per_instance(table, column, by)
            if stats["count"].min() < 3:
                few.append(f"{name} {label}")
            xs, means, lows, highs, curve = [], [], [], [], []
            for _, row in stats.iterrows():
                lam, expected = float(row[by]), theory(a, float(row[by]))
                comparisons.append(Comparison.within(f"{name} λ = {lam:g}: mean {label}", row["mean"], expected,
                                                     abs=z * row["se"], rel=rel,
                                                     note=f"{int(row['count'])} instances, SE {row['se']:.3g}"))
                rows.append({"penalty": name, "lambda": lam, "quantity": label, "measured mean": row["mean"],
                             "standard error": row["se"], "theory": expected, "instances": int(row["count"])})
                xs.append(lam)
                means.append(float(row["mean"]))
                lows.append(float(row["mean"] - 2 * row["se"]))
                highs.append(float(row["mean"] + 2 * row["se"]))
            grid = np.geomspace(min(xs) / 2, max(xs) * 2, 60)
            positive = label != "zero coordinates"
            plots.append(Plot(f"{name} penalty: {label} against λ", "λ", f"mean {label} over instances",
                              [Series("measured (±2 SE)", xs, means, low=lows, high=highs),
                               Series("theory: expectation over x*", grid.tolist(),
                                      [theory(a, float(v)) for v in grid], kind="theory")],
                              x_log=True, y_log=positive,
                              caption=f"Markers: the mean over instances of the {label} at the end of the run, "
                                      "with ±2 standard errors; line: the expectation over the bowl's random "
                                      "minimizer x* (the theory at every λ, not fitted)."))
    passed = sum(c.passed for c in comparisons)
    summary = (f"{passed} of {len(comparisons)} measured means within {z:g} standard errors (+{rel:.0%}) of the "
               f"theory: the L2 bias grows as ½Σaλ²x*²/(a+λ)² and L1 zeros the coordinates with |x*| ≤ λ/a.")
    weak = f"fewer than 3 instances for {', '.join(few)}: no standard error" if few else None
    return Verdict.of(comparisons, summary, plots=plots, numbers=pd.DataFrame(rows), inconclusive=weak)


@suite.hookimpl
def register_studies(register):
    register("penalties", Path(__file__).with_name("penalties.toml"), check)
