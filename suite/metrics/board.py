"""The per-landscape leaderboard: the selection rule, ranking targets, aligned instances, ranks with paired ties."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from suite.metrics.paired import paired_outcomes, sign_test
from suite.metrics.runtimes import ert, finite_or_inf
from suite.metrics.scores import _held, cell_scores, held_counts, selection_order
from suite.metrics.targets import cell_resolution, hit_matrix, targets_of

# Two entries whose paired sign test gives p at or above this share a rank.
TIE_LEVEL = 0.05

SELECTION_RULE = (
    "each entry (an optimizer with its wrappers and the values you set, never tuned) enters at its "
    "best tuned setting per landscape: highest success (reached the ranking target and held it at "
    "the last step), then lower ERT, then lower median final loss; the ranking target is the "
    "hardest one, or, where no one held it or it is below float resolution, the hardest target some "
    "setting held on half its restarts. An entry shares the rank of the first entry of the group "
    f"above it where a paired sign test over restarts gives p ≥ {TIE_LEVEL:g}"
)


@dataclasses.dataclass
class Instance:
    """One landscape instance's finished cells, restarts aligned (restart i of every cell shares its start).

    Attributes:
      landscape: the landscape label.
      cell_ids: [cells].
      entry_of: [cells] index into ``entries``.
      entries: the entries present, sorted.
      labels: the run's target labels, easiest first; ``targets`` their values.
      resolution: the landscape's :func:`resolution`.
      success: [cells, targets] held share (NaN below resolution).
      target: index of the ranking target; ``unsolved``, ``below_resolution`` say why it is not the last.
      hit, held, steps, final: [cells, restarts] at the ranking target.
    """

    landscape: str
    cell_ids: list[str]
    entry_of: np.ndarray
    entries: list[str]
    labels: list[str]
    targets: np.ndarray
    resolution: float
    success: np.ndarray
    target: int
    unsolved: bool
    below_resolution: bool
    held_half: bool  # some cell held the ranking target on half its restarts (false: none held any so well)
    hit: np.ndarray
    held: np.ndarray
    steps: np.ndarray
    final: np.ndarray

    @property
    def label(self) -> str:
        return self.labels[self.target]


def ranking_target(success: np.ndarray, targets, resolution_: float) -> tuple[int, bool, bool]:
    """The target a landscape is ranked at, by the rule in :data:`SELECTION_RULE`.

    Args:
      success: [cells, targets] held shares, targets easiest first.
      targets: the target values, easiest first.
      resolution_: the landscape's resolution.

    Returns:
      ``(index, unsolved, below_resolution)``: the last target when it is
      resolvable and some cell's success there is above 0; otherwise the
      hardest resolvable target some cell held on at least half its restarts
      (the easiest if none), with ``below_resolution`` when the last target is
      below the resolution and ``unsolved`` when it is not but no cell succeeded.
    """
    targets = np.asarray(targets, dtype=np.float64)
    last = len(targets) - 1
    below = bool(targets[last] < resolution_)
    best = np.max(np.nan_to_num(success, nan=0.0), axis=0) if success.size else np.zeros(len(targets))
    if not below and best[last] > 0:
        return last, False, False
    held_half = np.flatnonzero((targets >= resolution_) & (best >= 0.5))
    return (int(held_half[-1]) if held_half.size else 0), not below, below


def instances(cells: pd.DataFrame, restarts: pd.DataFrame) -> list[Instance]:
    """The finished cells of every landscape with restarts, aligned, and each landscape's ranking target."""
    ok = cells[cells["status"] == "ok"]
    if ok.empty or restarts.empty:
        return []
    if "entry" not in ok:  # runs written before wrappers existed
        ok = ok.assign(entry=ok["optimizer"])
    targets = targets_of(restarts)
    labels = [label for _, label in targets]
    values = np.array([t for t, _ in targets])
    rows = restarts[restarts["cell_id"].isin(ok["cell_id"])].sort_values(["cell_id", "restart"], kind="stable")
    hits_all = hit_matrix(rows, labels)
    counts = held_counts(rows, hits_all)
    steps_all = rows["steps"].to_numpy(np.float64)
    final_all = finite_or_inf(rows["final_loss"].to_numpy(np.float64))
    where = {cid: (int(idx[0]), len(idx)) for cid, idx in rows.groupby("cell_id", sort=False).indices.items()}
    resolutions = cell_resolution(ok)
    found = []
    for landscape, group in ok.groupby("landscape_label", sort=False):
        group = group[group["cell_id"].isin(where)]
        if group.empty:
            continue
        ids = list(group["cell_id"])
        n = min(where[c][1] for c in ids)
        take = np.stack([np.arange(where[c][0], where[c][0] + n) for c in ids])  # [cells, n]
        hits = hits_all[take]  # [cells, n, targets]
        held = _held(counts[take], hits, np.arange(len(labels)))
        res = float(resolutions.loc[group.index].max())
        success = held.mean(axis=1) if n else np.zeros((len(ids), len(labels)))
        success = np.where(values < res, np.nan, success)
        j, unsolved, below = ranking_target(success, values, res)
        entries = sorted(group["entry"].unique())
        found.append(Instance(
            landscape=landscape, cell_ids=ids,
            entry_of=np.searchsorted(entries, group["entry"].to_numpy()), entries=entries,
            labels=labels, targets=values, resolution=res, success=success, target=j,
            unsolved=unsolved, below_resolution=below,
            held_half=not (unsolved or below) or bool(np.nan_to_num(success[:, j]).max(initial=0.0) >= 0.5),
            hit=hits[:, :, j], held=held[:, :, j],
            steps=steps_all[take], final=final_all[take]))
    return found


