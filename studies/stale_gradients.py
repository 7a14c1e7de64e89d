"""Study: the largest stable learning rate under stale gradients, ηλ < 2 sin(π/(2(2τ+1))).

Asynchronous workers on a parameter server (Dean et al. 2012, Downpour SGD)
apply gradients computed on parameters that others have since updated. With
a fixed delay τ, gradient descent on ½λx² is the difference-delay equation
x_{k+1} = x_k − ηλ x_{k−τ}, whose characteristic polynomial
z^{τ+1} − z^τ + ηλ has every root inside the unit circle iff
0 < ηλ < 2 sin(π/(2(2τ+1))) (Levin & May 1976): 2, 1, 0.618, 0.445, 0.285,
0.185, 0.095, 0.024 for τ = 0, 1, 2, 3, 5, 8, 16, 64; the bound falls ≈ π/(2τ).

The run puts the ``stale`` wrapper around gradient descent on the 1-D bowl
(λ = 1) over a grid of learning rates at each τ. A cell (τ, η) is *stable*
when the loss, at its largest over the checkpoints of the run's last half,
is below its start by more than ``margin``; *unstable* when it is above the
start by more than ``margin`` or not finite; *undecided* otherwise (a
learning rate so close to the bound that the dominant root's modulus,
1 ± O(|η − η*|/(η*τ)), has not yet moved the loss far from where it began).
The largest stable and the smallest unstable η bracket the measured
boundary, which must contain the theory value.

Dean et al. also report that Adagrad makes Downpour SGD much more robust.
That is no inequality one can state on a quadratic, so ``adagrad+stale`` at
the same delays is measured and reported (how many of a common grid of
learning rates converge, and the best final loss there) beside gradient
descent's, outside the verdict.

References:
  Dean et al., "Large scale distributed deep networks", NIPS 2012.
  Levin, May, "A note on difference-delay equations", Theor. Popul. Biol. 9, 1976.
  Lian, Huang, Li, Liu, "Asynchronous parallel stochastic gradient for
  nonconvex optimization", NIPS 2015 (the bounded-delay model).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict

TAU = "p_wrap_stale_tau"
LR = "p_opt_learning_rate"
STABLE, UNSTABLE, UNDECIDED = "stable", "unstable", "undecided"
MIN_DELAYS = 3  # fewer delays cannot show the bound falling with τ


def bound(tau: float) -> float:
    """The largest stable ηλ at delay τ: 2 sin(π/(2(2τ+1))) (Levin & May 1976)."""
    return 2.0 * math.sin(math.pi / (2.0 * (2.0 * tau + 1.0)))


def growth(curves: pd.DataFrame) -> pd.Series:
    """Per cell, the median restart's loss at its largest over the last half of the run ÷ its start.

    The loss oscillates (the dominant root is complex), so the largest over
    several late checkpoints is read rather than the last one, which may
    fall near a zero crossing. A non-finite loss (divergence) gives +inf.
    """
    if curves.empty:
        return pd.Series(dtype=float)
    loss = curves[curves["quantity"] == "loss"]
    ratios = {}
    for cell_id, curve in loss.groupby("cell_id"):
        curve = curve.sort_values("step")
        steps = curve["step"].to_numpy(float)
        values = curve["q50"].to_numpy(float)
        values = np.where(np.isnan(values), np.inf, values)
        start = values[steps == 0]
        late = values[steps >= steps.max() / 2]
        if len(start) == 0 or not np.isfinite(start[0]) or start[0] <= 0 or len(late) == 0:
            ratios[cell_id] = math.nan
            continue
        ratios[cell_id] = float(np.max(late) / start[0])
    return pd.Series(ratios, dtype=float)


def classify(ratio: float, margin: float) -> str:
    """Stable: fell by more than ``margin``; unstable: grew by more (or diverged); else undecided."""
    if math.isnan(ratio):
        return UNDECIDED
    if ratio <= 1.0 / margin:
        return STABLE
    if ratio >= margin:
        return UNSTABLE
    return UNDECIDED


def boundary(rates: np.ndarray, states: np.ndarray) -> tuple[float | None, float | None]:
    """(largest stable η, smallest unstable η); None where the grid has no such cell."""
    stable, unstable = rates[states == STABLE], rates[states == UNSTABLE]
    return (float(stable.max()) if len(stable) else None, float(unstable.min()) if len(unstable) else None)


def _labelled(data: StudyData, margin: float) -> pd.DataFrame:
    """The finished cells with τ, η, their growth ratio and their state."""
    cells = data.ok
    if TAU not in cells or LR not in cells:
        return pd.DataFrame(columns=["cell_id", "optimizer", "tau", "lr", "ratio", "state", "final"])
    ratios = growth(data.curves)
    table = pd.DataFrame({
        "cell_id": cells["cell_id"].to_numpy(),
        "optimizer": cells["optimizer"].to_numpy(),
        "tau": pd.to_numeric(cells[TAU], errors="coerce").to_numpy(float),
        "lr": cells[LR].to_numpy(float),
        "final": (cells["median_final_loss"].to_numpy(float) if "median_final_loss" in cells
                  else np.full(len(cells), math.nan)),
    })
    table = table[np.isfinite(table["tau"])]
    table["ratio"] = table["cell_id"].map(ratios).astype(float)
    table["state"] = [classify(r, margin) for r in table["ratio"]]
    return table


def _common(sgd: pd.DataFrame, other: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells of both at the learning rates both ran (equal to 1e-6 relative)."""
    mine, theirs = sgd["lr"].to_numpy(float), other["lr"].to_numpy(float)
    shared = [r for r in theirs if np.any(np.isclose(mine, r, rtol=1e-6, atol=0))]
    keep = (lambda t: t[[np.any(np.isclose(shared, r, rtol=1e-6, atol=0)) for r in t["lr"]]])
    return keep(sgd), keep(other)


