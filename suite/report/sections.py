"""The built-in run-wide report sections, and the registration of every built-in section.

They register through the same hook as any plugin's. Run-wide sections (scope
``run``) come first when their order is below 100 and last from 900; the
per-landscape sections (scope ``landscape``, 100–199,
:mod:`suite.report.landscape_sections`) are laid out for each landscape in
between. Every figure carries a caption saying how to read it, and a flag
where it uses a reference f*.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import suite
from suite import metrics
from suite.metrics import SELECTION_RULE, TIE_LEVEL
from suite.metrics.ranking import R_MAX
from suite.report.blocks import Code, Figure, Note, Table, Text
from suite.report.data import CONFIDENT, ECDF_SAMPLES, Report
from suite.report.figures import legend, new, plain, step_grid
from suite.report.landscape_sections import (
    convergence,
    ert_intervals,
    final_loss,
    landscape_ecdf,
    landscape_table,
    sensitivity,
    time_quality,
)
from suite.report.text import _count, _p_text, _pct, _share, config_summary, top_place


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
               + f"; device {device_text(meta)}; seed {meta.get('seed', '?')}.")
    stopped = [r.name for r in report.runs if r.metadata.get("interrupted")]
    if meta.get("interrupted") or missing or stopped:
        if report.runs:
            how = f" ({', '.join(stopped)} {'was' if len(stopped) == 1 else 'were'} interrupted)" if stopped else ""
            finish = "finish the runs (suite run --resume RUN_DIR) and compare them again"
        else:
            how = " (the run was interrupted)" if meta.get("interrupted") else ""
            finish = (f"finish it with: suite run --resume {report.path}"
                      + (" once every part (--part) has finished" if meta.get("parts") else ""))
        yield Note(f"This {'comparison' if report.runs else 'run'} is partial: {_count(missing, 'planned cell')} "
                   f"never ran{how}. Every figure and ranking below uses the finished cells only; {finish}",
                   kind="warning")
    for landscape, text in report.mismatch.items():
        yield Note(f"MISMATCH on {landscape}: {text}; see 'Runs and where each entry came from'.", kind="warning")
    if failed:
        yield Note(f"{_count(failed, 'cell')} failed; " + ("it is listed under 'Failures' and ranked last on its "
                   "landscape." if failed == 1 else "they are listed under 'Failures' and ranked last on their "
                   "landscapes."), kind="warning")
    if report.overall.empty:
        yield Note("No cell finished, so there is nothing to rank.", kind="warning")
        return
    overall = report.overall
    top = overall.iloc[0]
    share = float(top["top_share"])
    ranked = report.board["landscape_label"].nunique()
    tied = list(overall.loc[overall["rank"] == 1, "entry"])
    place = top_place(overall["rank"], share)
    if place == "tied":
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
    resamples = _count(report.stability["resamples"], "bootstrap replicate")
    if place == "tied":
        shared = sum(report.stability["top"].get(e, 0.0) for e in tied)
        yield Text(f"Together they take {shared:.0%} of first places in {resamples} "
                   f"(restarts and landscape instances resampled; a shared first place shares the credit).")
        return
    text = (f"It stays on top in {share:.0%} of {resamples} "
            f"(restarts and landscape instances resampled).")
    if place == "uncertain":
        yield Note(text + " The ranking is uncertain: another seed could change the winner.",
                   kind="warning")
    else:
        yield Text(text)


def device_text(meta: dict) -> str:
    """The device a run's (or an extension's) metadata records, ``cpu (cpu) × 1``; ``?`` parts where unknown."""
    device = meta.get("device") if isinstance(meta.get("device"), dict) else {}
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
    fig, axes = new(height=3.4)
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
    ax.annotate("budget", (longest, 0.02), xytext=(3, 0), textcoords="offset points", fontsize="small")
    ax.set_xlabel("steps (simulated restarts)")
    ax.set_ylabel("share of (landscape, target) pairs")
    ax.set_ylim(0, 1.02)
    legend(fig, report.colors, [e for e in report.entries if e in set(report.board["entry"])])
    yield Figure(fig, caption=(
        f"For each entry at its selected settings: the share of all (landscape, target, simulated "
        f"restart) triples solved within x steps, over {_count(len(report.landscapes), 'landscape')} × "
        f"{_count(len(report.targets), 'target')} × {ECDF_SAMPLES} simulated restarts (targets below a "
        f"landscape's float resolution at f* left out). A simulated restart "
        f"draws restarts with replacement, summing their steps, until one reaches the target, so "
        f"runtimes beyond the budget (dashed) mean success after restarting. Higher and further left "
        f"is better; the height at the right end is the share of targets ever reached."),
        flags=report.flags())


def performance_profile(report: Report):
    """Dolan–Moré performance profiles over (landscape, target) problems, and AlgoPerf's score."""
    from suite.metrics.ranking import performance_profile as profile

    times = report.profile_times
    if times.empty:
        yield Text("No entry reached any target, so there is no profile to draw.")
        return
    taus = np.concatenate([np.linspace(1, R_MAX, 200), np.geomspace(R_MAX, 1e3, 100)[1:]])
    rho = profile(times, taus)
    fig, axes = new(height=3.4)
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
        f"A problem is a (landscape, target) pair that some entry solved ({_count(len(times), 'problem')} "
        f"here); "
        f"an entry's curve at τ is the share of problems on which its ERT is at most τ times the "
        f"best entry's (Dolan & Moré 2002). The height at τ = 1 is the share it wins; the area "
        f"under the curve up to τ = {R_MAX:g} (dashed), divided by {R_MAX - 1:g}, is the score "
        f"in the leaderboard (AlgoPerf's integrated profile): 1 is best everywhere."),
        flags=report.flags())


