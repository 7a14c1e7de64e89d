"""Comparisons across landscapes: overall ranking, performance profiles, win rates, stability.

Every function here works on the result tables alone (no JAX), on the
entries' best settings chosen per landscape by :data:`suite.metrics.SELECTION_RULE`
(the rows :func:`suite.metrics.leaderboard` returns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.metrics import finite_or_inf, hit_matrix

# AlgoPerf integrates performance profiles up to a ratio of 4 (Dahl et al.,
# "Benchmarking neural network training algorithms", arXiv:2306.07179, §4.5).
R_MAX = 4.0


def overall_ranking(board: pd.DataFrame) -> pd.DataFrame:
    """Entries ordered by their mean rank over landscapes (rank 1 is best).

    An entry without a finished cell on a landscape takes the last place there
    (one below the entries that finished), so failing never helps.

    Returns:
      One row per entry: ``entry``, ``mean_rank``, ``wins`` (landscapes won),
      ``landscapes`` (with a finished cell) and ``rank``.
    """
    if board.empty:
        return pd.DataFrame(columns=["entry", "mean_rank", "wins", "landscapes", "rank"])
    ranks = board.pivot_table(index="landscape_label", columns="entry", values="rank", aggfunc="min")
    last = ranks.max(axis=1) + 1
    filled = ranks.apply(lambda column: column.fillna(last))
    out = pd.DataFrame({
        "entry": ranks.columns,
        "mean_rank": filled.mean(axis=0).to_numpy(),
        "wins": (ranks == 1).sum(axis=0).to_numpy(),
        "landscapes": ranks.notna().sum(axis=0).to_numpy(),
    })
    out = out.sort_values(["mean_rank", "wins"], ascending=[True, False], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


def profile_times(board: pd.DataFrame, target_labels: list[str]) -> pd.DataFrame:
    """The performance measure of each (landscape, target) problem and entry.

    The measure is the ERT in steps of the entry's selected setting, at least 1
    (a target met at the start costs one step); ``inf`` where it never met the
    target or has no finished cell. Problems that no entry solved are left out:
    they separate no one.

    Returns:
      A frame indexed by (landscape_label, target), one column per entry.
    """
    rows = {}
    for (landscape, entry), row in board.set_index(["landscape_label", "entry"]).iterrows():
        for label in target_labels:
            rows.setdefault((landscape, label), {})[entry] = max(float(row[f"ert_{label}"]), 1.0)
    times = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    times = times.reindex(columns=sorted(board["entry"].unique())).fillna(np.inf)
    return times[np.isfinite(times).any(axis=1)]


def performance_ratios(times: pd.DataFrame) -> pd.DataFrame:
    """Each entry's measure over the best entry's on the same problem (Dolan & Moré 2002)."""
    best = times.min(axis=1)
    return times.div(best, axis=0)


def performance_profile(times: pd.DataFrame, taus) -> pd.DataFrame:
    """ρ_s(τ): the share of problems on which entry s is within a factor τ of the best.

    Dolan & Moré, "Benchmarking optimization software with performance
    profiles", Math. Programming 91 (2002).

    Returns:
      A frame indexed by τ, one column per entry.
    """
    ratios = performance_ratios(times).to_numpy()
    taus = np.asarray(taus, dtype=np.float64)
    share = (ratios[None, :, :] <= taus[:, None, None]).mean(axis=1)
    return pd.DataFrame(share, index=pd.Index(taus, name="tau"), columns=times.columns)


def profile_score(times: pd.DataFrame, r_max: float = R_MAX) -> pd.Series:
    """AlgoPerf's integrated performance profile, 1/(r_max − 1) ∫_1^r_max ρ_s(τ) dτ.

    ρ_s is a step function that rises by 1/P at each ratio r_p ≤ r_max, so the
    integral is exact: the mean over problems of (r_max − r_p)⁺ / (r_max − 1).
    1 means best on every problem; 0 never within r_max of the best.
    """
    ratios = performance_ratios(times)
    score = ((r_max - ratios).clip(lower=0) / (r_max - 1)).mean(axis=0)
    return score.rename("profile_score")


def _better(a: pd.Series, b: pd.Series, target: str) -> float:
    """1 if a beats b by the selection rule, 0 if b beats a, 0.5 on a tie."""
    keys = [(-float(r[f"success_{target}"]), float(r[f"ert_{target}"]),
             float(finite_or_inf([r["median_final_loss"]])[0])) for r in (a, b)]
    return 1.0 if keys[0] < keys[1] else 0.0 if keys[1] < keys[0] else 0.5


def win_rates(board: pd.DataFrame, target: str) -> pd.DataFrame:
    """W[a, b]: the share of landscapes where entry a beats entry b by the selection rule.

    Only landscapes where both have a finished cell count; a tie counts half.
    The diagonal is NaN, and W[a, b] + W[b, a] = 1 where both are defined.
    """
    entries = sorted(board["entry"].unique())
    wins = pd.DataFrame(np.nan, index=pd.Index(entries, name="entry"), columns=entries)
    by_landscape = {name: rows.set_index("entry") for name, rows in board.groupby("landscape_label")}
    for a in entries:
        for b in entries:
            if a == b:
                continue
            scores = [_better(rows.loc[a], rows.loc[b], target)
                      for rows in by_landscape.values() if a in rows.index and b in rows.index]
            if scores:
                wins.loc[a, b] = float(np.mean(scores))
    return wins


def _setting(label: str) -> str:
    """The landscape setting of a landscape label: instance ``#k`` suffixes removed."""
    head, sep, tail = label.rpartition("#")
    return head if sep and tail.isdigit() else label