def _best(cells: pd.DataFrame) -> tuple[float, float]:
    """(η, median final loss) of the cell with the lowest median final loss; NaNs when none is finite."""
    finite = cells[np.isfinite(cells["final"])]
    if finite.empty:
        return math.nan, math.nan
    row = finite.loc[finite["final"].idxmin()]
    return float(row["lr"]), float(row["final"])


def _robustness(sgd: pd.DataFrame, adagrad: pd.DataFrame) -> dict:
    """Gradient descent against Adagrad at one τ over their common learning rates (reported only)."""
    sgd, adagrad = _common(sgd, adagrad)
    row = {"common learning rates": int(len(adagrad))}
    for name, cells in (("sgd", sgd), ("adagrad", adagrad)):
        converged = cells[cells["state"] == STABLE]
        lr, final = _best(cells)
        row[f"{name}: learning rates that converged"] = int(len(converged))
        row[f"{name}: largest η that converged"] = float(converged["lr"].max()) if len(converged) else math.nan
        row[f"{name}: best η"] = lr
        row[f"{name}: best median final loss"] = final
    return row


def check(data: StudyData) -> Verdict:
    """At each τ the measured bracket [largest stable η, smallest unstable η] contains 2 sin(π/(2(2τ+1)))."""
    margin = float(data.study["margin"])
    widest = float(data.tolerance["bracket_ratio"])
    table = _labelled(data, margin)
    sgd, adagrad = table[table["optimizer"] == "sgd"], table[table["optimizer"] == "adagrad"]
    comparisons, rows, wide = [], [], []
    taus = sorted(sgd["tau"].unique())
    for tau in taus:
        mine = sgd[sgd["tau"] == tau].sort_values("lr")
        lo, hi = boundary(mine["lr"].to_numpy(float), mine["state"].to_numpy())
        theory = bound(tau)
        notes = []
        if lo is None or hi is None:
            notes.append(f"no {'stable' if lo is None else 'unstable'} learning rate on the grid")
        elif lo > hi:
            notes.append("not monotone: a stable learning rate above an unstable one")
        elif hi / lo > widest:
            wide.append(f"τ = {tau:g}: [{lo:.4g}, {hi:.4g}]")
        undecided = int((mine["state"] == UNDECIDED).sum())
        if undecided:
            notes.append(f"{undecided} undecided cell{'s' if undecided != 1 else ''}")
        comparisons.append(Comparison.bracket(f"stability boundary of ηλ at τ = {tau:g}", lo, hi, theory,
                                              note="; ".join(notes)))
        row = {"tau": int(tau), "theory bound": theory, "largest stable η": lo, "smallest unstable η": hi,
               "undecided cells": undecided, "bracket contains theory": comparisons[-1].passed}
        others = adagrad[adagrad["tau"] == tau]
        if not others.empty:
            row |= _robustness(mine, others)
        rows.append(row)

    plot = _plot(rows, taus)
    inside = sum(c.passed for c in comparisons)
    brackets = "; ".join(f"τ = {r['tau']}: [{_g(r['largest stable η'])}, {_g(r['smallest unstable η'])}] "
                         f"vs {r['theory bound']:.4g}" for r in rows)
    summary = (f"The measured stability boundary of gradient descent brackets 2 sin(π/(2(2τ+1))) at {inside} of "
               f"{len(comparisons)} delays ({brackets}).")
    summary += _robustness_summary(rows)
    weak = None
    if len(taus) < MIN_DELAYS:
        weak = f"{len(taus)} delay{'s' if len(taus) != 1 else ''}: too few to show the bound falling with τ"
    elif wide:
        weak = (f"the boundary is located only coarsely (bracket wider than ×{widest:g}) at " + ", ".join(wide))
    return Verdict.of(comparisons, summary, plots=[plot] if plot else [], numbers=pd.DataFrame(rows),
                      inconclusive=weak)