def win_rates(report: Report):
    """Pairwise win rates by the selection rule."""
    import seaborn as sns

    from suite.metrics.ranking import win_rates as wins

    if report.board["entry"].nunique() < 2:
        return
    matrix = wins(report.board)
    order = [e for e in report.entries if e in matrix.index]
    matrix = matrix.loc[order, order]
    n = len(order)
    # As wide as the page, so cells are wider than tall: a square grid that wide would be taller than a screen.
    fig, axes = new(height=max(2.4, 0.45 * n + 1.0))
    sns.heatmap(matrix, ax=axes[0, 0], vmin=0, vmax=1, cmap="vlag_r", annot=n <= 12, fmt=".2f",
                cbar_kws={"label": "win rate", "fraction": 0.05, "pad": 0.02}, linewidths=0.5,
                xticklabels=[plain(e) for e in order], yticklabels=[plain(e) for e in order])
    # seaborn stands row names on end, and column names too where they crowd; names read level, and
    # crowded ones slant only as far as they need to once laid out.
    axes[0, 0].tick_params(axis="both", labelrotation=0)
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
    fig, axes = new(height=max(1.8, 0.35 * len(order) + 1.0))
    ax = axes[0, 0]
    ax.barh([plain(e) for e in order], [top[e] for e in order], color=[report.colors[e] for e in order])
    ax.axvline(CONFIDENT, color="0.4", linestyle="--", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of bootstrap replicates ranked first overall")
    yield Figure(fig, caption=(
        f"Each of the {_count(report.stability['resamples'], 'bootstrap replicate')} redraws every landscape "
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
    if report.runs:  # each run's own is under 'Runs'
        yield Text(f"A comparison of {_count(len(report.runs), 'run')}; each run's device, commit, versions and "
                   f"config are under 'Runs and where each entry came from'. Reproduce each run from its own "
                   f"config.toml, then compare again: suite report {' '.join(str(r.path) for r in report.runs)}")
        return
    meta = report.metadata
    command = " ".join(meta.get("command") or []) or "(not recorded)"
    rows = [("run folder", str(report.path)), ("command", command),
            ("started", meta.get("started")), ("finished", meta.get("finished")),
            ("resumed", ", ".join(meta.get("resumed", [])) or "no"),
            ("seed", meta.get("seed")), ("final loss", report.mode_text()),
            ("precision", report.cell_value("precision", "float32 (not recorded)")),
            ("tuning", report.cell_value("tuning", "grid (not recorded)")),
            ("device", device_text(meta)), ("host", meta.get("host")),
            ("platform", meta.get("platform")), ("python", meta.get("python")),
            ("git commit", meta.get("git_commit")), ("plugins", ", ".join(meta.get("plugins", [])))]
    rows += [(f"version: {k}", v) for k, v in (meta.get("versions") or {}).items()]
    yield Table(pd.DataFrame(rows, columns=["field", "value"]).astype(str), sortable=False)
    yield Text("Reproduce: install the versions above (and the plugins listed in config.toml), then run "
               "the resolved config, which fixes every parameter and the seed:")
    yield Code(f"suite run {report.path / 'config.toml'} --out {report.path}-again")
    components = report.plan.get("components", {})
    rows = [(kind.rstrip("s"), name, info.get("plugin", ""), _source_text(info.get("source")), info.get("doc", ""))
            for kind, found in components.items() for name, info in sorted(found.items())]
    if rows:
        yield Table(pd.DataFrame(rows, columns=["kind", "name", "plugin", "source", "description"]),
                    caption="The landscapes, optimizers and wrappers of this run, as their plugins describe them, "
                            "and where each came from: a distribution and its version, or a file and the "
                            "SHA-256 of its content when the run loaded it.")
    if report.targets:
        labels = report.target_labels
        width = max(len(label) for label in labels) + 3
        rows = ["".join(label.ljust(width) for label in labels[i:i + 5]).rstrip() for i in range(0, len(labels), 5)]
        yield Code("\n".join(rows), fold=f"The {_count(len(labels), 'target')}, Δf ≤ {labels[0]} down to Δf ≤ "
                                          f"{labels[-1]}, as tables name them (exact values in config.toml)")
    if report.config_text:
        yield Code(report.config_text, fold=config_summary(report.config_text))


def _source_text(source) -> str:
    """Where a component came from, as plan.json records it (empty for runs made before it did)."""
    if not isinstance(source, dict):
        return ""
    if "sha256" in source:
        return f"file {source.get('path', '')} (sha256 {str(source['sha256'])[:16]}…)"
    return " ".join(str(source[k]) for k in ("distribution", "version") if source.get(k))


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
