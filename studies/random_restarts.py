"""Study: random restarts against local minima, best of k succeeding with 1 − (1 − p)^k, priced by ERT.

Rastrigin's function f(x) = Σ [x_i² − 10 cos(2π x_i)] + 10d has 11^d local
minima in [−5.12, 5.12]^d (Rastrigin 1974; Mühlenbein et al. 1991); gradient
descent from a uniform start ends in the minimum whose basin holds the start,
so one restart finds the global minimum with some probability p. Restarts
start from independent points, so the best of k of them succeeds with
probability 1 − (1 − p)^k, and restarting until a success costs, in
expectation, COCO's expected running time

  ERT = (steps of all restarts, each counted to its first hit) / (successes)
      = (mean steps per restart) / p̂

(Hansen et al., arXiv:1603.08785; the estimator: arXiv:1605.03560, §3).

The check measures p̂ as the share of a cell's restarts that reached the
study's target, then splits the restarts (in index order) into disjoint
groups of k = 2, 4, 8, ... (as long as at least ``min_groups`` groups are
left), so the groups are independent, and counts the groups in which some
restart succeeded. Where 1 − (1 − p̂)^k exceeds ``saturation`` every group
succeeds whether restarts are independent or not, so those k are drawn but
not compared. Each such rate must hold 1 − (1 − p̂)^k inside its Wilson
interval, Bonferroni-corrected over every k and cell compared. Against the
alternative of dependent restarts (all restarts of a group alike) the rate
would stay near p̂, far below the curve. The cells table's ERT must equal the
restarts table's mean steps per restart over p̂.

References:
  Rastrigin, "Systems of extremal control", 1974.
  Mühlenbein, Schomisch, Born, "The parallel genetic algorithm as function
  optimizer", Parallel Computing 17, 1991.
  Hansen et al., "COCO: a platform for comparing continuous optimizers in a
  black-box setting", arXiv:1603.08785, 2016.
  Hansen et al., "COCO: performance assessment", arXiv:1605.03560, 2016, §3.
  Wilson, "Probable inference, the law of succession, and statistical
  inference", J. Am. Stat. Assoc. 22, 1927.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

import suite
from suite.studies._common import column, normal_quantile, wilson
from suite.verdict import Comparison, Plot, Series, StudyData, Verdict


def best_of_k(success: np.ndarray, k: int) -> tuple[int, int]:
    """``(groups, groups with a success)`` of ``success`` cut into disjoint consecutive groups of ``k``.

    The last, incomplete group is left out: every group holds exactly k restarts.
    """
    groups = len(success) // k
    if groups == 0:
        return 0, 0
    hit = np.asarray(success[:groups * k], bool).reshape(groups, k).any(axis=1)
    return groups, int(hit.sum())


def restart_law(p: float, k) -> np.ndarray:
    """1 − (1 − p)^k: the chance that at least one of k independent restarts succeeds."""
    return 1.0 - (1.0 - p) ** np.asarray(k, float)


def ks_for(n: int, min_groups: int) -> list[int]:
    """k = 1, 2, 4, ... while n restarts still make at least ``min_groups`` groups of k."""
    ks, k = [], 1
    while n // k >= min_groups:
        ks.append(k)
        k *= 2
    return ks


def _compared(p: float, k: int, saturation: float) -> bool:
    """Whether the best-of-k rate is compared: k ≥ 2 and the law below ``saturation`` (else all groups win)."""
    return k > 1 and float(restart_law(p, k)) <= saturation


def _cell(rows: pd.DataFrame, hit: str, min_groups: int) -> dict:
    """The restarts of one cell: p̂, mean steps, ERT from the rows, and the best-of-k counts."""
    rows = rows.sort_values("restart")
    hits = pd.to_numeric(rows[hit], errors="coerce").to_numpy(float)
    success = np.isfinite(hits)
    # COCO counts a success up to its first hit and a failure for every step it ran.
    used = np.where(success, hits, pd.to_numeric(rows["steps"]).to_numpy(float))
    n, s = len(rows), int(success.sum())
    return {"n": n, "successes": s, "p": s / n if n else math.nan, "mean_steps": float(used.mean()) if n else math.nan,
            "ert": float(used.sum() / s) if s else math.inf,
            "k": [(k, *best_of_k(success, k)) for k in ks_for(n, min_groups)]}


def _rates(m: dict, z: float) -> list[tuple]:
    """``(k, groups, groups won, rate, Wilson low, high, 1 − (1 − p̂)^k)`` at each k of cell ``m``."""
    return [(k, groups, won, won / groups, *wilson(won, groups, z), float(restart_law(m["p"], k)))
            for k, groups, won in m["k"]]


def _label(cells: pd.DataFrame, cell_id, *, optimizer: bool = True) -> str:
    """``landscape · optimizer`` of a cell, as its labels read (the landscape alone without ``optimizer``)."""
    row = cells[cells["cell_id"] == cell_id]
    if row.empty:
        return str(cell_id)
    row = row.iloc[0]
    landscape = str(row.get("landscape_label", row.get("landscape", cell_id)))
    return f"{landscape} · {row.get('optimizer_label', '')}".strip(" ·") if optimizer else landscape


def check(data: StudyData) -> Verdict:
    """Best-of-k success follows 1 − (1 − p̂)^k at every k measured, and ERT = mean steps per restart / p̂."""
    target = float(data.study["target"])
    min_groups = int(data.study.get("min_groups", 16))
    min_outcomes = int(data.study.get("min_outcomes", 10))
    saturation = float(data.study.get("saturation", 0.99))
    confidence = float(data.tolerance["confidence"])
    ert_rel = float(data.tolerance["ert_rel"])
    cells = data.ok
    restarts = data.restarts[data.restarts["cell_id"].isin(cells["cell_id"])]
    hit, ert_column = column(restarts, "step_to_target", target), column(cells, "ert", target)
    measured = {cid: _cell(rows, hit, min_groups) for cid, rows in restarts.groupby("cell_id", sort=False)}
    # Bonferroni over every best-of-k rate compared: k = 1 is p̂ itself, nothing to compare, and where
    # the law is above `saturation` every group succeeds under it and under the alternative alike.
    compared = sum(1 for m in measured.values() for k, _, _ in m["k"] if _compared(m["p"], k, saturation))
    z = normal_quantile(confidence, compared)
    comparisons, series, rows, weak = [], [], [], []
    for cid, m in measured.items():
        label = _label(cells, cid)
        p = m["p"]
        if min(m["successes"], m["n"] - m["successes"]) < min_outcomes:
            weak.append(f"{label}: {m['successes']} successes in {m['n']} restarts")
        measured_k = _rates(m, z)
        for k, groups, won, rate, low, high, theory in measured_k:
            rows.append({"cell": label, "quantity": "best-of-k success", "k": k, "groups": groups,
                         "value": rate, "low": low, "high": high, "theory": theory})
            if _compared(p, k, saturation):
                comparisons.append(Comparison.bracket(f"best of {k} restarts succeeds, {label}", low, high, theory,
                                                      note=f"{won} of {groups} groups"))
        if measured_k:
            ks, _, _, rates, lows, highs, _ = map(list, zip(*measured_k))
            series.append(Series(f"{_label(cells, cid, optimizer=False)}: measured", ks, rates, low=lows, high=highs))
            grid = np.unique(np.round(np.geomspace(1, ks[-1], 60), 6))
            series.append(Series(f"1 − (1 − p̂)^k, p̂ = {p:.3g}", grid.tolist(), restart_law(p, grid).tolist(),
                                 kind="theory"))
        core = cells.loc[cells["cell_id"] == cid, ert_column]
        core_ert = float(core.iloc[0]) if len(core) else math.nan
        implied = m["mean_steps"] / p if p > 0 else math.inf
        if math.isfinite(implied):
            comparisons.append(Comparison.within(f"ERT (cells table) against mean steps per restart / p̂, {label}",
                                                 core_ert, implied, rel=ert_rel))
        rows += [{"cell": label, "quantity": name, "k": math.nan, "groups": math.nan, "value": value,
                  "low": math.nan, "high": math.nan, "theory": math.nan}
                 for name, value in (("restarts", m["n"]), ("successes", m["successes"]), ("single-restart p̂", p),
                                     ("mean steps per restart", m["mean_steps"]), ("ERT (cells table)", core_ert),
                                     ("mean steps / p̂", implied), ("restarts per success 1/p̂", 1 / p if p else math.inf))]
    plot = Plot("Best of k random restarts against independence", "restarts k (best of k)",
                f"share of groups of k reaching f − f* ≤ {target:g}", series, x_log=True,
                caption="Markers: the share of disjoint groups of k restarts in which some restart reached the "
                        f"target, with Wilson intervals ({confidence:.0%} over all k together, Bonferroni); lines: "
                        "1 − (1 − p̂)^k with p̂ the single-restart success. Dependent restarts would stay near p̂.")
    passed = sum(c.passed for c in comparisons if c.quantity.startswith("best of"))
    ps = ", ".join(f"{_label(cells, cid)} p̂ = {m['p']:.3g}, ERT = {m['ert']:.4g} steps "
                   f"({m['mean_steps']:.3g} steps per restart / p̂)" for cid, m in measured.items())
    summary = (f"Best-of-k success inside the Wilson interval of 1 − (1 − p̂)^k at {passed} of {compared} (cell, k) "
               f"compared ({confidence:.0%} family-wise); {ps}.")
    inconclusive = None
    if not measured:
        inconclusive = "no restarts finished"
    elif weak:
        inconclusive = ("too few successes or failures for p̂ to mean anything (at least "
                        f"{min_outcomes} of each needed): " + "; ".join(weak))
    elif compared == 0:
        inconclusive = (f"no k ≥ 2 to compare: fewer than {min_groups} groups of 2 restarts, or "
                        f"1 − (1 − p̂)² above {saturation:g} already")
    # A statistical test, read as one: say how often it fails when the claim holds.
    notes = [f"The intervals cover the law together with probability {confidence:.0%} when restarts are "
             f"independent: a true claim fails this test in about {1 - confidence:.0%} of seeds or fewer (the "
             "Bonferroni correction is conservative), so one interval missed by a hair is weak evidence "
             "against it; the numbers table has every interval."]
    return Verdict.of(comparisons, summary, plots=[plot], numbers=pd.DataFrame(rows), inconclusive=inconclusive,
                      notes=notes)


@suite.hookimpl
def register_studies(register):
    register("random_restarts", Path(__file__).with_name("random_restarts.toml"), check)
