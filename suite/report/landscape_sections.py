"""The built-in per-landscape report sections (scope ``landscape``), registered by :mod:`suite.report.sections`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite import metrics
from suite.metrics import TIE_LEVEL, finite_or_inf, selection_order
from suite.report.blocks import Figure, Note, Table, Text
from suite.report.data import ECDF_SAMPLES, Report
from suite.report.figures import LossScale, legend, new, plain, seconds_axis, step_grid
from suite.report.text import _count, _ert_text, _p_text, _pct, _share


def _landscape_figure(report: Report, landscape: str, fig, entries, caption: str) -> Figure:
    """A landscape's figure with its legend, flagged when it measures from a reference f*."""
    legend(fig, report.colors, list(entries))
    return Figure(fig, caption=caption, flags=report.flags([landscape]))


def landscape_table(report: Report, landscape: str):
    """The landscape's leaderboard: each entry at its selected setting, with ERT intervals."""
    name = landscape.split("(")[0]
    if report.landscape_cells(landscape).empty:
        yield Note("No cell finished on this landscape; see 'Failures' for why.", kind="warning")
        return
    info = report.f_star(landscape)
    doc = report.plan.get("components", {}).get("landscapes", {}).get(name, {}).get("doc", "")
    if doc:
        yield Text(doc)
    levels = ", ".join(f"{k} = {v:.6g}" for k, v in info["levels"].items())
    yield Text({"exact": f"f* = {info['f_opt']:.6g} (exact).",
                "reference": f"f* = {info['f_opt']:.6g} is a reference value.",
                "unknown": "f* is unknown; Δf is measured from 0."}[info["kind"]]
               + (f" Reference levels: {levels}." if levels else ""))
    if report.f_star_flag(landscape) and info["kind"] == "reference":
        yield Note(report.f_star_flag(landscape))
    if report.warning(landscape):
        yield Note(f"WARNING: {report.warning(landscape)}. The table shows Δf as measured (negative "
                   f"where the loss went below f*); figures draw it at their log-axis floor.", kind="warning")
    if landscape in report.mismatch:
        yield Note(f"MISMATCH: {report.mismatch[landscape]}. The runs compared here did not measure their entries "
                   f"alike on this landscape: their ranks do not compare like with like.", kind="warning")
    verdict = report.verdict_note(landscape)
    if verdict:
        yield Note(verdict, kind="warning")
    at = report.ranked_at(landscape)
    label = at["label"]
    scale = LossScale(info)
    rows = []
    for _, row in report.selected(landscape).iterrows():
        ert = float(row[f"ert_{label}"])
        below = report.below_resolution(landscape, label)
        low, high = report.ert_interval(row["cell_id"], label) if not below else (np.nan, np.nan)
        restarts = report.cell_restarts(row["cell_id"])
        # Real Δf (negative below f*), diverged restarts as +∞: nothing clamped in a table.
        final = metrics.quantiles(scale.values(restarts["final_loss"].to_numpy()), [0.1, 0.5, 0.9])
        best = metrics.quantiles(scale.values(restarts["best_loss"].to_numpy()), [0.5])
        rows.append({
            "#": int(row["rank"]), "entry": row["entry"], "setting": report.setting_text(row),
            "p vs lead": _p_text(row["p_value"]),
            "success (held)": _share(report, landscape, label, row[f"success_{label}"]),
            "reached": _share(report, landscape, label, row.get(f"reached_{label}", np.nan)),
            "relapsed": _pct(float(row.get("relapse_rate", np.nan))),
            "settings tried": int(row["settings_tried"]),
            "ERT [95% CI]": "below resolution" if below else _ert_text(ert) + (
                "" if math.isinf(ert) else f" [{_ert_text(low)}, {_ert_text(high)}]"),
            "time to target (s)": "" if below else "∞" if math.isinf(ert) else f"{ert * row['seconds_per_step']:.3g}",
            f"final {scale.label}: median [q10, q90]": f"{final[1]:.3g} [{final[0]:.3g}, {final[2]:.3g}]",
            f"best {scale.label}: median": f"{best[0]:.3g}",
            "diverged": _pct(float(row["divergence_rate"])),
            "µs/step": f"{row['seconds_per_step'] * 1e6:.1f}",
            "updates/s": f"{row['updates_per_second']:.3g}" if "updates_per_second" in row else "",
            "of floor": _pct(row.get("floor_fraction", float("nan"))),
        })
    failed = report.failed[report.failed["landscape_label"] == landscape] if not report.failed.empty \
        else report.failed
    for _, row in failed.drop_duplicates("optimizer_label").iterrows():
        entry = row.get("entry") or row["optimizer"]
        if entry not in {r["entry"] for r in rows}:
            rows.append({"#": "–", "entry": entry, "setting": "failed",
                         "success (held)": "–", "ERT [95% CI]": str(row["error"])[:200]})
    if rows:
        yield Table(pd.DataFrame(rows).fillna(""), caption=(
            f"Ranked at Δf ≤ {label}. Success: share of restarts that reached Δf ≤ {label} and still held "
            f"it at their last step; reached: share that reached it at some step (COCO's anytime count); "
            f"relapsed: share that reached some target and lost it. Equal # means tied: 'p vs lead' is "
            f"the paired two-sided sign test (restart i of both starts from the same point) against the "
            f"first entry of the tie group above, or of its own: p ≥ {TIE_LEVEL:g} joins that group, so "
            f"every tied entry is indistinguishable from its group's first. Settings tried: the entry's cells on this "
            f"landscape, failed ones included (its tuning budget). ERT: expected steps to first reach "
            f"the target, counting restarts (COCO), with a 95% bootstrap interval from simulated restarts; "
            f"time to target is ERT × seconds per step. Final and best {scale.label} are as measured "
            f"(diverged restarts count as ∞). A * marks a best value at the edge of the sweep: the "
            f"optimum may lie outside it. Updates/s counts restart-steps; 'of floor' is how near that is "
            f"to the memory-traffic floor (each step reads and writes the point and optimizer state, at "
            f"the device's measured copy bandwidth; on a CPU a cache-resident state can beat it)."))


