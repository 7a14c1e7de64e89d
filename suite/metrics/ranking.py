"""Comparisons across landscapes: overall ranking, performance profiles, win rates, stability.

Every function here works on the result tables alone (no JAX), on the
entries' best settings chosen per landscape by :data:`suite.metrics.SELECTION_RULE`
(the rows :func:`suite.metrics.leaderboard` returns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.metrics.board import TIE_LEVEL, instances, rank_entries

# AlgoPerf integrates performance profiles up to a ratio of 4 (Dahl et al.,
# "Benchmarking neural network training algorithms", arXiv:2306.07179, §4.5).
R_MAX = 4.0


def overall_ranking(board: pd.DataFrame) -> pd.DataFrame:
    """Entries ordered by their mean rank over landscapes (rank 1 is best).

    An entry without a finished cell on a landscape takes the last place there
    (one below the entries that finished), so failing never helps.

    Returns:
      One row per entry: ``entry``, ``mean_rank``, ``wins`` (landscapes where
      it ranks first, alone or tied), ``landscapes`` (with a finished cell)
      and ``rank`` (equal mean ranks share it).
    """
    if board.empty:
        return pd.DataFrame(columns=["entry", "mean_rank", "wins", "landscapes", "rank"])
    ranks = board.pivot_table(index="landscape_label", columns="entry", values="rank", aggfunc="min")
    # Competition ranking: one below every entry that finished there.
    last = ranks.notna().sum(axis=1) + 1
    filled = ranks.apply(lambda column: column.fillna(last))
    out = pd.DataFrame({
        "entry": ranks.columns,
        "mean_rank": filled.mean(axis=0).to_numpy(),
        "wins": (ranks == 1).sum(axis=0).to_numpy(),
        "landscapes": ranks.notna().sum(axis=0).to_numpy(),
    })
    out = out.sort_values(["mean_rank", "wins"], ascending=[True, False], kind="stable")
    # Equal mean ranks share a place (competition ranking 1, 1, 3).
    out["rank"] = out["mean_rank"].round(12).rank(method="min").astype(int).to_numpy()
    return out.reset_index(drop=True)


def profile_times(board: pd.DataFrame, target_labels: list[str]) -> pd.DataFrame:
    """The performance measure of each (landscape, target) problem and entry.

    The measure is the ERT in steps of the entry's selected setting, at least 1
    (a target met at the start costs one step); ``inf`` where it never met the
    target or has no finished cell. Problems that no entry solved are left out:
    they separate no one; so are targets below the float resolution (NaN ERT).

    Returns:
      A frame indexed by (landscape_label, target), one column per entry.
    """
    rows = {}
    for (landscape, entry), row in board.set_index(["landscape_label", "entry"]).iterrows():
        for label in target_labels:
            value = float(row[f"ert_{label}"])
            if not np.isnan(value):
                rows.setdefault((landscape, label), {})[entry] = max(value, 1.0)
    if not rows:
        return pd.DataFrame(columns=sorted(board["entry"].unique()), dtype=float)
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


def win_rates(board: pd.DataFrame, target: str | None = None) -> pd.DataFrame:
    """W[a, b]: the share of landscapes where entry a ranks above entry b on the leaderboard.

    The leaderboard's ranks (:func:`suite.metrics.leaderboard`: selection rule,
    paired ties) decide; an equal rank (a tie) counts half. Only landscapes
    where both have a finished cell count. The diagonal is NaN, and
    W[a, b] + W[b, a] = 1 where both are defined. ``target`` is ignored (each
    landscape is ranked at its own ranking target).
    """
    entries = sorted(board["entry"].unique())
    ranks = board.pivot_table(index="landscape_label", columns="entry", values="rank", aggfunc="min")
    ranks = ranks.reindex(columns=entries).to_numpy(np.float64)  # [landscapes, entries]
    a, b = ranks[:, :, None], ranks[:, None, :]
    both = ~np.isnan(a) & ~np.isnan(b)
    score = np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0))
    with np.errstate(invalid="ignore"):
        share = np.where(both, score, 0.0).sum(0) / both.sum(0)
    np.fill_diagonal(share, np.nan)
    return pd.DataFrame(share, index=pd.Index(entries, name="entry"), columns=entries)


def _setting(label: str) -> str:
    """The landscape setting of a landscape label: instance ``#k`` suffixes removed."""
    head, sep, tail = label.rpartition("#")
    return head if sep and tail.isdigit() else label


def ranking_stability(cells: pd.DataFrame, restarts: pd.DataFrame, target: str | None = None, *,
                      resamples: int = 200, seed: int = 0, level: float = TIE_LEVEL) -> dict:
    """How often the ranking survives resampling the restarts and the landscape instances.

    Each bootstrap replicate draws, for every landscape instance, its restarts
    with replacement (the same draw for every entry: restart i starts from the
    same point for all of them) and ranks them with the leaderboard's own
    functions (:func:`suite.metrics.rank_entries`: the selection rule, then the
    paired sign test for ties) at the landscape's ranking target; then it
    averages ranks over the instances, themselves drawn with replacement
    within each landscape setting. An entry shares the credit of a first
    place it ties for. ``target`` is ignored (each landscape has its own).

    Returns:
      ``{"top": share of replicates each entry ranked first overall,
      "winners": {landscape: {entry: share ranked first there}},
      "resamples": resamples}``.
    """
    rng = np.random.default_rng(seed)
    found = instances(cells, restarts)
    if not found:
        return {"top": {}, "winners": {}, "resamples": resamples}
    entries = sorted({e for inst in found for e in inst.entries})
    ranks_by_landscape, winners = {}, {}
    for inst in found:
        ranks = _replicate_ranks(inst, entries, resamples, rng, level)
        ranks_by_landscape[inst.landscape] = ranks
        first = _first_credit(ranks)
        winners[inst.landscape] = {e: float(first[:, i].mean()) for i, e in enumerate(entries)
                                   if first[:, i].any()}
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
    top = _first_credit(total / count)
    return {"top": {e: float(top[:, i].mean()) for i, e in enumerate(entries)},
            "winners": winners, "resamples": resamples}


def _first_credit(ranks: np.ndarray) -> np.ndarray:
    """[B, entries]: 1 for the entry ranked first in a replicate, 1/k each for k tied first."""
    first = np.isclose(ranks, ranks.min(axis=1, keepdims=True))
    return first / first.sum(axis=1, keepdims=True)


# Replicates ranked at once: bounds the [cells, replicates, restarts] arrays.
_CHUNK = 50


def _replicate_ranks(inst, entries: list[str], resamples: int, rng: np.random.Generator,
                     level: float) -> np.ndarray:
    """Ranks [replicates, entries] on one landscape instance; absent entries rank last."""
    n = inst.hit.shape[1]
    draw = rng.integers(0, n, size=(resamples, n))
    ranks = np.full((resamples, len(entries)), len(inst.entries) + 1.0)
    present = [entries.index(e) for e in inst.entries]
    for start in range(0, resamples, _CHUNK):
        ranked = rank_entries(inst, draw[start:start + _CHUNK], level=level)
        ranks[start:start + _CHUNK, present] = ranked["rank"]
    return ranks
