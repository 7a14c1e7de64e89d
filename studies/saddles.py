"""Study: Newton's method is attracted to saddles, saddle-free Newton escapes them; index grows with loss.

Dauphin et al. (2014) argue that in high dimensions the critical points with a
loss well above the minimum are saddles, whose index (fraction of negative
Hessian eigenvalues) grows with the loss, and that Newton's method, which
rescales each eigendirection by 1/λ, moves *towards* a saddle along its
negative directions, while saddle-free Newton, Δθ = −|H|⁻¹∇f, moves away.
Three measurements, from the ``hessian`` diagnostic at the end points:

* on ``saddle`` (f − f* = ½|x|² + (y² − 1)²/4, a strict saddle at the origin,
  starts with |y₀| ≤ spread): the share of Newton's restarts that end at the
  saddle, and of saddle-free Newton's that end at a minimum (theory: all);
* on ``pspin`` (spherical p-spin glass, energy per spin u): among Newton's end
  points that are critical points (‖∇u‖ small), the share that are saddles,
  and the share of saddle-free Newton's restarts ending at a minimum;
* the index of every critical end point on ``pspin`` against its energy,
  binned, against α(u) = F_sc(u/E_∞), F_sc(y) = ½ + (y√(1−y²) + arcsin y)/π,
  the curve the landscape declares (Auffinger, Ben Arous & Černý 2013; Bray &
  Dean 2007 for Gaussian fields). The theory is N → ∞; at N = 30 the index is
  a count of N − 1 eigenvalues.

The ``hessian`` diagnostic decomposes the Hessian of the loss in the N
coordinates of σ. The p-spin loss is u at the retracted point √N σ/|σ|, constant
along the radius, so at a critical point σ itself is an exact null vector and
the other N − 1 eigenvalues are those of the Riemannian (tangent) Hessian: the
index over the tangent space is ``hessian_index`` · N/(N − 1).

References:
  Dauphin, Pascanu, Gulcehre, Cho, Ganguli, Bengio, "Identifying and attacking
  the saddle point problem in high-dimensional non-convex optimization",
  NeurIPS 2014, arXiv:1406.2572.
  Auffinger, Ben Arous, Černý, "Random matrices and complexity of spin
  glasses", Comm. Pure Appl. Math. 66, 2013, arXiv:1003.1129.
  Bray, Dean, "Statistics of critical points of Gaussian fields on
  large-dimensional spaces", Phys. Rev. Lett. 98, 150201, 2007.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import declared_curve, ok_restarts
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

NEWTON, FREE = "newton", "saddle_free_newton"
NAMES = {NEWTON: "Newton", FREE: "saddle-free Newton"}


def saddle_shares(restarts: pd.DataFrame) -> pd.DataFrame:
    """Per ``saddle`` setting and optimizer: restarts examined and the shares ending at a saddle or minimum."""
    mine = restarts[(restarts["landscape"] == "saddle") & restarts["end_class"].isin(
        ["minimum", "saddle", "flat", "not converged"])]
    keys = [c for c in ("p_landscape_dim", "optimizer") if c in mine]
    rows = []
    for key, group in mine.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), "examined": len(group),
                     "at saddle": float((group["end_class"] == "saddle").mean()),
                     "at minimum": float((group["end_class"] == "minimum").mean())})
    return pd.DataFrame(rows)


def tangent_index(hessian_index, n):
    """The index over the N − 1 tangent directions of the sphere from the diagnostic's index over N coordinates.

    The loss is constant along the radius, so one of the N eigenvalues is an
    exact zero that the diagnostic counts as not negative: k negative
    eigenvalues give ``hessian_index`` = k/N and the tangent index k/(N − 1).
    """
    n = np.asarray(n, float)
    return np.asarray(hessian_index, float) * n / (n - 1)


def critical_points(restarts: pd.DataFrame, grad_tol: float) -> pd.DataFrame:
    """``pspin`` end points that are critical (‖∇u‖ ≤ ``grad_tol``), their energy and tangent index."""
    mine = restarts[(restarts["landscape"] == "pspin") & restarts["end_grad_norm"].notna()]
    mine = mine[mine["end_grad_norm"] <= grad_tol]
    return pd.DataFrame({"optimizer": mine["optimizer"].to_numpy(), "energy": mine["final_loss"].to_numpy(float),
                         "index": tangent_index(mine["hessian_index"], mine["p_landscape_n"]),
                         "n": mine["p_landscape_n"].to_numpy(int)})


def binned(points: pd.DataFrame, curve: np.ndarray, width: float, least: int) -> pd.DataFrame:
    """Mean index and mean theory α(u) of the critical points in energy bins of ``width``.

    Comparing each bin's mean index with the mean of α over the same points
    (not α at the bin's centre) removes the curve's change across the bin.
    """
    if points.empty or not len(curve):
        return pd.DataFrame(columns=["low", "high", "points", "energy", "index", "theory", "compared"])
    theory = np.interp(points["energy"], curve[:, 0], curve[:, 1])
    which = np.floor(points["energy"].to_numpy() / width).astype(int)
    rows = []
    for b in np.unique(which):
        inside = which == b
        rows.append({"low": b * width, "high": (b + 1) * width, "points": int(inside.sum()),
                     "energy": float(points["energy"][inside].mean()),
                     "index": float(points["index"][inside].mean()),
                     "index min": float(points["index"][inside].min()),
                     "index max": float(points["index"][inside].max()),
                     "theory": float(theory[inside].mean()), "compared": bool(inside.sum() >= least)})
    return pd.DataFrame(rows)


def saddle_comparisons(restarts: pd.DataFrame, bound: float) -> tuple[list, list, list]:
    """On the strict saddle: Newton's share ending at the saddle, saddle-free Newton's at a minimum.

    Returns ``(comparisons, rows for the numbers, reasons the measurement is weak)``.
    """
    comparisons, rows, weak = [], [], []
    shares = saddle_shares(restarts)
    for optimizer, kind in ((NEWTON, "at saddle"), (FREE, "at minimum")):
        mine = shares[shares["optimizer"] == optimizer] if not shares.empty else shares
        if mine.empty:
            weak.append(f"no {NAMES[optimizer]} end points on the saddle landscape")
            continue
        share = float(np.average(mine[kind], weights=mine["examined"]))
        comparisons.append(Comparison.at_least(f"saddle landscape: share of {NAMES[optimizer]}'s restarts ending "
                                               f"{kind.replace('at ', 'at a ')}", share, bound,
                                               note=f"theory 1; {int(mine['examined'].sum())} restarts"))
        rows += [{"landscape": "saddle", **r} for r in mine.to_dict("records")]
    for row in rows:  # the dimension is an integer setting, not a measurement
        if "p_landscape_dim" in row:
            row["dim"] = int(row.pop("p_landscape_dim"))
    return comparisons, rows, weak


def pspin_comparisons(restarts: pd.DataFrame, points: pd.DataFrame, bound: float, grad_tol: float,
                      least: int) -> tuple[list, list, list]:
    """On the p-spin glass: Newton's critical end points are saddles, saddle-free Newton's restarts end at minima.

    Newton's share is over its end points that are critical points (those
    that are not are no kind of critical point); saddle-free Newton's is over
    every end point examined.
    """
    comparisons, rows, weak = [], [], []
    examined_all = restarts[(restarts["landscape"] == "pspin") & restarts["end_grad_norm"].notna()]
    for optimizer in (NEWTON, FREE):
        examined = examined_all[examined_all["optimizer"] == optimizer]
        found = points[points["optimizer"] == optimizer]
        if examined.empty:
            weak.append(f"no {NAMES[optimizer]} end points on pspin")
            continue
        saddles = float((found["index"] > 0).mean()) if len(found) else math.nan
        minima = float((found["index"] == 0).sum() / len(examined))
        rows.append({"landscape": "pspin", "optimizer": optimizer, "examined": len(examined),
                     "critical": len(found), "at saddle": float((found["index"] > 0).sum() / len(examined)),
                     "at minimum": minima, "saddles among critical": saddles,
                     "mean energy": float(found["energy"].mean()) if len(found) else math.nan})
        note = f"theory 1; {len(found)} of {len(examined)} end points are critical (‖∇u‖ ≤ {grad_tol:g})"
        if optimizer == NEWTON:
            if len(found) < least:
                weak.append(f"only {len(found)} of Newton's end points on pspin are critical points")
            comparisons.append(Comparison.at_least("pspin: share of Newton's critical end points that are saddles "
                                                   "(index > 0)", saddles, bound, note=note))
        else:
            comparisons.append(Comparison.at_least("pspin: share of saddle-free Newton's restarts ending at a "
                                                   "minimum (critical, index 0)", minima, bound, note=note))
    return comparisons, rows, weak


def index_comparison(bins: pd.DataFrame, points: pd.DataFrame, tolerance: float, least: int):
    """The worst energy bin's mean index against its mean α(u); ``(comparison or None, rows, weak)``."""
    compared = bins[bins["compared"]] if not bins.empty else bins
    if compared.empty:
        return None, [], [f"no energy bin holds {least} critical points: the index curve is not measured"]
    worst = compared.loc[(compared["index"] - compared["theory"]).abs().idxmax()]
    sizes = ", ".join(str(n) for n in sorted(points["n"].unique()))
    comparison = Comparison.within(
        f"pspin: binned mean index − α(u), worst of {len(compared)} energy bins "
        f"(u ∈ [{worst['low']:.2f}, {worst['high']:.2f}))", float(worst["index"] - worst["theory"]), 0.0,
        abs=tolerance, note=f"{int(compared['points'].sum())} critical points; finite N = {sizes}")
    rows = [{"landscape": "pspin", "optimizer": "both", "energy bin": f"[{b['low']:.2f}, {b['high']:.2f})",
             "critical": b["points"], "mean energy": b["energy"], "mean index": b["index"],
             "mean α(u)": b["theory"], "compared": b["compared"]} for b in bins.to_dict("records")]
    return comparison, rows, []