def rank_entries(instance: Instance, draws: np.ndarray | None = None, level: float = TIE_LEVEL) -> dict:
    """Each entry's selected cell, rank and p-value on one instance, for each draw of its restarts.

    The observed leaderboard is the draw of every restart once; the stability
    bootstrap passes resampled draws. Either way: the selection rule picks
    each entry's best cell, the same rule orders the entries, and a paired
    two-sided sign test of each entry against the one above it on the drawn
    restarts decides whether they share a rank (p ≥ ``level``; competition
    ranking 1, 1, 3).

    Args:
      draws: [replicates, n] restart indices; ``None`` is every restart once.

    Returns:
      ``{"cell": [B, entries] selected cell index, "rank": [B, entries] (float),
      "p_value": [B, entries] against the first entry of the tie group above or its own
      (NaN for the first), "order": [B, entries]
      entry indices best first, "success", "ert", "median": [cells, B]}``.
    """
    n = instance.hit.shape[1]
    draws = np.arange(n)[None, :] if draws is None else np.asarray(draws)
    replicates, entries = draws.shape[0], len(instance.entries)
    hit, held = instance.hit[:, draws], instance.held[:, draws]  # [cells, B, n]
    final = instance.final[:, draws]
    success = held.mean(axis=-1) if n else np.zeros(hit.shape[:2])
    times = ert(hit, instance.steps[:, draws], axis=-1)
    median = np.median(final, axis=-1) if n else np.full(hit.shape[:2], np.inf)
    chosen = np.zeros((replicates, entries), dtype=np.int64)
    for e in range(entries):
        mine = np.flatnonzero(instance.entry_of == e)
        best = selection_order(success[mine], times[mine], median[mine], axis=0)[0]  # [B]
        chosen[:, e] = mine[best]
    cols = np.arange(replicates)[:, None]
    order = selection_order(success[chosen, cols], times[chosen, cols], median[chosen, cols], axis=1)
    ordered = chosen[cols, order]  # [B, entries] cells, best first
    rows = np.arange(replicates)[:, None]
    h, s, f = hit[ordered, rows], held[ordered, rows], final[ordered, rows]  # [B, entries, n]
    # Tie groups do not chain: each entry is tested against the first entry of
    # the group above it; p ≥ level joins that group, else it starts its own.
    # (Neighbour-only tests would tie A ~ B ~ C while A beats C on every restart.)
    leader = np.zeros(replicates, dtype=np.int64)  # position of the current group's first entry
    place = np.ones((replicates, entries))
    p = np.full((replicates, max(entries - 1, 0)), np.nan)
    b = np.arange(replicates)
    for k in range(1, entries):
        outcome = paired_outcomes(s[b, leader], h[b, leader], f[b, leader], s[:, k], h[:, k], f[:, k])
        p[:, k - 1] = sign_test((outcome > 0).sum(-1), (outcome < 0).sum(-1))
        tied = p[:, k - 1] >= level
        place[:, k] = np.where(tied, place[b, leader], k + 1)
        leader = np.where(tied, leader, k)
    rank = np.empty_like(place)
    np.put_along_axis(rank, order, place, axis=1)
    p_value = np.full((replicates, entries), np.nan)
    if entries > 1:
        np.put_along_axis(p_value, order[:, 1:], p, axis=1)
    return {"cell": chosen, "rank": rank, "p_value": p_value, "order": order,
            "success": success, "ert": times, "median": median}


