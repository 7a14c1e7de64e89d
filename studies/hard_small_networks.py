"""Study: hard small networks, the Blum–Rivest 3-node network trained from random starts.

Blum & Rivest (1992) proved that deciding whether a network of two threshold
units feeding an AND unit can fit a training set is NP-complete (Judd 1988
proved the like for loading shallow networks). That is a *worst-case*
statement about exact training over all training sets: it says nothing about
a given instance and cannot be measured by running an optimizer. What this
study measures instead is the picture the result is usually taken for, on the
``three_node`` landscape (the smooth sigmoid relaxation, on m inputs labelled
by a planted network of the same form, so f* = 0 is attainable):

* the share of restarts of a local method (Adam at a fixed step) from random
  starts that reach the planted solution, f ≤ ``target``, with its Wilson
  interval: it must be a fraction, above ``success_low`` (the solution is
  reachable in the budget) and below ``success_high`` (restarts miss it);
* the share of restarts whose end point is a non-global minimum: the Hessian
  diagnostic calls it a minimum (‖∇f‖ ≤ 1e-3, no negative eigenvalue; Dauphin
  et al., arXiv:1406.2572) and f there is at least ``spurious`` (10× the
  target, so a restart still creeping to f* is not counted), above ``stuck_low``;
* the number of distinct non-global minima per planted instance (median over
  instances), at least ``minima``.

Distinct minima are counted by their loss values, chained within
``level_tolerance``, not by the ``minima`` diagnostic's basins: the landscape
declares no symmetry, so the swap of the two hidden units makes every
minimum two basins, and end points resting in flat directions of saturated
units lie farther apart than the clustering radius although their losses
agree to < 1%. Equal losses are merged, so the count is a lower bound; the
basins are reported beside it. Shares pool the restarts of all instances
(their Wilson intervals are then for the mean over these instances, and are
conservative, since a mixture of binomials varies less than one binomial).

References:
  Blum, Rivest, "Training a 3-node neural network is NP-complete", Neural
  Networks 5(1), 1992.
  Judd, "On the complexity of loading shallow neural networks", J. Complexity
  4, 1988.
  Dauphin et al., "Identifying and attacking the saddle point problem in
  high-dimensional non-convex optimization", arXiv:1406.2572, 2014.
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

PLOT_POINTS = 129  # end losses drawn per instance (quantiles of the sorted losses)
PLOT_INSTANCES = 8  # instances drawn per setting


def distinct_levels(losses, tolerance: float) -> int:
    """Distinct values among ``losses``: sorted, a new one where a value exceeds the previous by > ``tolerance``.

    Chained (single linkage): values within ``tolerance`` of a neighbour are
    one, so the count never exceeds the number of truly distinct minima whose
    losses differ by more than that.
    """
    values = np.sort(np.asarray(losses, float)[np.isfinite(losses)])
    if values.size == 0:
        return 0
    return 1 + int(np.sum(values[1:] > values[:-1] * (1.0 + tolerance)))


def _setting_keys(cells: pd.DataFrame) -> list[str]:
    """The columns naming a landscape setting and optimizer, without its instance."""
    return [c for c in cells.columns if c.startswith(("p_landscape_", "p_opt_"))] + \
        [c for c in ("landscape", "optimizer", "optimizer_label", "wrappers") if c in cells.columns]


def _setting_label(cells: pd.DataFrame) -> str:
    row = cells.iloc[0]
    landscape = str(row.get("landscape_label", row.get("landscape", ""))).split("#")[0]
    return f"{landscape} · {row.get('optimizer_label', row.get('optimizer', ''))}"


def _instance(rows: pd.DataFrame, cell: pd.Series, hit: str, spurious: float, tolerance: float) -> dict:
    """The measured figures of one planted instance (one cell)."""
    diagnosed = rows[rows["diagnosed"].fillna(False).astype(bool)] if "diagnosed" in rows else rows.iloc[:0]
    loss = pd.to_numeric(diagnosed["final_loss"], errors="coerce").to_numpy(float)
    stuck = (diagnosed["end_class"].to_numpy() == "minimum") & (loss >= spurious)
    basins = diagnosed["basin"][stuck].dropna()
    final = pd.to_numeric(rows["final_loss"], errors="coerce").to_numpy(float)
    # End points examined that neither reached the target nor rest in a non-global minimum:
    # saddles, points still moving, or minima between the target and `spurious`.
    unresolved = ~diagnosed[hit].notna().to_numpy() & ~stuck
    return {"instance": int(cell.get("instance", 0)), "restarts": len(rows), "successes": int(rows[hit].notna().sum()),
            "diagnosed": len(diagnosed), "stuck": int(stuck.sum()), "unresolved": int(unresolved.sum()),
            "minima": distinct_levels(loss[stuck], tolerance), "stuck_basins": int(basins.nunique()),
            "lowest_spurious_loss": float(loss[stuck].min()) if stuck.any() else math.nan,
            "minima_found": cell.get("minima_found", math.nan), "basins_found": cell.get("basins_found", math.nan),
            "best_basin_share": cell.get("best_basin_share", math.nan), "final": np.sort(final)}


def _missing(data: StudyData, cells: pd.DataFrame) -> str | None:
    """Why the tables cannot show the claim (a diagnostic missing or failed), or None."""
    need = {"end_class": "hessian", "basin": "minima", "diagnosed": "minima or hessian"}
    absent = [f"{col} (diagnostic {diag})" for col, diag in need.items() if col not in data.restarts]
    if absent:
        return "the run lacks the end-point diagnostics' columns: " + ", ".join(absent)
    if "diagnostics_error" in cells:
        errors = cells["diagnostics_error"].fillna("").astype(str)
        if (errors != "").any():
            return f"the end-point diagnostics failed: {errors[errors != ''].iloc[0]}"
    return None


def _plot(label: str, found: list[dict], target: float, spurious: float) -> Plot:
    """End losses of each instance's restarts, sorted, against the target every restart would reach without minima."""
    floor = target / 1000.0
    series = []
    for m in found[:PLOT_INSTANCES]:
        final = m["final"][np.isfinite(m["final"])]
        if final.size == 0:
            continue
        q = np.linspace(0.0, 1.0, min(PLOT_POINTS, final.size))
        y = np.maximum(np.quantile(final, q, method="inverted_cdf"), floor)
        series.append(Series(f"instance {m['instance']}: end loss (measured)", q.tolist(), y.tolist()))
    series.append(Series(f"target {target:g}: every restart ends below it if all find f* = 0", [0.0, 1.0],
                         [target, target], kind="theory"))
    series.append(Series(f"{spurious:g}: a minimum at or above it is non-global", [0.0, 1.0],
                         [spurious, spurious], kind="theory"))
    return Plot("Where the restarts end", "share of restarts (sorted by end loss)", "loss f at the last step",
                series, y_log=True,
                caption=f"{label}. Each instance's restarts sorted by their end loss (losses below {floor:g} drawn at "
                        f"{floor:g}). Without local minima every restart would end below the target line; flat "
                        f"steps above the upper line are restarts resting in the same non-global minimum.")