def check(data: StudyData) -> Verdict:
    """Newton ends at saddles, saddle-free Newton at minima; the index of critical points follows α(u)."""
    bound, index_tol = float(data.tolerance["share"]), float(data.tolerance["index"])
    grad_tol = float(data.study["critical_grad"])
    width, least = float(data.study["bin_width"]), int(data.study["min_per_bin"])
    restarts = ok_restarts(data)
    if "end_class" not in restarts:
        return Verdict.of([], "No Hessian diagnostics in the run: nothing to classify.",
                          inconclusive="the run has no end_class column (diagnostics = [\"hessian\"] is needed)")
    points = critical_points(restarts, grad_tol)
    curve = declared_curve(data.ok[data.ok["landscape"] == "pspin"]) if "landscape" in data.ok else np.empty((0, 2))
    bins = binned(points, curve, width, least)
    on_saddle = saddle_comparisons(restarts, bound)
    on_pspin = pspin_comparisons(restarts, points, bound, grad_tol, int(data.study["min_critical"]))
    index, index_rows, index_weak = index_comparison(bins, points, index_tol, least)
    comparisons = on_saddle[0] + on_pspin[0] + ([index] if index else [])
    weak = on_saddle[2] + on_pspin[2] + index_weak + (["size tiny: too few restarts and steps to decide"]
                                                       if data.size == "tiny" else [])
    plots = [index_plot(points, bins, curve)] if len(points) or len(curve) else []
    plots += [saddle_plot(data.ok, data.curves)] if "landscape" in data.ok and "quantity" in data.curves else []
    numbers = pd.DataFrame(on_saddle[1] + on_pspin[1] + index_rows)
    return Verdict.of(comparisons, summarize(comparisons, numbers, bound, index_tol), plots=plots,
                      numbers=numbers, inconclusive="; ".join(weak) if weak else None,
                      notes=stalled_note(numbers, grad_tol))


