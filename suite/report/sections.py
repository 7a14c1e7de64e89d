"""The built-in report sections, registered through the same hook as any plugin's.

Run-wide sections (scope ``run``) come first when their order is below 100 and
last from 900; the per-landscape sections (scope ``landscape``, 100–199) are
laid out for each landscape in between. Every figure carries a caption saying
how to read it, and a flag where it uses a reference f*.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import suite
from suite import metrics
from suite.metrics import SELECTION_RULE, TIE_LEVEL, finite_or_inf, selection_order
from suite.ranking import R_MAX
from suite.report.blocks import Code, Figure, Note, Table, Text
from suite.report.data import CONFIDENT, ECDF_SAMPLES, Report
from suite.report.figures import LossScale, legend, new, plain, step_grid


def _count(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _ert_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.0f}"


def _pct(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"


_p_text = metrics.p_text


def _share(report: Report, landscape: str, label: str, value) -> str:
    """A share of restarts at a target, or 'below resolution' when float rounding decides there."""
    if report.below_resolution(landscape, label):
        return "below resolution"
    return _pct(float(value))


def _firsts(rows: pd.DataFrame) -> list[str]:
    """The entries ranked first (several when tied)."""
    return list(rows.loc[rows["rank"] == rows["rank"].min(), "entry"]) if not rows.empty else []


# --- run-wide sections -----------------------------------------------------------------


def summary(report: Report):
    """What ran, what is missing, and who leads, with how sure the ranking is."""
    meta = report.metadata
    planned = len(report.plan.get("cells", [])) or len(report.cells)
    done, failed, missing = len(report.ok), len(report.failed), len(report.missing)
    yield Text(f"{_count(len(report.landscapes), 'landscape')}, {_count(len(report.entries), 'entry')}; "
               f"{done} of {planned} planned cells finished"
               + (f", {failed} failed" if failed else "") + (f", {missing} missing" if missing else "")
               + f"; device {_device(meta)}; seed {meta.get('seed', '?')}.")
    if meta.get("interrupted") or missing:
        yield Note(f"This run is partial: {missing} planned cells never ran"
                   + (" (the run was interrupted)" if meta.get("interrupted") else "")
                   + ". Every figure and ranking below uses the finished cells only; "
                   f"finish it with: suite run --resume {report.path}", kind="warning")
    if failed:
        yield Note(f"{failed} cells failed; they are listed under 'Failures' and ranked last "
                   f"on their landscapes.", kind="warning")
    if report.overall.empty:
        yield Note("No cell finished, so there is nothing to rank.", kind="warning")
        return
    overall = report.overall
    top = overall.iloc[0]
    share = float(top["top_share"])
    ranked = report.board["landscape_label"].nunique()
    tied = list(overall.loc[overall["rank"] == 1, "entry"])
    if len(tied) > 1:
        yield Text(f"Tied for first: {', '.join(tied)} (mean rank {top['mean_rank']:.2f} over "
                   f"{_count(ranked, 'landscape')} with finished cells). No single top entry.")
    else:
        yield Text(f"Top entry: {top['entry']} (mean rank {top['mean_rank']:.2f} over "
                   f"{_count(ranked, 'landscape')} with finished cells, first on {int(top['wins'])}; "
                   f"performance-profile score {top['profile_score']:.2f}).")
    notes = [n for n in (report.verdict_note(name) for name in report.landscapes) if n]
    if notes:
        yield Note(f"No winner is declared at Δf ≤ {report.target} on {_count(len(notes), 'landscape')}: "
                   + " ".join(notes), kind="warning")
    for landscape in report.landscapes:
        if report.warning(landscape):
            yield Note(f"f* violated on {landscape}: {report.warning(landscape)}.", kind="warning")
    resamples = report.stability["resamples"]
    if len(tied) > 1:
        shared = sum(report.stability["top"].get(e, 0.0) for e in tied)
        yield Text(f"Together they take {shared:.0%} of first places in {resamples} bootstrap replicates "
                   f"(restarts and landscape instances resampled; a shared first place shares the credit).")
        return
    text = (f"It stays on top in {share:.0%} of {resamples} bootstrap replicates "
            f"(restarts and landscape instances resampled).")
    if share < CONFIDENT:
        yield Note(text + " The ranking is uncertain: another seed could change the winner.",
                   kind="warning")
    else:
        yield Text(text)


def _device(meta: dict) -> str:
    device = meta.get("device") or {}
    return f"{device.get('platform', '?')} ({device.get('kind', '?')}) × {device.get('count', 1)}"


def leaderboard(report: Report):
    """The overall ranking, and per landscape the target ranked at, the first place and its margin."""
    if report.overall.empty:
        yield Text("No finished cell.")
        return
    yield Text(f"Selection rule: {SELECTION_RULE}. Success at a target means the restart reached "
               f"Δf = f − f* ≤ target and still held it at its last step; 'relapsed' is the share that "
               f"reached a target and lost it (ended above it or diverged). Overall, entries are ordered "
               f"by their mean rank over landscapes (an entry with no finished cell on a landscape takes "
               f"the last place there); equal mean ranks share a place. The performance-profile score "
               f"and the win rates below weigh the same selected settings differently. Final loss: "
               f"{report.mode_text()}; precision {report.cell_value('precision', 'float32 (not recorded)')}.")
    board = report.board
    per_entry = board.groupby("entry").agg(settings=("settings_tried", "sum"),
                                           relapsed=("relapse_rate", "mean"))
    table = report.overall.assign(
        settings=lambda t: t["entry"].map(per_entry["settings"]).fillna(0).astype(int),
        relapsed=lambda t: t["entry"].map(per_entry["relapsed"]).map(_pct))
    table = table.rename(columns={
        "rank": "#", "entry": "entry", "mean_rank": "mean rank", "wins": "landscapes won",
        "landscapes": "landscapes finished", "settings": "settings tried", "relapsed": "relapsed (mean)",
        "profile_score": f"profile score (r_max={R_MAX:g})", "top_share": "first in bootstrap"})
    table["first in bootstrap"] = table["first in bootstrap"].map(_pct)
    yield Table(table[["#", "entry", "mean rank", "landscapes won", "landscapes finished", "settings tried",
                       "relapsed (mean)", f"profile score (r_max={R_MAX:g})", "first in bootstrap"]],
                caption="Click a column header to sort. Equal # means tied. 'Settings tried' is the tuning "
                        "budget: cells of the entry over all landscapes, failed ones included. 'Relapsed' "
                        "is the mean over the entry's selected settings. 'First in bootstrap' is the share "
                        "of bootstrap replicates in which the entry ranks first overall (a shared first "
                        "place shares the credit).")
    rows = []
    for landscape in report.landscapes:
        selected = report.selected(landscape)
        if selected.empty:
            continue
        at = report.ranked_at(landscape)
        label = at["label"]
        firsts = _firsts(selected)
        best = selected.iloc[0]
        behind = selected[selected["rank"] > selected["rank"].min()]
        status = ("below resolution" if at["below_resolution"] else f"unsolved at {report.target}"
                  if at["unsolved"] else "solved")
        rows.append({
            "landscape": landscape, "status": status, "ranked at Δf ≤": label,
            "first": " = ".join(firsts) + (" (tied)" if len(firsts) > 1 else ""),
            "p vs next": _p_text(behind.iloc[0]["p_value"]) if not behind.empty else "",
            "success (held)": _share(report, landscape, label, best[f"success_{label}"]),
            "relapsed": _pct(float(best.get("relapse_rate", float("nan")))),
            "settings tried": int(best["settings_tried"]),
            "f*": "WARNING: violated" if report.warning(landscape) else "",
        })
    yield Table(pd.DataFrame(rows), caption=(
        f"Per landscape: the target ranked at (the hardest, {report.target}, unless no setting held it or "
        f"it is below the float resolution at f*), the entry or entries ranked first (equal ranks: the "
        f"paired sign test over shared restarts gave p ≥ {TIE_LEVEL:g}), the p-value of the first entry "
        f"ranked below them against the one above it, and the first entry's success, relapse rate and "
        f"settings tried."))


def runtime_ecdf(report: Report):
    """Runtime ECDF over every landscape, target and simulated restart, as cocopp draws it."""
    if report.board.empty:
        return
    fig, axes = new(width=6.0, height=3.4)
    ax = axes[0, 0]
    longest = float(report.ok["steps"].max())
    grid = step_grid(longest * 4)
    for entry in report.entries:
        rows = report.board[report.board["entry"] == entry]
        if rows.empty:
            continue
        # Targets below a landscape's resolution are left out: rounding, not the optimizer, decides them.
        runtimes = [report.simulated_runtimes(r["cell_id"], report.resolvable(r["landscape_label"])).ravel()
                    for _, r in rows.iterrows()]
        # Landscapes where the entry has no finished cell count as never reached.
        absent = sum(len(report.resolvable(name)) for name in report.landscapes
                     if name not in set(rows["landscape_label"]))
        pooled = np.concatenate(runtimes + [np.full(absent * ECDF_SAMPLES, np.inf)])
        ax.step(grid, metrics.runtime_ecdf(pooled, grid), where="post", color=report.colors[entry], linewidth=1.6)
    ax.set_xscale("log")
    ax.axvline(longest, color="0.4", linestyle="--", linewidth=0.8)
    ax.annotate("budget", (longest, 0.02), xytext=(3, 0), textcoords="offset points", fontsize=7)
    ax.set_xlabel("steps (simulated restarts)")
    ax.set_ylabel("share of (landscape, target) pairs")
    ax.set_ylim(0, 1.02)
    legend(fig, report.colors, [e for e in report.entries if e in set(report.board["entry"])])
    yield Figure(fig, caption=(
        f"For each entry at its selected settings: the share of all (landscape, target, simulated "
        f"restart) triples solved within x steps, over {len(report.landscapes)} landscapes × "
        f"{len(report.targets)} targets × {ECDF_SAMPLES} simulated restarts (targets below a "
        f"landscape's float resolution at f* left out). A simulated restart "
        f"draws restarts with replacement, summing their steps, until one reaches the target, so "
        f"runtimes beyond the budget (dashed) mean success after restarting. Higher and further left "
        f"is better; the height at the right end is the share of targets ever reached."),
        flags=report.flags())


def performance_profile(report: Report):
    """Dolan–Moré performance profiles over (landscape, target) problems, and AlgoPerf's score."""
    from suite.ranking import performance_profile as profile

    times = report.profile_times
    if times.empty:
        yield Text("No entry reached any target, so there is no profile to draw.")
        return
    taus = np.concatenate([np.linspace(1, R_MAX, 200), np.geomspace(R_MAX, 1e3, 100)[1:]])
    rho = profile(times, taus)
    fig, axes = new(width=6.0, height=3.4)
    ax = axes[0, 0]
    for entry in report.entries:
        if entry in rho:
            ax.step(taus, rho[entry], where="post", color=report.colors[entry], linewidth=1.6)
    ax.axvline(R_MAX, color="0.4", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("τ: ERT within a factor τ of the best entry")
    ax.set_ylabel("share of problems")
    ax.set_ylim(0, 1.02)
    legend(fig, report.colors, [e for e in report.entries if e in rho])
    yield Figure(fig, caption=(
        f"Each of the {len(times)} problems is a (landscape, target) pair that some entry solved; "
        f"an entry's curve at τ is the share of problems on which its ERT is at most τ times the "
        f"best entry's (Dolan & Moré 2002). The height at τ = 1 is the share it wins; the area "
        f"under the curve up to τ = {R_MAX:g} (dashed), divided by {R_MAX - 1:g}, is the score "
        f"in the leaderboard (AlgoPerf's integrated profile): 1 is best everywhere."),
        flags=report.flags())


def win_rates(report: Report):
    """Pairwise win rates by the selection rule."""
    import seaborn as sns

    from suite.ranking import win_rates as wins

    if report.board["entry"].nunique() < 2:
        return
    matrix = wins(report.board)
    order = [e for e in report.entries if e in matrix.index]
    matrix = matrix.loc[order, order]
    n = len(order)
    fig, axes = new(width=max(3.6, 0.5 * n + 2), height=max(2.8, 0.42 * n + 1.2))
    sns.heatmap(matrix, ax=axes[0, 0], vmin=0, vmax=1, cmap="vlag_r", annot=n <= 12, fmt=".2f",
                cbar_kws={"label": "win rate"}, square=True, linewidths=0.5,
                xticklabels=[plain(e) for e in order], yticklabels=[plain(e) for e in order])
    axes[0, 0].set_xlabel("against")
    axes[0, 0].set_ylabel("entry")
    yield Figure(fig, caption=(
        "Row entry against column entry: the share of landscapes on which the row entry ranks above "
        "the column entry on the leaderboard (selection rule at the landscape's ranking target, ties by "
        "the paired sign test), counting a tie (equal rank) as half and only landscapes where both "
        "finished. A row of high values is an entry that rarely loses."))


def stability(report: Report):
    """How often the top entry stays on top when restarts and instances are resampled."""
    top = report.stability["top"]
    if not top:
        return
    order = [e for e in report.entries if e in top]
    fig, axes = new(width=5.0, height=max(1.8, 0.3 * len(order) + 0.8))
    ax = axes[0, 0]
    ax.barh([plain(e) for e in order], [top[e] for e in order], color=[report.colors[e] for e in order])
    ax.axvline(CONFIDENT, color="0.4", linestyle="--", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of bootstrap replicates ranked first overall")
    yield Figure(fig, caption=(
        f"Each of {report.stability['resamples']} bootstrap replicates redraws every landscape "
        f"instance's restarts with replacement (the same draw for every entry) and the instances of "
        f"each landscape setting, then reselects and reranks with the leaderboard's own rules (ties "
        f"by the paired sign test; a shared first place shares the credit). A bar short of the dashed line at "
        f"{CONFIDENT:.0%} means the first place depends on the seed."))
    rows = []
    for landscape in report.landscapes:
        winners = report.stability["winners"].get(landscape, {})
        if not winners:
            continue
        observed = report.selected(landscape)
        firsts = _firsts(observed)
        at = report.ranked_at(landscape)
        rows.append({"landscape": landscape, "ranked at Δf ≤": at["label"],
                     "first (observed)": " = ".join(firsts) + (" (tied)" if len(firsts) > 1 else ""),
                     "stays first": _pct(sum(winners.get(e, 0.0) for e in firsts)),
                     "other winners": ", ".join(f"{e} {s:.0%}" for e, s in
                                                sorted(winners.items(), key=lambda kv: -kv[1])
                                                if e not in firsts)})
    if rows:
        yield Table(pd.DataFrame(rows), caption="Per landscape: how often its first place (shared "
                                                "credit when tied) stays first when its restarts are "
                                                "resampled, at the target the landscape is ranked at.")


def failures(report: Report):
    """Cells that failed or never ran."""
    if report.failed.empty and not report.missing:
        yield Text("Every planned cell finished.")
        return
    if not report.failed.empty:
        table = (report.failed.groupby(["landscape_label", "error"], sort=False)["optimizer_label"]
                 .agg(lambda s: ", ".join(s)).reset_index()
                 .rename(columns={"landscape_label": "landscape", "optimizer_label": "settings"}))
        yield Table(table[["landscape", "settings", "error"]], caption="Failed cells and why.")
    if report.missing:
        table = pd.DataFrame(report.missing).rename(columns={"landscape_label": "landscape",
                                                             "optimizer_label": "setting"})
        columns = [c for c in ("landscape", "setting", "cell_id") if c in table]
        yield Table(table[columns], caption="Planned cells with no result: the run stopped before them.")


def metadata(report: Report):
    """The run's metadata, the command that made it and the one that reproduces it."""
    meta = report.metadata
    command = " ".join(meta.get("command") or []) or "(not recorded)"
    rows = [("run folder", str(report.path)), ("command", command),
            ("started", meta.get("started")), ("finished", meta.get("finished")),
            ("resumed", ", ".join(meta.get("resumed", [])) or "no"),
            ("seed", meta.get("seed")), ("final loss", report.mode_text()),
            ("precision", report.cell_value("precision", "float32 (not recorded)")),
            ("tuning", report.cell_value("tuning", "grid (not recorded)")),
            ("device", _device(meta)), ("host", meta.get("host")),
            ("platform", meta.get("platform")), ("python", meta.get("python")),
            ("git commit", meta.get("git_commit")), ("plugins", ", ".join(meta.get("plugins", [])))]
    rows += [(f"version: {k}", v) for k, v in (meta.get("versions") or {}).items()]
    yield Table(pd.DataFrame(rows, columns=["field", "value"]).astype(str), sortable=False)
    yield Text("Reproduce: install the versions above (and the plugins listed in config.toml), then run "
               "the resolved config, which fixes every parameter and the seed:")
    yield Code(f"suite run {report.path / 'config.toml'} --out {report.path}-again")
    components = report.plan.get("components", {})
    rows = [(kind.rstrip("s"), name, info.get("plugin", ""), info.get("doc", ""))
            for kind, found in components.items() for name, info in sorted(found.items())]
    if rows:
        yield Table(pd.DataFrame(rows, columns=["kind", "name", "plugin", "description"]),
                    caption="The landscapes, optimizers and wrappers of this run, as their plugins describe them.")
    if report.config_text:
        yield Text("config.toml, as the run resolved it:")
        yield Code(report.config_text)


# --- per-landscape sections --------------------------------------------------------------


def _landscape_figure(report: Report, landscape: str, fig, entries, caption: str) -> Figure:
    """A landscape's figure with its legend, flagged when it measures from a reference f*."""
    legend(fig, report.colors, list(entries))
    flag = report.f_star_flag(landscape)
    return Figure(fig, caption=caption, flags=[flag] if flag else [])


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
    selected = report.selected(landscape)
    if selected.empty or report.curves.empty:
        return
    scale = LossScale(report.f_star(landscape))
    fig, axes = new(2, 2, width=3.6, height=2.5, sharey="row")
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
            scale.lines(ax)
            ax.set_xlabel(xlabel)
            ax.set_title(f"{title} loss", fontsize=8)
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
    fig, axes = new(width=5.0, height=3.0)
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
        f"The share of the {len(report.resolvable(landscape))} targets (of {len(report.targets)}; those "
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
    fig, axes = new(1, 2, width=3.4, height=max(2.0, 0.32 * len(order) + 0.9), sharey=True)
    for ax, quantity in zip(axes[0], ("final loss", "best loss"), strict=True):
        part = data[data["quantity"] == quantity]
        sns.boxplot(data=part, x="value", y="entry", hue="entry", order=order, hue_order=order,
                    palette=report.colors, ax=ax, fliersize=1.5, linewidth=0.8, legend=False,
                    log_scale=scale.delta)
        scale.lines(ax, which="x", labels=False)
        ax.tick_params(axis="x", which="both", labelsize=6.5, labelrotation=30)
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
    fig, axes = new(width=5.0, height=3.0)
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
    fig, axes = new(width=5.0, height=3.0)
    ax = axes[0, 0]
    sns.scatterplot(data=data[~data["selected"]], x="seconds", y="median", hue="entry",
                    palette=report.colors, ax=ax, s=14, alpha=0.45, legend=False, linewidth=0)
    sns.scatterplot(data=data[data["selected"]], x="seconds", y="median", hue="entry",
                    palette=report.colors, ax=ax, s=60, legend=False, edgecolor="black", linewidth=0.8)
    ax.set_xscale("log")
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
    fig, axes = new(1, 2, width=3.5, height=2.6, sharex=True)
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


BUILTIN = (
    # name, render, title, scope, order
    ("summary", summary, "Summary", "run", 10),
    ("leaderboard", leaderboard, "Leaderboard", "run", 20),
    ("runtime_ecdf", runtime_ecdf, "Runtime ECDF over all landscapes", "run", 30),
    ("performance_profile", performance_profile, "Performance profile", "run", 40),
    ("win_rates", win_rates, "Pairwise win rates", "run", 50),
    ("stability", stability, "Ranking stability", "run", 60),
    ("landscape_table", landscape_table, "Leaderboard", "landscape", 100),
    ("convergence", convergence, "Convergence", "landscape", 110),
    ("landscape_ecdf", landscape_ecdf, "Runtime ECDF", "landscape", 120),
    ("final_loss", final_loss, "Final-loss distributions", "landscape", 130),
    ("ert_intervals", ert_intervals, "ERT with intervals", "landscape", 140),
    ("time_quality", time_quality, "Time versus quality", "landscape", 150),
    ("sensitivity", sensitivity, "Sweep sensitivity", "landscape", 160),
    ("failures", failures, "Failures", "run", 900),
    ("metadata", metadata, "Run metadata and reproduction", "run", 910),
)


@suite.hookimpl
def register_report_sections(register):
    for name, render, title, scope, order in BUILTIN:
        register(name, render, title=title, scope=scope, order=order)
