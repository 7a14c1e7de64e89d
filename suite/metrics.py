"""Leaderboard metrics computed from result tables alone (no JAX).

Step columns use ``-1``/missing for "never". A restart's ``steps`` is the
number of updates it ran: T, or fewer when it diverged first (or, in the
fixed-target mode, reached the last target).

Every scoring rule has exactly one implementation here, called from the
runner, the leaderboard, the rankings, the report and the CLI: :func:`ert`,
:func:`simulated_runtimes`, :func:`selection_order` (the selection rule),
:func:`rank_entries` (the ranking with paired ties) and :func:`quantiles`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

# Two entries whose paired sign test gives p at or above this share a rank.
TIE_LEVEL = 0.05
# Δf below this many float spacings at f* is decided by rounding, not by the optimizer.
RESOLUTION_ULPS = 4

SELECTION_RULE = (
    "each entry (an optimizer with its wrappers and the values you set, never tuned) enters at its "
    "best tuned setting per landscape: highest success (reached the ranking target and held it at "
    "the last step), then lower ERT, then lower median final loss; the ranking target is the "
    "hardest one, or, where no one held it or it is below float resolution, the hardest target some "
    "setting held on half its restarts. An entry shares the rank of the first entry of the group "
    f"above it where a paired sign test over restarts gives p ≥ {TIE_LEVEL:g}"
)

HIT_PREFIX = "step_to_target_"


def target_label(target: float) -> str:
    """Column suffix of a target: ``100``, ``63.1``, ``0.001``, ``1e-08`` (re-exported by suite.config)."""
    return f"{target:.3g}"


# --- per restart and per cell ------------------------------------------------------

def _hits(hit_steps) -> np.ndarray:
    """Step columns as float, NaN where never reached (``-1``, missing or NaN)."""
    if isinstance(hit_steps, np.ndarray) and hit_steps.dtype.kind in "fiu":
        hits = hit_steps.astype(np.float64)
    else:
        hits = pd.array(hit_steps, dtype="Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.where(hits >= 0, hits, np.nan)


def used_steps(hits: np.ndarray, steps) -> np.ndarray:
    """Steps each restart spent on each target: its hit step, or all it ran without a hit.

    ``steps`` has the leading shape of ``hits`` (trailing target axes are added).
    """
    steps = np.asarray(steps, dtype=np.float64)
    steps = steps.reshape(steps.shape + (1,) * (hits.ndim - steps.ndim))
    return np.where(np.isnan(hits), steps, hits)


def ert(hit_steps, steps, axis: int = 0):
    """Expected running time, as COCO defines it, along ``axis`` (the restarts).

    ERT = (Σ over restarts of the steps spent until the target was first
    reached, or until the restart ended without reaching it) / (number of
    restarts that reached it); infinite without one. Hansen et al., "COCO:
    Performance assessment", arXiv:1605.03560, §3. This is the one ERT of the
    suite: every other caller passes its array here.

    Args:
      hit_steps: first-hit steps (``-1``/missing/NaN: never), any shape.
      steps: steps each restart ran, the leading shape of ``hit_steps``.
      axis: the restart axis of ``hit_steps``.

    Returns:
      A float for 1-D input, else an array without ``axis``.
    """
    hits = _hits(hit_steps)
    reached = ~np.isnan(hits)
    successes = reached.sum(axis=axis)
    total = used_steps(hits, steps).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(successes > 0, total / np.maximum(successes, 1), np.inf)
    return float(out) if np.ndim(out) == 0 else out


def finite_or_inf(values) -> np.ndarray:
    """Losses with NaN mapped to +inf, so a failure sorts last and never wins."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), np.inf, values)


def quantiles(values, qs, axis: int = 0, method: str = "linear") -> np.ndarray:
    """``np.quantile`` of losses that may be NaN or infinite (NaN counts as +inf).

    Infinities are clamped to the largest float so ``np.quantile`` stays
    finite, and mapped back afterwards: a quantile is ±inf when it lands on
    an infinite value or between one and a finite neighbour (never a huge
    finite number made by interpolating with the clamp).
    """
    big = np.finfo(np.float64).max
    values = np.clip(finite_or_inf(values), -big, big)
    out = np.quantile(values, qs, axis=axis, method=method)
    lower = np.quantile(values, qs, axis=axis, method="lower")
    higher = np.quantile(values, qs, axis=axis, method="higher")
    up = (lower >= big) | ((higher >= big) & (out > lower))
    down = (higher <= -big) | ((lower <= -big) & (out < higher))
    return np.where(up, np.inf, np.where(down, -np.inf, out))