def summarize(comparisons, numbers: pd.DataFrame, bound: float, index_tol: float) -> str:
    """The measurements in one sentence, with the numbers."""
    parts = []
    for row in _rows(numbers, "saddle"):
        kind = "the saddle" if row["optimizer"] == NEWTON else "a minimum"
        share = row["at saddle"] if row["optimizer"] == NEWTON else row["at minimum"]
        parts.append(f"{share:.0%} of {NAMES[row['optimizer']]}'s {int(row['examined'])} restarts on the strict "
                     f"saddle end at {kind}")
    for row in _rows(numbers, "pspin"):
        if row["optimizer"] == NEWTON:
            parts.append(f"on pspin {int(row['critical'])} of Newton's {int(row['examined'])} end points are "
                         f"critical points, {row['saddles among critical']:.0%} of them saddles")
        elif row["optimizer"] == FREE:
            parts.append(f"{row['at minimum']:.0%} of saddle-free Newton's {int(row['examined'])} end points are "
                         "minima")
    index = [c for c in comparisons if "α(u)" in c.quantity and c.measured is not None]
    if index:
        parts.append(f"the binned mean index misses α(u) by at most {abs(index[0].measured):.3f}")
    text = "; ".join(parts) or "nothing measured"
    return f"{text[0].upper()}{text[1:]} (bounds: shares ≥ {bound:g}; index within ±{index_tol:g})."