def check(data: StudyData) -> Verdict:
    """A fraction of restarts finds the planted solution; the rest end in ≥ 2 distinct non-global minima.

    Not a test of NP-completeness, a worst-case statement over training sets:
    this measures, on random planted instances of the smooth relaxation, the
    success share of a local method and the distinct minima above f* its
    restarts end in.
    """
    target, spurious = float(data.study["target"]), float(data.study["spurious"])
    tolerance = float(data.study.get("level_tolerance", 0.05))
    tol = data.tolerance
    cells = data.ok
    missing = _missing(data, cells)
    if missing or cells.empty:
        return Verdict.of([], "The end points of the restarts were not examined, so minima cannot be counted.",
                          inconclusive=missing or "no cell finished")
    restarts = data.restarts[data.restarts["cell_id"].isin(cells["cell_id"])]
    hit = column(restarts, "step_to_target", target)
    by_cell = dict(tuple(restarts.groupby("cell_id", sort=False)))
    settings = [setting for _, setting in cells.groupby(_setting_keys(cells), sort=False, dropna=False)]
    # Two intervals per setting (the success share, the share stuck in a non-global minimum), Bonferroni.
    z = normal_quantile(float(tol["confidence"]), 2 * len(settings))
    comparisons, plots, rows, summaries, restless = [], [], [], [], []
    for setting in settings:
        label = _setting_label(setting)
        found = [_instance(by_cell[row["cell_id"]], row, hit, spurious, tolerance)
                 for _, row in setting.sort_values("instance").iterrows() if row["cell_id"] in by_cell]
        if not found:
            continue
        n = sum(m["restarts"] for m in found)
        wins = sum(m["successes"] for m in found)
        examined, stuck = sum(m["diagnosed"] for m in found), sum(m["stuck"] for m in found)
        unresolved = sum(m["unresolved"] for m in found)
        if not examined or unresolved > examined / 2:  # mostly still moving: shares of nothing settled
            restless.append(f"{label}: {unresolved} of {examined} end points examined neither reached the target "
                            "nor rest at a minimum (still moving, or at saddles): run more steps")
        s_low, s_high = wilson(wins, n, z)
        k_low, k_high = wilson(stuck, examined, z)
        minima = float(np.median([m["minima"] for m in found]))
        share = f"{wins} of {n} restarts ({wins / n:.1%})"
        comparisons += [
            Comparison.at_least(f"success share (f ≤ {target:g}), lower end of its interval, {label}", s_low,
                                tol["success_low"], note=share),
            Comparison.at_most(f"success share (f ≤ {target:g}), upper end of its interval, {label}", s_high,
                               tol["success_high"], note=share),
            Comparison.at_least(f"share ending in a non-global minimum (f ≥ {spurious:g}), lower end of its "
                                f"interval, {label}", k_low, tol["stuck_low"],
                                note=f"{stuck} of {examined} end points examined"),
            Comparison.at_least(f"distinct non-global minima per instance (median of {len(found)}), {label}",
                                minima, tol["minima"],
                                note="per instance: " + ", ".join(str(m["minima"]) for m in found)),
        ]
        plots.append(_plot(label, found, target, spurious))
        rows += [{"setting": label, **{k: v for k, v in m.items() if k != "final"},
                  "success_share": m["successes"] / m["restarts"] if m["restarts"] else math.nan,
                  "stuck_share": m["stuck"] / m["diagnosed"] if m["diagnosed"] else math.nan} for m in found]
        rows.append({"setting": label, "instance": "all", "restarts": n, "successes": wins, "diagnosed": examined,
                     "stuck": stuck, "success_share": wins / n, "success_low": s_low, "success_high": s_high,
                     "stuck_share": stuck / examined if examined else math.nan, "stuck_low": k_low,
                     "stuck_high": k_high, "minima": minima})
        lowest = min((m["lowest_spurious_loss"] for m in found if math.isfinite(m["lowest_spurious_loss"])),
                     default=math.nan)
        lowest = f", lowest {lowest:.3g}" if math.isfinite(lowest) else ""
        summaries.append(f"{label}: {share} reached the planted solution (interval [{s_low:.2f}, {s_high:.2f}]); "
                         f"{stuck} of {examined} ended in a non-global minimum (f ≥ {spurious:g}{lowest}), a median "
                         f"of {minima:g} distinct such minima per planted instance ({len(found)} instances)")
    summary = "; ".join(summaries) + "." if summaries else "No restarts finished."
    weak = None if summaries else "no restarts finished"
    return Verdict.of(comparisons, summary, plots=plots, numbers=pd.DataFrame(rows),
                      inconclusive=weak or ("; ".join(restless) if restless else None))


@suite.hookimpl
def register_studies(register):
    register("hard_small_networks", Path(__file__).with_name("hard_small_networks.toml"), check)