def resolution(f_opt: float | None, precision: str) -> float:
    """The Δf below which float rounding, not the optimizer, decides: RESOLUTION_ULPS spacings at f*.

    Args:
      f_opt: the landscape's f* (``None``/NaN when unknown: losses are measured from 0).
      precision: ``"float32"`` or ``"float64"``, the dtype the run computed in.
    """
    dtype = np.dtype(precision)
    level = 0.0 if f_opt is None or math.isnan(f_opt) else abs(float(f_opt))
    level = max(level, float(np.finfo(dtype).tiny))
    return float(RESOLUTION_ULPS * np.spacing(dtype.type(level)))


def cell_resolution(cells: pd.DataFrame) -> pd.Series:
    """Each cell's ``resolution`` column, or (runs written before it) computed from f* and precision."""
    precision = cells["precision"] if "precision" in cells else pd.Series("float32", index=cells.index)
    known = cells["f_opt_known"].fillna(False).astype(bool) if "f_opt_known" in cells \
        else pd.Series(False, index=cells.index)
    f_opt = cells["f_opt"] if "f_opt" in cells else pd.Series(np.nan, index=cells.index)
    computed = pd.Series([resolution(float(f) if k else None, str(p or "float32"))
                          for f, k, p in zip(f_opt, known, precision.fillna("float32"), strict=True)],
                         index=cells.index, dtype=np.float64)
    if "resolution" not in cells:
        return computed
    return pd.to_numeric(cells["resolution"], errors="coerce").fillna(computed)


def f_opt_violation(lowest: float, f_opt: float, resolution_: float) -> float:
    """How far the lowest finite loss went below an exact f*, when more than the resolution; else 0."""
    gap = float(f_opt) - float(lowest)
    return gap if math.isfinite(gap) and gap > resolution_ else 0.0


def targets_of(restarts: pd.DataFrame) -> list[tuple[float, str]]:
    """The run's precision targets, hardest last, read off the restart table's columns.

    Returns:
      ``(target, label)`` pairs; ``label`` is the column suffix (``1e-08``).
    """
    found = [(float(c.removeprefix(HIT_PREFIX)), c.removeprefix(HIT_PREFIX))
             for c in restarts.columns if c.startswith(HIT_PREFIX)]
    return sorted(found, key=lambda t: -t[0])


def hit_matrix(restarts: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Steps to each target as float [rows, targets], NaN where never reached."""
    if not labels:
        return np.empty((len(restarts), 0))
    frame = restarts[[HIT_PREFIX + label for label in labels]]
    return _hits(frame.to_numpy(dtype=np.float64, na_value=np.nan))


def held_counts(restarts: pd.DataFrame, hits: np.ndarray | None = None) -> np.ndarray:
    """``targets_held`` of every row: how many of the run's targets (easiest first) f(x_T) still meets.

    Runs written before the column existed froze a restart at its last target,
    so there every target it reached counts as held. ``hits``: the rows'
    :func:`hit_matrix` at every target of the run, if already at hand.
    """
    if "targets_held" in restarts:
        return pd.to_numeric(restarts["targets_held"]).fillna(0).to_numpy(np.int64)
    return _reached_counts(restarts, hits)


def _reached_counts(restarts: pd.DataFrame, hits: np.ndarray | None) -> np.ndarray:
    if hits is None:
        hits = hit_matrix(restarts, [label for _, label in targets_of(restarts)])
    return (~np.isnan(hits)).sum(axis=-1)


def relapsed(restarts: pd.DataFrame, hits: np.ndarray | None = None) -> np.ndarray:
    """Whether each restart reached a target and ended above it or diverged (``relapsed``)."""
    if "relapsed" in restarts:
        return restarts["relapsed"].fillna(False).to_numpy(bool)
    return held_counts(restarts, hits) < _reached_counts(restarts, hits)


def _held(counts: np.ndarray, hits: np.ndarray, positions) -> np.ndarray:
    """Held [..., targets]: f(x_T) meets the target (position k of the run's descending list) and it was reached."""
    positions = np.asarray(positions)
    return (counts[..., None] > positions) & ~np.isnan(hits)


def cell_scores(restarts: pd.DataFrame, targets: list[float], resolution: float) -> dict:
    """A cell's per-target scores from its restarts: the columns the runner writes to cells.parquet.

    Args:
      restarts: the cell's rows of the restart table (``step_to_target_*``,
        ``steps``, ``targets_held``, ``relapsed``).
      targets: the run's targets (every one: ``targets_held`` counts a prefix of them).
      resolution: the cell's :func:`resolution`; targets below it score NaN.

    Returns:
      ``success_<label>`` (share that reached the target and still held it at
      the last step), ``reached_<label>`` (share that reached it at some step,
      COCO's anytime meaning), ``ert_<label>`` (:func:`ert` from first hits)
      for every target, and ``relapse_rate``.
    """
    order = sorted((float(t) for t in targets), reverse=True)
    labels = [target_label(t) for t in order]
    hits = hit_matrix(restarts, labels)
    held = _held(held_counts(restarts, hits), hits, np.arange(len(labels)))
    n = len(restarts)
    with np.errstate(invalid="ignore"):
        success = held.mean(axis=0) if n else np.full(len(labels), np.nan)
        reached = (~np.isnan(hits)).mean(axis=0) if n else np.full(len(labels), np.nan)
    times = ert(hits, restarts["steps"].to_numpy(np.float64), axis=0) if len(labels) else np.empty(0)
    out = {}
    for j, (target, label) in enumerate(zip(order, labels, strict=True)):
        below = target < resolution
        out[f"success_{label}"] = float("nan") if below else float(success[j])
        out[f"reached_{label}"] = float("nan") if below else float(reached[j])
        out[f"ert_{label}"] = float("nan") if below else float(times[j])
    out["relapse_rate"] = float(np.mean(relapsed(restarts, hits))) if n else float("nan")
    return out


# --- the selection rule, the paired test and the ranking --------------------------------------

def selection_order(success, ert_, median, axis: int = 0) -> np.ndarray:
    """Indices that sort settings best first by the selection rule, along ``axis``.

    Highest success, then lower ERT, then lower median final loss (NaN loss
    last); a NaN success or ERT (a target below resolution) sorts last.
    """
    success = np.asarray(success, dtype=np.float64)
    return np.lexsort((finite_or_inf(median), np.asarray(ert_, dtype=np.float64), -success), axis=axis)


_LOG_FACTORIAL = np.zeros(1)


def _log_factorial(n: int) -> np.ndarray:
    global _LOG_FACTORIAL
    if _LOG_FACTORIAL.size <= n:
        size = max(n + 1, 2 * _LOG_FACTORIAL.size)
        _LOG_FACTORIAL = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, size)))])
    return _LOG_FACTORIAL