def _rows(numbers: pd.DataFrame, landscape: str) -> list[dict]:
    """The numbers' per-optimizer rows of ``landscape`` (not the energy bins)."""
    if numbers.empty:
        return []
    mine = numbers[(numbers["landscape"] == landscape) & numbers["optimizer"].isin([NEWTON, FREE])]
    return mine.to_dict("records")


def stalled_note(numbers: pd.DataFrame, grad_tol: float) -> list[str]:
    """Why Newton's end points on pspin that are not critical points are left out."""
    rows = [r for r in _rows(numbers, "pspin") if r["optimizer"] == NEWTON]
    if not rows or rows[0]["critical"] >= rows[0]["examined"]:
        return []
    stalled, examined = int(rows[0]["examined"] - rows[0]["critical"]), int(rows[0]["examined"])
    return [f"{stalled} of Newton's {examined} end points on pspin are not critical points (‖∇u‖ > {grad_tol:g}) "
            "and are left out: Newton's step, taken in the N coordinates of σ, sees the loss's flat radial "
            "direction and can stall where the step is purely radial, which the retraction undoes."]


def index_plot(points: pd.DataFrame, bins: pd.DataFrame, curve: np.ndarray) -> Plot:
    """Index against energy: the critical end points, their bin means and the theory curve α(u)."""
    series = []
    for optimizer in (NEWTON, FREE):
        mine = points[points["optimizer"] == optimizer]
        if len(mine):
            series.append(Series(f"{NAMES[optimizer]}'s critical end points", mine["energy"].tolist(),
                                 mine["index"].tolist()))
    if not bins.empty:
        series.append(Series("mean index per energy bin (bars: min to max)", bins["energy"].tolist(),
                             bins["index"].tolist(), low=bins["index min"].tolist(),
                             high=bins["index max"].tolist()))
    if len(curve):
        series.append(Series("α(u) = F_sc(u/E_∞), N → ∞ (theory)", curve[:, 0].tolist(), curve[:, 1].tolist(),
                             kind="theory"))
    return Plot("Index of the critical points found against their energy (p-spin)", "energy per spin u",
                "index: fraction of negative tangent Hessian eigenvalues", series,
                caption="Each marker is an end point with ‖∇u‖ below the study's threshold; its index counts the "
                        "negative eigenvalues among the N − 1 tangent directions. The dashed line is the N → ∞ "
                        "law α(u) the landscape declares: 0 at and below the threshold −E_∞, ½ at u = 0. Newton "
                        "lands on saddles near its start's energy; saddle-free Newton on minima.")


def saddle_plot(cells: pd.DataFrame, curves: pd.DataFrame) -> Plot:
    """The loss against steps on the strict saddle: Newton settles at the saddle's level, saddle-free Newton at 0."""
    mine = cells[cells["landscape"] == "saddle"]
    if "p_landscape_dim" in mine and len(mine):
        mine = mine[mine["p_landscape_dim"] == mine["p_landscape_dim"].min()]  # one picture: the smallest
    series = []
    for optimizer in (NEWTON, FREE):
        cell = mine[mine["optimizer"] == optimizer]
        if cell.empty:
            continue
        curve = curves[(curves["cell_id"] == cell["cell_id"].iloc[0]) & (curves["quantity"] == "loss")
                       & (curves["step"] >= 1)].sort_values("step")
        steps = curve["step"].tolist()
        series.append(Series(f"{NAMES[optimizer]}: median loss (bars: quartiles)", steps, curve["q50"].tolist(),
                             low=curve["q25"].tolist(), high=curve["q75"].tolist()))
        if optimizer == NEWTON:
            level = json.loads(cell["levels"].iloc[0]).get("saddle", math.nan) if "levels" in cell else math.nan
            series.append(Series("the saddle's loss (theory: Newton's end)", steps, [level] * len(steps),
                                 kind="theory"))
        else:
            series.append(Series("the minima's loss, 0 (theory: saddle-free Newton's end)", steps,
                                 [0.0] * len(steps), kind="theory"))
    caption = ("The strict saddle ½|x|² + (y² − 1)²/4 from starts with |y₀| ≤ spread: Newton reaches the "
               "saddle's loss (¼) within a few steps and stays; saddle-free Newton doubles |y| each step near "
               "the saddle and reaches a minimum (loss 0).")
    return Plot("Newton settles on the saddle, saddle-free Newton leaves it", "step", "loss f − f*", series,
                x_log=True, caption=caption)


@suite.hookimpl
def register_studies(register):
    register("saddles", Path(__file__).with_name("saddles.toml"), check)