def ranking_stability(cells: pd.DataFrame, restarts: pd.DataFrame, target: str, *,
                      resamples: int = 200, seed: int = 0) -> dict:
    """How often the ranking survives resampling the restarts and the landscape instances.

    Each bootstrap replicate draws, for every landscape instance, its restarts
    with replacement (the same draw for every optimizer: restart i starts from
    the same point for all of them), recomputes success, ERT and median final
    loss of every cell, selects each entry's best setting by the selection
    rule, ranks, and averages ranks over the instances, themselves drawn with
    replacement within each landscape setting.

    Returns:
      ``{"top": share of replicates each entry ranked first overall,
      "winners": {landscape: {entry: share ranked first there}},
      "resamples": resamples}``.
    """
    rng = np.random.default_rng(seed)
    ok = cells[cells["status"] == "ok"]
    if ok.empty:
        return {"top": {}, "winners": {}, "resamples": resamples}
    entries = sorted(ok["entry"].unique())
    ranks_by_landscape, winners = {}, {}
    for landscape, group in ok.groupby("landscape_label", sort=False):
        ranks = _replicate_ranks(group, restarts, target, entries, resamples, rng)
        ranks_by_landscape[landscape] = ranks
        first = np.argmin(ranks, axis=1)
        winners[landscape] = {e: float(np.mean(first == i)) for i, e in enumerate(entries)
                              if np.any(first == i)}
    settings: dict[str, list[str]] = {}
    for landscape in ranks_by_landscape:
        settings.setdefault(_setting(landscape), []).append(landscape)
    total = np.zeros((resamples, len(entries)))
    count = 0
    for members in settings.values():
        picks = rng.integers(0, len(members), size=(resamples, len(members)))
        stacked = np.stack([ranks_by_landscape[m] for m in members])  # [members, B, entries]
        for j in range(len(members)):
            total += stacked[picks[:, j], np.arange(resamples)]
        count += len(members)
    top = np.argmin(total / count, axis=1)
    return {"top": {e: float(np.mean(top == i)) for i, e in enumerate(entries)},
            "winners": winners, "resamples": resamples}


def _replicate_ranks(group: pd.DataFrame, restarts: pd.DataFrame, target: str,
                     entries: list[str], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Ranks [replicates, entries] on one landscape instance; absent entries rank last."""
    rows = restarts[restarts["cell_id"].isin(group["cell_id"])]
    by_cell = {cid: r.sort_values("restart") for cid, r in rows.groupby("cell_id", sort=False)}
    ids = [cid for cid in group["cell_id"] if cid in by_cell]
    n = min(len(by_cell[cid]) for cid in ids)
    hits = np.stack([hit_matrix(by_cell[c].iloc[:n], [target])[:, 0] for c in ids])  # [cells, n]
    steps = np.stack([by_cell[c]["steps"].to_numpy(np.float64)[:n] for c in ids])
    final = np.stack([finite_or_inf(by_cell[c]["final_loss"].to_numpy()[:n]) for c in ids])
    draw = rng.integers(0, n, size=(resamples, n))
    h, s, f = hits[:, draw], steps[:, draw], final[:, draw]  # [cells, B, n]
    successes = np.sum(~np.isnan(h), axis=-1)
    ert = _ert_rows(h, s)
    median = np.median(f, axis=-1)
    success = successes / n
    entry_of = group.set_index("cell_id").loc[ids, "entry"].to_numpy()
    ranks = np.full((resamples, len(entries)), float(len(entries)))
    keys = []
    present = []
    for i, entry in enumerate(entries):
        mine = np.flatnonzero(entry_of == entry)
        if mine.size == 0:
            continue
        # The entry's best setting in this replicate, by the selection rule.
        order = np.lexsort((median[mine], ert[mine], -success[mine]), axis=0)[0]
        pick = mine[order]
        keys.append((-success[pick, np.arange(resamples)], ert[pick, np.arange(resamples)],
                     median[pick, np.arange(resamples)]))
        present.append(i)
    if present:
        stacked = [np.stack([k[j] for k in keys]) for j in range(3)]  # 3 × [present, B]
        order = np.lexsort((stacked[2], stacked[1], stacked[0]), axis=0)  # [present, B]
        place = np.empty_like(order)
        np.put_along_axis(place, order, np.arange(len(present))[:, None].repeat(resamples, 1), axis=0)
        ranks[:, present] = place.T + 1
        missing = [i for i in range(len(entries)) if i not in present]
        ranks[:, missing] = len(present) + 1
    return ranks


def _ert_rows(hits: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """ERT along the last axis of ``hits`` [..., n] with the matching ``steps``."""
    ok = ~np.isnan(hits)
    successes = ok.sum(-1)
    total = np.where(ok, hits, steps).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(successes > 0, total / np.maximum(successes, 1), np.inf)
