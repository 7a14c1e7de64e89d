"""Leaderboard metrics computed from result tables alone (no JAX).

Step columns use ``-1``/missing for "never". A restart's ``steps`` is the
number of updates it ran: T, or fewer when it diverged first (or, in the
fixed-target mode, reached the last target).

Every scoring rule has exactly one implementation here, called from the
runner, the leaderboard, the rankings, the report and the CLI: :func:`ert`,
:func:`simulated_runtimes`, :func:`selection_order` (the selection rule),
:func:`rank_entries` (the ranking with paired ties) and :func:`quantiles`.

The modules, each with one job: :mod:`~suite.metrics.targets` (target labels,
step columns, float resolution, f* violations), :mod:`~suite.metrics.runtimes`
(ERT, quantiles, simulated restarts, ERT intervals, runtime ECDFs),
:mod:`~suite.metrics.scores` (per-cell scores and the selection order),
:mod:`~suite.metrics.paired` (the paired sign test), :mod:`~suite.metrics.board`
(the per-landscape leaderboard), :mod:`~suite.metrics.settings` (an entry's
swept settings as text) and :mod:`~suite.metrics.ranking` (comparisons across
landscapes). The names below are re-exported so ``metrics.ert(...)`` works.
"""

from suite.metrics import ranking
from suite.metrics.board import (
    SELECTION_RULE,
    TIE_LEVEL,
    Instance,
    instances,
    leaderboard,
    rank_entries,
    ranking_target,
)
from suite.metrics.paired import p_text, paired_outcomes, sign_test
from suite.metrics.runtimes import (
    ert,
    ert_interval,
    finite_or_inf,
    quantiles,
    runtime_ecdf,
    simulated_runtimes,
    used_steps,
)
from suite.metrics.scores import (
    CELL_SUMMARY_COLUMNS,
    cell_metrics,
    cell_scores,
    held_counts,
    relapsed,
    selection_order,
)
from suite.metrics.settings import own_hyperparameters, setting_text
from suite.metrics.targets import (
    HIT_PREFIX,
    RESOLUTION_ULPS,
    cell_resolution,
    f_opt_violation,
    hit_matrix,
    resolution,
    target_label,
    targets_of,
)

__all__ = [
    "CELL_SUMMARY_COLUMNS", "HIT_PREFIX", "RESOLUTION_ULPS", "SELECTION_RULE", "TIE_LEVEL", "Instance", "cell_metrics",
    "cell_resolution", "cell_scores", "ert", "ert_interval", "f_opt_violation", "finite_or_inf", "held_counts", "hit_matrix",
    "instances", "leaderboard", "own_hyperparameters", "p_text", "paired_outcomes", "quantiles",
    "rank_entries", "ranking", "ranking_target", "relapsed", "resolution", "runtime_ecdf", "selection_order",
    "setting_text", "sign_test", "simulated_runtimes", "target_label", "targets_of", "used_steps",
]
