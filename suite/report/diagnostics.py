"""Report sections of the landscape diagnostics (``suite run --diagnose ...``).

Each draws from the diagnostics' tables and columns only, and yields nothing on
a run that did not ask for its diagnostic.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

import suite
from suite.report.blocks import Figure, Note, Table
from suite.report.data import Report
from suite.report.figures import LossScale, legend, new, plain

CLASS_COLUMNS = (("minimum_rate", "minimum"), ("saddle_rate", "saddle"), ("flat_rate", "flat"),
                 ("not_converged_rate", "not converged"))


def _flag(report: Report, landscape: str) -> list[str]:
    flag = report.f_star_flag(landscape)
    return [flag] if flag else []


def end_points(report: Report, landscape: str):
    """Index against loss at the end points, their classes, basins and barriers."""
    selected = report.selected(landscape)
    if "diagnostics_error" in selected:
        for _, row in selected[selected["diagnostics_error"].fillna("") != ""].iterrows():
            yield Note(f"Diagnostics of {row['entry']} failed (its training results are kept): "
                       f"{row['diagnostics_error']}", kind="warning")
    if selected.empty or "hessian_index" not in report.restarts and "basin" not in report.restarts:
        return
    scale = LossScale(report.f_star(landscape))
    if "hessian_index" in report.restarts:
        fig, axes = new(height=3.6)
        ax = axes[0, 0]
        for _, row in selected.iterrows():
            rows = report.cell_restarts(row["cell_id"])
            rows = rows[rows["hessian_index"].notna()]
            ax.scatter(scale(rows["final_loss"]), rows["hessian_index"], s=12, alpha=0.7,
                       color=report.colors[row["entry"]], linewidths=0)
        curve = json.loads(selected.iloc[0].get("index_curve") or "[]")
        if curve:
            u, alpha = np.asarray(curve).T
            ax.plot(scale(u), alpha, color="0.2", linestyle="--", linewidth=1.2, label="theory α(u)")
            ax.legend(loc="upper left", frameon=False)
        scale.axis(ax, which="x")
        scale.lines(ax, which="x", labels=False)
        ax.set_ylabel("index (share of negative Hessian eigenvalues)")
        ax.set_ylim(-0.03, 1.03)
        legend(fig, report.colors, list(selected["entry"]))
        yield Figure(fig, flags=_flag(report, landscape), caption=(
            "Each dot is a sampled restart's end point: its loss and the share of negative Hessian "
            "eigenvalues there (exact up to 2,000 parameters, Lanczos above). Minima sit at index 0, "
            "saddles above; in high dimension, critical points with higher loss tend to have higher "
            "index (Dauphin et al. 2014)"
            + ("; the dashed curve is the theoretical index α(u) of critical points at that energy "
               "(p-spin: Auffinger, Ben Arous & Černý 2010)." if curve else ".")))
    rows = []
    for _, row in selected.iterrows():
        line = {"entry": row["entry"], "sampled": int(report.cell_restarts(row["cell_id"]).get(
            "diagnosed", pd.Series(dtype=bool)).fillna(False).sum())}
        for column, name in CLASS_COLUMNS:
            if column in row and not pd.isna(row[column]):
                line[name] = f"{row[column]:.0%}"
        for column, name in (("minima_found", "distinct minima"), ("basins_found", "distinct end points"),
                             ("best_basin_share", "in the best basin"), ("barrier_rate", "path crosses a barrier")):
            if column in row and not pd.isna(row[column]):
                value = row[column]
                line[name] = f"{value:.0%}" if column.endswith(("share", "rate")) else int(value)
        rows.append(line)
    yield Table(pd.DataFrame(rows).fillna(""), caption=(
        "Per entry at its selected setting, over the sampled restarts: end points classified as minimum "
        "(gradient norm ≤ 1e-3, no negative eigenvalue), saddle (a negative one), flat (every "
        "eigenvalue below 1e-6: a higher-order critical point the Hessian cannot classify), or not "
        "converged; distinct end points "
        "after clustering (RMS distance ≤ 0.01, up to the landscape's symmetry), those holding a "
        "minimum, the share of restarts in the basin of the lowest end point, and how often the "
        "straight path from start to end rises above both ends."))


def layers(report: Report, landscape: str):
    """Per-layer gradient norms over training: vanishing and exploding gradients."""
    selected = report.selected(landscape)
    if selected.empty or report.layers.empty:
        return
    data = report.layers[report.layers["cell_id"].isin(selected["cell_id"])]
    if data.empty:
        return
    entries = [e for e in selected["entry"]]
    n = len(entries)
    cols = min(n, 3)
    fig, axes = new(math.ceil(n / cols), cols, height=2.8)
    finite = data["q50"][np.isfinite(data["q50"]) & (data["q50"] > 0)]
    low, high = (np.log10(finite.min()), np.log10(finite.max())) if len(finite) else (-1, 1)
    ratios = []
    for ax, (_, row) in zip(axes.ravel(), selected.iterrows(), strict=False):
        mine = data[data["cell_id"] == row["cell_id"]]
        grid = mine.pivot_table(index="layer", columns="step", values="q50")
        image = ax.imshow(np.log10(np.clip(grid.to_numpy(), 1e-30, None)), aspect="auto", origin="lower",
                          cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        steps = list(grid.columns)
        ticks = np.unique(np.linspace(0, len(steps) - 1, 5).astype(int))
        ax.set_xticks(ticks, [str(steps[t]) for t in ticks])
        ax.set_title(plain(row["entry"]), color=report.colors[row["entry"]])
        ax.set_xlabel("step")
        ax.set_ylabel("layer (input = 0)")
        ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
        ax.grid(False)
        last = grid.iloc[:, -1].to_numpy()
        ratios.append(f"{row['entry']} {last[0] / last[-1]:.3g}" if last[-1] > 0 else f"{row['entry']} –")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.colorbar(image, ax=list(axes.ravel()[:n]), label="log₁₀ median ‖∂f/∂θ_layer‖", shrink=0.85)
    yield Figure(fig, flags=_flag(report, landscape), caption=(
        "Median over restarts of each layer's gradient norm (colour, log scale) at the checkpoint steps, "
        "per entry at its selected setting (on mini-batch landscapes, of the mini-batch gradient). A dark "
        "band at the input layers is a vanishing gradient; a bright one an exploding gradient. Ratio "
        "first/last layer at the last checkpoint: " + "; ".join(ratios) + "."))


def paths(report: Report, landscape: str):
    """The loss on the straight line from start to end point (Goodfellow et al. 2015)."""
    selected = report.selected(landscape)
    if selected.empty or report.paths.empty:
        return
    data = report.paths[report.paths["cell_id"].isin(selected["cell_id"])]
    if data.empty:
        return
    scale = LossScale(report.f_star(landscape))
    fig, axes = new(height=3.4)
    ax = axes[0, 0]
    for _, row in selected.iterrows():
        mine = data[data["cell_id"] == row["cell_id"]].sort_values("alpha")
        color = report.colors[row["entry"]]
        ax.fill_between(mine["alpha"], scale(mine["q25"]), scale(mine["q75"]), color=color, alpha=0.2, linewidth=0)
        ax.plot(mine["alpha"], scale(mine["q50"]), color=color, linewidth=1.4)
    for at in (0, 1):
        ax.axvline(at, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xlabel("α: (1 − α)·start + α·end")
    scale.axis(ax)
    scale.lines(ax)
    legend(fig, report.colors, list(selected["entry"]))
    yield Figure(fig, flags=_flag(report, landscape), caption=(
        "Loss along the straight line through each sampled restart's start (α = 0) and end point (α = 1), "
        "extended to α ∈ [−0.5, 1.5]: median and quartile band over restarts. A monotone fall means the "
        "optimizer could have gone straight; a bump between the dashed lines is a barrier it went around "
        "(Goodfellow, Vinyals & Saxe 2015)."))


def pictures(report: Report, landscape: str):
    """Trajectories on the contour plot (2-D) or the loss on the plane through start, end and best end."""
    selected = report.selected(landscape)
    if selected.empty or report.pictures.empty:
        return
    data = report.pictures[report.pictures["cell_id"].isin(selected["cell_id"])]
    if data.empty:
        return
    two_d = (data["kind"] == "contour").any()
    n = len(selected)
    cols = min(n, 3)
    fig, axes = new(math.ceil(n / cols), cols, height=3.6 if cols > 1 else 4.2)
    for ax, (_, row) in zip(axes.ravel(), selected.iterrows(), strict=False):
        mine = data[data["cell_id"] == row["cell_id"]]
        grid = mine[mine["kind"] == ("contour" if two_d else "plane")]
        if grid.empty:
            ax.set_visible(False)
            continue
        xs, ys = np.unique(grid["x"]), np.unique(grid["y"])
        z = grid.pivot_table(index="y", columns="x", values="loss").to_numpy()
        shifted = z - np.nanmin(z)
        ax.contourf(xs, ys, np.log10(shifted + 1e-3 * (np.nanmax(shifted) + 1e-12)), levels=20, cmap="Greys_r")
        color = report.colors[row["entry"]]
        if two_d:
            for _, path in mine[mine["kind"] == "trajectory"].groupby("restart"):
                path = path.dropna(subset=["x", "y"])
                ax.plot(path["x"], path["y"], color=color, linewidth=1.0, marker=".", markersize=2)
                if len(path):
                    ax.plot(path["x"].iloc[0], path["y"].iloc[0], "o", color=color, markersize=3,
                            markerfacecolor="white")
        else:
            points = mine[mine["kind"] == "plane_points"]
            for (_, p), label in zip(points.iterrows(), ("start", "end", "best end"), strict=False):
                ax.plot(p["x"], p["y"], "o", color=color, markeredgecolor="black", markersize=5)
                ax.annotate(label, (p["x"], p["y"]), xytext=(3, 3), textcoords="offset points", fontsize="small")
        ax.set_title(plain(row["entry"]), color=color)
        ax.grid(False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    yield Figure(fig, flags=_flag(report, landscape), caption=(
        ("Contours of the loss (log of f − min, darker is lower) with the paths of the first restarts "
         "through the checkpoints (open circle: start), per entry at its selected setting."
         if two_d else
         "The loss (log of f − min, darker is lower) on the plane through restart 0's start, its end point "
         "and the best end point of the sampled restarts, in units of the distance from start to end. "
         "Two end points in separate dark basins are different minima; a ridge between start and end is "
         "a barrier.")))


SECTIONS = (
    ("end_points", end_points, "End points: minima, saddles, basins", 170),
    ("layer_norms", layers, "Per-layer gradient norms", 175),
    ("straight_path", paths, "The straight path from start to end", 180),
    ("pictures", pictures, "Pictures of the landscape", 185),
)


@suite.hookimpl
def register_report_sections(register):
    for name, render, title, order in SECTIONS:
        register(name, render, title=title, scope="landscape", order=order)