def _g(value) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _robustness_summary(rows: list[dict]) -> str:
    """Adagrad against gradient descent in words, or nothing when Adagrad did not run."""
    rows = [r for r in rows if "common learning rates" in r]
    if not rows:
        return ""

    def span(key):
        values = [float(r[key]) for r in rows if math.isfinite(r[key])]
        if not values:
            return "—"
        low, high = min(values), max(values)
        return _g(low) if low == high else f"{_g(low)}–{_g(high)}"

    return (f" Reported, not part of the verdict (Dean et al.'s robustness of Adagrad is no precise claim on a "
            f"quadratic): over the same {span('common learning rates')} learning rate(s), the largest at which "
            f"gradient descent converged (loss down by the margin) was {_g(rows[0]['sgd: largest η that converged'])} "
            f"at τ = {rows[0]['tau']} and {_g(rows[-1]['sgd: largest η that converged'])} at τ = {rows[-1]['tau']}, "
            f"Adagrad's was {span('adagrad: largest η that converged')}; they converged at "
            f"{span('sgd: learning rates that converged')} and {span('adagrad: learning rates that converged')} of "
            f"them; best median final losses: gradient descent {span('sgd: best median final loss')}, "
            f"Adagrad {span('adagrad: best median final loss')}.")


def _plot(rows: list[dict], taus: list[float]) -> Plot | None:
    """The measured bracket against the theory curve, over τ + 1 on a log axis (τ = 0 included)."""
    measured = [r for r in rows if r["largest stable η"] is not None and r["smallest unstable η"] is not None
                and r["largest stable η"] <= r["smallest unstable η"]]
    if not taus:
        return None
    dense = np.unique(np.round(np.geomspace(1, max(taus) + 1, 200) - 1, 6))
    series = [Series("2 sin(π/(2(2τ+1))) (theory)", (dense + 1).tolist(), [bound(t) for t in dense],
                     kind="theory")]
    if measured:
        series.append(Series("measured boundary (bracket)", [r["tau"] + 1.0 for r in measured],
                             [math.sqrt(r["largest stable η"] * r["smallest unstable η"]) for r in measured],
                             low=[r["largest stable η"] for r in measured],
                             high=[r["smallest unstable η"] for r in measured]))
    return Plot("Largest stable learning rate against the delay", "delay τ + 1 (steps)",
                "learning rate ηλ", series, x_log=True, y_log=True,
                caption="Line: the theory bound 2 sin(π/(2(2τ+1))). Markers: the geometric middle of the measured "
                        "bracket, its bars the largest stable and the smallest unstable learning rate on the grid; "
                        "the claim holds where every bar crosses the line.")


@suite.hookimpl
def register_studies(register):
    register("stale_gradients", Path(__file__).with_name("stale_gradients.toml"), check)