def leaderboard(cells: pd.DataFrame, restarts: pd.DataFrame, *, level: float = TIE_LEVEL) -> pd.DataFrame:
    """Best setting of each entry per landscape, ranked by :data:`SELECTION_RULE`, ties said.

    An entry is an optimizer with its wrappers and the values the user set
    (``adam``, ``adam+stale(tau=8)``, ``polyak(f_min=0.5)``); the selection runs
    over the rest of the optimizer's hyperparameters only.

    Args:
      cells: the per-cell table (``cells.parquet``); failed cells count only in
        ``settings_tried``.
      restarts: the per-restart table (``restarts.parquet``).
      level: the sign test's level: p at or above it shares the rank above.

    Returns:
      One row per (landscape, entry): the selected cell's row of ``cells``
      (its ``success_*``, ``reached_*``, ``ert_*`` and ``relapse_rate`` as
      :func:`cell_scores` computes them from the restarts), and ``rank``
      (competition ranking, ties equal), ``p_value`` (the paired sign test
      against the first entry of the tie group above, or of its own when
      tied; NaN for the first), ``rank_target`` (the
      label ranked at), ``unsolved``, ``below_resolution``, ``held_half``
      (false where no setting held even the easiest target on half its
      restarts: the ranking then falls mostly to final loss), ``resolution``,
      ``settings_tried`` (cells of the entry on the landscape, any status) and
      ``at_edge`` (swept hyperparameters whose chosen value is the smallest or
      largest tried, where the optimum may lie outside).
    """
    columns = ["landscape_label", "entry", "rank", "p_value", "rank_target", "unsolved",
               "below_resolution", "held_half", "resolution", "settings_tried", "cell_id", "at_edge"]
    found = instances(cells, restarts)
    if not found:
        return pd.DataFrame(columns=columns)
    cells = cells if "entry" in cells else cells.assign(entry=cells["optimizer"])
    by_id = cells.set_index("cell_id", drop=False)
    tried = cells.groupby(["landscape_label", "entry"]).size()
    targets = [t for t, _ in targets_of(restarts)]
    positions = restarts.groupby("cell_id", sort=False).indices
    parts = []
    for inst in found:
        ranked = rank_entries(inst, level=level)
        order = ranked["order"][0]
        ids = [inst.cell_ids[ranked["cell"][0, e]] for e in order]
        rows = by_id.loc[ids].reset_index(drop=True)
        ok = cells[(cells["landscape_label"] == inst.landscape) & (cells["status"] == "ok")]
        extra = pd.DataFrame([cell_scores(restarts.iloc[positions[cid]], targets, inst.resolution)
                              for cid in ids])
        extra["rank"] = ranked["rank"][0, order].astype(int)
        extra["p_value"] = ranked["p_value"][0, order]
        extra["rank_target"] = inst.label
        extra["unsolved"] = inst.unsolved
        extra["below_resolution"] = inst.below_resolution
        extra["held_half"] = inst.held_half
        extra["resolution"] = inst.resolution
        extra["settings_tried"] = [int(tried.get((inst.landscape, e), 0)) for e in rows["entry"]]
        extra["at_edge"] = [_at_edge(ok[ok["entry"] == row["entry"]], row) for _, row in rows.iterrows()]
        rows = pd.concat([rows.drop(columns=list(extra.columns), errors="ignore"), extra], axis=1)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def _at_edge(same: pd.DataFrame, row: pd.Series) -> str:
    edge = []
    for column in (c for c in same.columns if c.startswith("p_opt_")):
        values = pd.to_numeric(same[column], errors="coerce").dropna()
        if values.nunique() > 2 and row[column] in (values.min(), values.max()):
            edge.append(column.removeprefix("p_opt_"))
    return ",".join(edge)