def convergence(report: Report, landscape: str):
    """Best-so-far and current loss against steps and seconds, median and quartile band."""
    from matplotlib.ticker import EngFormatter

    selected = report.selected(landscape)
    if selected.empty or report.curves.empty:
        return
    scale = LossScale(report.f_star(landscape))
    fig, axes = new(2, 2, height=2.7, sharey="row")
    curves = report.curves[report.curves["cell_id"].isin(selected["cell_id"])]
    by_cell = dict(tuple(curves.groupby("cell_id", sort=False)))
    for _, row in selected.iterrows():
        cell = by_cell.get(row["cell_id"])
        if cell is None:
            continue
        color = report.colors[row["entry"]]
        for r, quantity in enumerate(("best", "loss")):
            part = cell[cell["quantity"] == quantity].sort_values("step")
            steps = part["step"].to_numpy(np.float64)
            for c, x in enumerate((steps, steps * float(row["seconds_per_step"]))):
                ax = axes[r, c]
                ax.fill_between(x, scale(part["q25"]), scale(part["q75"]), color=color, alpha=0.2,
                                linewidth=0)
                ax.plot(x, scale(part["q50"]), color=color, linewidth=1.4)
    spp = float(selected["seconds_per_step"].median()) or 1e-6
    for r, title in enumerate(("best so far", "current")):
        for c, xlabel in enumerate(("steps", "seconds")):
            ax = axes[r, c]
            ax.set_xscale("symlog", linthresh=1.0 if c == 0 else spp)
            ax.set_xlim(left=0)
            if c == 1:
                ax.xaxis.set_major_formatter(EngFormatter(unit="s", sep=" "))
            scale.lines(ax)
            ax.set_xlabel(xlabel)
            ax.set_title(f"{title} loss")
        scale.axis(axes[r, 0])
    yield _landscape_figure(report, landscape, fig, selected["entry"], (
        "Median over restarts (line) and the band between the 25th and 75th percentiles, for each "
        "entry at its selected setting: the best loss so far (top) and the current loss (bottom), "
        "against steps (left) and wall-clock seconds, a step costing the cell's measured seconds per "
        "step (right). Dotted lines are the landscape's reference levels. Axes are linear below one "
        "step, logarithmic above."))