def sign_test(wins, losses):
    """Exact two-sided sign test: p = min(1, 2·P(X ≤ min(wins, losses))), X ~ Binomial(wins + losses, ½).

    Computed from a table of log factorials (no scipy), for arrays of any
    shape; no decided pair (0 wins, 0 losses) gives p = 1.
    """
    wins, losses = np.asarray(wins, dtype=np.int64), np.asarray(losses, dtype=np.int64)
    n, k = wins + losses, np.minimum(wins, losses)
    if n.size == 0:
        return np.zeros(n.shape)
    table = _log_factorial(int(n.max()))
    j = np.arange(int(k.max()) + 1)
    shape = (1,) * n.ndim + (-1,)
    nn, kk, jj = n[..., None], k[..., None], j.reshape(shape)
    log_terms = table[nn] - table[jj] - table[np.maximum(nn - jj, 0)] - nn * math.log(2.0)
    log_terms = np.where(jj <= kk, log_terms, -np.inf)
    top = log_terms.max(axis=-1, keepdims=True)
    log_tail = top[..., 0] + np.log(np.exp(log_terms - top).sum(axis=-1))
    p = np.minimum(1.0, 2.0 * np.exp(log_tail))
    return float(p) if p.ndim == 0 else p


def p_text(value) -> str:
    """A sign-test p-value as the tables print it: '' for the first entry, '< 1e-300' at float's end."""
    value = float(value)
    if math.isnan(value):
        return ""
    if value < 1e-300:  # 2 · 0.5^n underflows for n ≳ 1000 paired restarts: never print "0"
        return "< 1e-300"
    return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


def paired_outcomes(held_a, hit_a, final_a, held_b, hit_b, final_b) -> np.ndarray:
    """Per restart: +1 where a beats b, −1 where b beats a, 0 where they are equal.

    a beats b on a restart if a held the target and b did not, or both held it
    and a reached it first, or neither held it and a's final loss is lower (a
    NaN loss is the worst).
    """
    final_a, final_b = finite_or_inf(final_a), finite_or_inf(final_b)
    both, neither = held_a & held_b, ~held_a & ~held_b
    a = (held_a & ~held_b) | (both & (hit_a < hit_b)) | (neither & (final_a < final_b))
    b = (held_b & ~held_a) | (both & (hit_b < hit_a)) | (neither & (final_b < final_a))
    return a.astype(np.int8) - b.astype(np.int8)


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