def landscape_ecdf(report: Report, landscape: str):
    """Runtime ECDF on this landscape over targets and simulated restarts."""
    selected = report.selected(landscape)
    if selected.empty:
        return
    longest = float(selected["steps"].max())
    grid = step_grid(longest * 4)
    fig, axes = new(height=3.4)
    ax = axes[0, 0]
    for _, row in selected.iterrows():
        runtimes = report.simulated_runtimes(row["cell_id"], report.resolvable(landscape))
        ax.step(grid, metrics.runtime_ecdf(runtimes, grid), where="post", color=report.colors[row["entry"]],
                linewidth=1.6)
    ax.set_xscale("log")
    ax.axvline(longest, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xlabel("steps (simulated restarts)")
    ax.set_ylabel("share of targets reached")
    ax.set_ylim(0, 1.02)
    yield _landscape_figure(report, landscape, fig, selected["entry"], (
        f"The share of the {_count(len(report.resolvable(landscape)), 'target')} (of {len(report.targets)}; those "
        f"below the float resolution at f* left out) × {ECDF_SAMPLES} simulated restarts solved "
        f"within x steps on this landscape. Beyond the budget (dashed) the curve counts success after "
        f"restarting; a curve that stays low never gets near f*."))


def final_loss(report: Report, landscape: str):
    """Distributions over restarts of the final and the best loss."""
    import seaborn as sns

    selected = report.selected(landscape)
    if selected.empty:
        return
    scale = LossScale(report.f_star(landscape))
    frames = []
    for _, row in selected.iterrows():
        restarts = report.cell_restarts(row["cell_id"])
        for quantity in ("final_loss", "best_loss"):
            values = finite_or_inf(restarts[quantity].to_numpy())
            kept = values[np.isfinite(values)]
            frames.append(pd.DataFrame({"entry": row["entry"], "quantity": quantity.replace("_", " "),
                                        "value": scale(kept)}))
    data = pd.concat(frames, ignore_index=True)
    order = list(selected["entry"])
    fig, axes = new(1, 2, height=max(2.0, 0.35 * len(order) + 1.0), sharey=True)
    for ax, quantity in zip(axes[0], ("final loss", "best loss"), strict=True):
        part = data[data["quantity"] == quantity]
        sns.boxplot(data=part, x="value", y="entry", hue="entry", order=order, hue_order=order,
                    palette=report.colors, ax=ax, fliersize=1.5, linewidth=0.8, legend=False,
                    log_scale=scale.delta)
        scale.lines(ax, which="x", labels=False)
        ax.set_xlabel(f"{quantity.split()[0]} {scale.label}")
        ax.set_ylabel("")
    axes[0, 0].set_yticks(range(len(order)), [plain(e) for e in order])
    diverged = ", ".join(f"{row['entry']} {row['divergence_rate']:.0%}" for _, row in selected.iterrows()
                         if row["divergence_rate"] > 0)
    flag = report.f_star_flag(landscape)
    yield Figure(fig, caption=(
        "Box: quartiles over restarts, whiskers 1.5 × the interquartile range, dots beyond; the final "
        "loss (left) is where each restart stopped, the best loss (right) the lowest it reached. A gap "
        "between them means restarts wandered off good points. Dotted lines are the landscape's reference "
        "levels. Diverged restarts are not drawn"
        + (f" ({diverged})." if diverged else " (none diverged).")), flags=[flag] if flag else [])


def ert_intervals(report: Report, landscape: str):
    """ERT with bootstrap intervals at every power-of-ten target."""
    selected = report.selected(landscape)
    if selected.empty:
        return
    fig, axes = new(height=3.4)
    ax = axes[0, 0]
    targets = report.decade_targets
    for i, (_, row) in enumerate(selected.iterrows()):
        xs, ys, lows, highs = [], [], [], []
        for value, label in targets:
            ert = float(row[f"ert_{label}"])
            if math.isinf(ert) or math.isnan(ert):  # never reached, or below resolution
                continue
            low, high = report.ert_interval(row["cell_id"], label)
            xs.append(value)
            ys.append(max(ert, 0.5))
            lows.append(max(ert - low, 0))
            highs.append(max(high - ert, 0))
        if xs:
            # A small sideways shift keeps overlapping intervals apart.
            shift = 10 ** (0.04 * (i - (len(selected) - 1) / 2))
            ax.errorbar(np.array(xs) * shift, ys, yerr=[lows, highs], color=report.colors[row["entry"]],
                        marker="o", markersize=3, linewidth=1.2, capsize=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("target Δf (harder →)")
    ax.set_ylabel("ERT (steps)")
    yield _landscape_figure(report, landscape, fig, selected["entry"], (
        "Expected running time (COCO: steps of all restarts until success, over the number of "
        "successes) at each power-of-ten target, with 95% bootstrap intervals from simulated "
        "restarts; a line stops at the last target the entry reached. An ERT of 0 (the start "
        "already meets the target) is drawn at 0.5."))


def time_quality(report: Report, landscape: str):
    """Time against final-loss quality for every setting of the sweep."""
    import seaborn as sns

    cells = report.landscape_cells(landscape)
    if cells.empty:
        return
    scale = LossScale(report.f_star(landscape))
    data = pd.DataFrame({
        "entry": cells["entry"],
        "seconds": cells["seconds_per_step"] * cells["steps_run"].clip(lower=1),
        "median": scale(finite_or_inf(cells["median_final_loss"].to_numpy())),
        "selected": cells["cell_id"].isin(report.selected(landscape)["cell_id"]),
    })
    data = data[np.isfinite(data["median"])]
    fig, axes = new(height=3.4)
    ax = axes[0, 0]
    sns.scatterplot(data=data[~data["selected"]], x="seconds", y="median", hue="entry",
                    palette=report.colors, ax=ax, s=14, alpha=0.45, legend=False, linewidth=0)
    sns.scatterplot(data=data[data["selected"]], x="seconds", y="median", hue="entry",
                    palette=report.colors, ax=ax, s=60, legend=False, edgecolor="black", linewidth=0.8)
    seconds_axis(ax, data["seconds"])
    scale.axis(ax)
    ax.set_ylabel(f"median final {scale.label}")
    ax.set_xlabel("seconds per restart (steps run × seconds per step)")
    scale.lines(ax)
    yield _landscape_figure(report, landscape, fig, [e for e in report.entries if e in set(data["entry"])], (
        "Every setting of every entry's sweep: the time one restart took against the median final "
        "loss it reached. Large outlined points are the selected settings. Lower is better quality, "
        "left is cheaper; an entry's selected point far right of its others paid for quality with "
        "steps."))


def sensitivity(report: Report, landscape: str):
    """How success and final loss depend on the swept hyperparameter (the sweep's sensitivity)."""
    cells = report.landscape_cells(landscape)
    swept = report.swept(landscape)
    if cells.empty:
        return
    if not swept:
        yield Text("No hyperparameter was swept on this landscape.")
        return
    column = "p_opt_learning_rate" if "p_opt_learning_rate" in swept else swept[0]
    name = column.removeprefix("p_opt_")
    scale = LossScale(report.f_star(landscape))
    fig, axes = new(1, 2, height=3.0, sharex=True)
    target = report.ranked_at(landscape)["label"]
    for entry, rows in cells.groupby("entry", sort=False):
        x = pd.to_numeric(rows[column], errors="coerce")
        if x.isna().all():
            continue
        # Other swept hyperparameters: keep the best row per value of this one (the selection rule).
        order = selection_order(rows[f"success_{target}"], rows[f"ert_{target}"], rows["median_final_loss"])
        rows = rows.iloc[order].assign(_x=x.iloc[order],
                                       _median=finite_or_inf(rows["median_final_loss"].to_numpy()[order]))
        rows = rows.groupby("_x", sort=False).head(1).sort_values("_x")
        color = report.colors[entry]
        axes[0, 0].plot(rows["_x"], rows[f"success_{target}"], marker="o", markersize=3, color=color)
        axes[0, 1].plot(rows["_x"], scale(rows["_median"]), marker="o", markersize=3, color=color)
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel(plain(name))
    axes[0, 0].set_ylabel(f"success (held Δf ≤ {target})")
    axes[0, 0].set_ylim(-0.03, 1.03)
    scale.axis(axes[0, 1])
    axes[0, 1].set_ylabel(f"median final {scale.label}")
    yield _landscape_figure(report, landscape, fig, [e for e in report.entries if e in set(cells["entry"])], (
        f"The whole sweep of {plain(name)}: success (left) and median final loss (right) at each value; "
        f"where other hyperparameters were swept too, each point is their best. A flat curve is an "
        f"entry that is easy to tune; a sharp peak at the grid's edge means the best value may lie "
        f"outside the sweep."))