def own_hyperparameters(cells: pd.DataFrame, entry: str, landscape: str | None = None) -> list[str]:
    """The ``p_opt_*`` columns that vary within the entry's own cells (on ``landscape`` if given).

    Hyperparameters of other optimizers (NaN in this entry's rows) and values
    the user fixed (the same in every cell) never vary, so they are not listed.
    """
    column = cells["entry"] if "entry" in cells else cells["optimizer"]
    same = cells[column == entry]
    if landscape is not None and "landscape_label" in same:
        same = same[same["landscape_label"] == landscape]
    return [c for c in same.columns if c.startswith("p_opt_") and same[c].nunique(dropna=True) > 1]


def setting_text(cells: pd.DataFrame, row: pd.Series, names: dict[str, str] | None = None) -> str:
    """The selected cell's values of its entry's own swept hyperparameters (``learning_rate=0.01*``).

    A * marks a value at the edge of the sweep (``at_edge``). ``names``
    shortens hyperparameter names for narrow tables (``{"learning_rate": "lr"}``).
    """
    names = names or {}
    edge = set(str(row.get("at_edge") or "").split(",")) - {""}
    parts = []
    for column in own_hyperparameters(cells, row["entry"], row.get("landscape_label")):
        name, value = column.removeprefix("p_opt_"), row[column]
        shown = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
        parts.append(f"{names.get(name, name)}={shown}" + ("*" if name in edge else ""))
    return " ".join(parts)


# --- runtimes and simulated restarts -------------------------------------

def _sum_of_draws(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Σ of ``counts[b]`` draws with replacement from ``values``, for every b.

    Restarts that miss a target mostly ran every step, so ``values`` holds few
    distinct numbers: drawing how many times each comes up (one multinomial)
    costs as much as the distinct values, however many draws there are.
    """
    distinct, freq = np.unique(values, return_counts=True)
    if distinct.size == 1:
        return counts * distinct[0]
    picks = rng.multinomial(counts, freq / freq.sum())
    return picks @ distinct


def simulated_runtimes(hits, steps, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Runtimes of simulated restarts, as COCO draws them for runtime ECDFs.

    A simulated restart draws restarts with replacement, summing the steps of
    unsuccessful ones, until it draws a successful one, whose steps to the
    target end it (Hansen et al., "COCO: Performance assessment",
    arXiv:1605.03560, §4). The number of failures before the success is
    geometric with the observed success rate.

    Returns:
      ``samples`` runtimes in steps; all infinite when no restart succeeded.
    """
    hits = _hits(np.asarray(hits, dtype=np.float64))
    ok = ~np.isnan(hits)
    if not ok.any():
        return np.full(samples, np.inf)
    p = ok.mean()
    failures = rng.geometric(p, size=samples) - 1
    failed = np.asarray(steps, dtype=np.float64)[~ok]
    spent = _sum_of_draws(failed, failures, rng) if failed.size else np.zeros(samples)
    return spent + rng.choice(hits[ok], size=samples)


def ert_interval(hits, steps, rng: np.random.Generator, *, resamples: int = 1000,
                 level: float = 0.95) -> tuple[float, float]:
    """Bootstrap confidence interval of :func:`ert` from simulated restarts.

    Each bootstrap replicate runs simulated restarts (draw restarts with
    replacement, summing steps until a success) until it has as many successes
    as the data: its ERT is the steps spent over the successes. Collecting s
    successes costs a negative-binomial number of failures, so a replicate is
    two draws however small the success rate.

    Returns:
      ``(low, high)``; ``(inf, inf)`` without a success.
    """
    hits = _hits(np.asarray(hits, dtype=np.float64))
    ok = ~np.isnan(hits)
    s = int(ok.sum())
    if s == 0:
        return float("inf"), float("inf")
    failed = np.asarray(steps, dtype=np.float64)[~ok]
    failures = rng.negative_binomial(s, ok.mean(), size=resamples)
    spent = _sum_of_draws(failed, failures, rng) if failed.size else np.zeros(resamples)
    spent = spent + _sum_of_draws(hits[ok], np.full(resamples, s), rng)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(spent / s, [tail, 100 - tail])
    return float(low), float(high)


def runtime_ecdf(runtimes: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Fraction of ``runtimes`` (inf: never) at most each value of ``grid``."""
    runtimes = np.sort(np.asarray(runtimes, dtype=np.float64).ravel())
    if runtimes.size == 0:
        return np.zeros(len(grid))
    return np.searchsorted(runtimes, grid, side="right") / runtimes.size
