"""What a report section sees: a run folder's tables and the metrics derived from them.

Everything is computed from the run folder alone (tables, ``metadata.json``,
``config.toml``, ``plan.json``), so a run made elsewhere, or years ago, can be
re-reported. Derived metrics are computed once, on first use.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite import metrics, study
from suite.metrics import ranking
from suite.report.unreadable import with_unreadable
from suite.results import RunDir

# Simulated restarts per (cell, target) for runtime ECDFs; cocopp draws about as many.
ECDF_SAMPLES = 100
ERT_RESAMPLES = 1000
STABILITY_RESAMPLES = 200
# Ranking stability below this share of bootstrap replicates reads as uncertain.
CONFIDENT = 0.95


class Report:
    """The run folder at ``path``, read for reporting.

    Attributes:
      path: the run folder.
      cells, restarts, curves: the run's tables (``cells.parquet``, ...).
      metadata: ``metadata.json`` (versions, device, command, times).
      plan: ``plan.json`` (the planned cells and the components' docs), or ``{}``.
      config_text: ``config.toml`` as written by the run.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        run = RunDir(self.path)
        if not run.config_path.is_file() and not (self.path / "cells.parquet").is_file():
            raise FileNotFoundError(f"{str(self.path)!r} is not a run folder (no config.toml or cells.parquet)")
        tables = run.tables()
        config_text = (run.config_path.read_bytes().decode("utf-8", errors="replace")
                       if run.config_path.is_file() else "")
        self._setup(tables, run.read_metadata(), run.read_plan(), dict(run.unreadable), config_text)

    @classmethod
    def of(cls, path: Path, tables: dict, metadata: dict, plan: dict, *, unreadable: dict | None = None,
           config_text: str = "", name: str = "", runs: list | None = None,
           mismatch: dict | None = None) -> "Report":
        """A report of tables gathered elsewhere: several runs compared (:func:`suite.report.runs.combine`)."""
        report = cls.__new__(cls)
        report.path = Path(path)
        report._setup(tables, metadata, plan, unreadable or {}, config_text, name=name, runs=runs,
                      mismatch=mismatch)
        return report

    def _setup(self, tables: dict, metadata: dict, plan: dict, unreadable: dict, config_text: str, *,
               name: str = "", runs: list | None = None, mismatch: dict | None = None) -> None:
        self.cells: pd.DataFrame = tables["cells"]
        self.restarts: pd.DataFrame = tables["restarts"]
        self.curves: pd.DataFrame = tables["curves"]
        # Diagnostics' tables (empty unless the run asked for them; see suite.diagnostics).
        self.layers: pd.DataFrame = tables.get("layers", pd.DataFrame())
        self.paths: pd.DataFrame = tables.get("paths", pd.DataFrame())
        self.pictures: pd.DataFrame = tables.get("pictures", pd.DataFrame())
        self.metadata: dict = metadata
        self.plan: dict = plan
        # What the report is of: the run folder's name, or the compared runs' names.
        self.name: str = name or self.path.name
        # The runs a comparison merged (suite.report.runs.Source), [] for one run; and, per
        # landscape, the conditions on which they differ (reported with --allow-mismatch).
        self.runs: list = runs or []
        self.mismatch: dict[str, str] = mismatch or {}
        # What a comparison says of how its runs merged: (kind, text) notes (suite.report.runs).
        self.notes: list[tuple[str, str]] = []
        # Cells whose files cannot be read: left out of the tables, shown as failed with the reason.
        self.unreadable: dict[str, str] = unreadable
        if self.unreadable:
            self.cells = with_unreadable(self.cells, self.unreadable, self.plan, self.path)
        self.config_text = config_text
        # A study's [study] table, and its verdict as last written (suite.report.study refreshes it).
        self.study_table: dict | None = study.study_table(self.config_text)
        self.study: dict | None = study.load(self.path) if self.study_table else None
        seed = self.metadata.get("seed")
        self.rng_seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
        self._hits: dict = {}
        self._intervals: dict = {}

    # --- what ran ----------------------------------------------------------------

    @functools.cached_property
    def ok(self) -> pd.DataFrame:
        """Cells that finished."""
        if self.cells.empty:
            return self.cells
        ok = self.cells[self.cells["status"] == "ok"].copy()
        if "entry" not in ok:  # runs written before wrappers existed
            ok["entry"] = ok["optimizer"]
        return ok

    @functools.cached_property
    def failed(self) -> pd.DataFrame:
        """Cells that raised (their ``error`` says why)."""
        return self.cells[self.cells["status"] != "ok"] if not self.cells.empty else self.cells

    @functools.cached_property
    def missing(self) -> list[dict]:
        """Planned cells with no row at all: the run was interrupted before them."""
        planned = self.plan.get("cells", [])
        present = set(self.cells["cell_id"]) if not self.cells.empty else set()
        return [c for c in planned if c["cell_id"] not in present]

    @functools.cached_property
    def targets(self) -> list[tuple[float, str]]:
        """``(Δf, label)`` of every precision target, hardest last."""
        return metrics.targets_of(self.restarts) if not self.restarts.empty else []

    @property
    def target_labels(self) -> list[str]:
        return [label for _, label in self.targets]

    @property
    def target(self) -> str:
        """The label of the run's hardest target (a landscape may be ranked at another: :meth:`ranked_at`)."""
        return self.targets[-1][1] if self.targets else ""

    @functools.cached_property
    def decade_targets(self) -> list[tuple[float, str]]:
        """The targets that are whole powers of ten (10², 10¹, ..., 10⁻⁸ by default)."""
        found = [(t, label) for t, label in self.targets if abs(math.log10(t) - round(math.log10(t))) < 1e-9]
        return found or self.targets

    @functools.cached_property
    def landscapes(self) -> list[str]:
        """Landscape labels in the order the run lists them (those where every cell failed too)."""
        return list(dict.fromkeys(self.cells["landscape_label"])) if not self.cells.empty else []

    # --- the selection and the rankings -------------------------------------------

    @functools.cached_property
    def board(self) -> pd.DataFrame:
        """Each entry's selected setting per landscape, ranked with ties (:func:`suite.metrics.leaderboard`)."""
        if self.ok.empty or not self.target:
            return pd.DataFrame(columns=["landscape_label", "entry", "rank", "p_value", "rank_target",
                                         "unsolved", "below_resolution", "resolution", "settings_tried",
                                         "cell_id", "at_edge"])
        return metrics.leaderboard(self._cells_with_entry, self.restarts)

    @functools.cached_property
    def _cells_with_entry(self) -> pd.DataFrame:
        return self.cells if "entry" in self.cells else self.cells.assign(entry=self.cells["optimizer"])

    @functools.cached_property
    def profile_times(self) -> pd.DataFrame:
        return ranking.profile_times(self.board, self.target_labels) if not self.board.empty else pd.DataFrame()

    @functools.cached_property
    def stability(self) -> dict:
        if self.board.empty:
            return {"top": {}, "winners": {}, "resamples": 0}
        return ranking.ranking_stability(self._cells_with_entry, self.restarts,
                                         resamples=STABILITY_RESAMPLES, seed=self.rng_seed)

    @functools.cached_property
    def overall(self) -> pd.DataFrame:
        """The overall ranking with profile score and bootstrap share of first places."""
        table = ranking.overall_ranking(self.board)
        if table.empty:
            return table.assign(profile_score=[], top_share=[])
        times = self.profile_times
        score = ranking.profile_score(times) if not times.empty else pd.Series(dtype=float)
        table["profile_score"] = table["entry"].map(score).fillna(0.0)
        table["top_share"] = table["entry"].map(self.stability["top"]).fillna(0.0)
        return table

    @functools.cached_property
    def entries(self) -> list[str]:
        """Every entry (optimizer with wrappers), best overall first."""
        ranked = list(self.overall["entry"]) if not self.overall.empty else []
        others = sorted(set(self.cells.get("entry", self.cells.get("optimizer", pd.Series(dtype=str))))
                        - set(ranked)) if not self.cells.empty else []
        return ranked + others

    @functools.cached_property
    def colors(self) -> dict[str, str]:
        """One colour per entry, the same in every figure of the report."""
        import seaborn as sns

        n = max(len(self.entries), 1)
        palette = sns.color_palette("colorblind" if n <= 10 else "husl", n)
        return {e: "#%02x%02x%02x" % tuple(int(255 * c) for c in palette[i]) for i, e in enumerate(self.entries)}

    # --- per landscape ------------------------------------------------------------

    def selected(self, landscape: str) -> pd.DataFrame:
        """The leaderboard rows of one landscape (each entry's selected cell), best first."""
        return self.board[self.board["landscape_label"] == landscape]

    def landscape_cells(self, landscape: str) -> pd.DataFrame:
        """Every finished cell of one landscape: the whole sweep."""
        return self.ok[self.ok["landscape_label"] == landscape]

    @functools.cached_property
    def _restarts_by_cell(self) -> dict[str, pd.DataFrame]:
        if self.restarts.empty:
            return {}
        return {cid: rows for cid, rows in self.restarts.groupby("cell_id", sort=False)}

    def cell_restarts(self, cell_id: str) -> pd.DataFrame:
        return self._restarts_by_cell.get(cell_id, self.restarts.iloc[:0])

    def hits(self, cell_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Steps to every target [restarts, targets] (NaN: never) and steps run [restarts]."""
        if cell_id not in self._hits:
            rows = self.cell_restarts(cell_id)
            self._hits[cell_id] = metrics.hit_matrix(rows, self.target_labels), rows["steps"].to_numpy(np.float64)
        return self._hits[cell_id]

    def f_star(self, landscape: str) -> dict:
        """What the run knows of the landscape's minimum and its reference levels.

        Returns:
          ``{"f_opt": float, "kind": "exact"|"reference"|"unknown", "levels": {name: loss}}``.
        """
        rows = self.landscape_cells(landscape)
        if rows.empty:
            return {"f_opt": 0.0, "kind": "unknown", "levels": {}}
        row = rows.iloc[0]
        known = bool(row.get("f_opt_known", False))
        kind = (row.get("f_opt_kind") or "exact") if known else "unknown"
        try:
            levels = json.loads(row.get("levels") or "{}")
        except (TypeError, json.JSONDecodeError):
            levels = {}
        return {"f_opt": float(row["f_opt"]) if known else 0.0, "kind": kind,
                "levels": {str(k): float(v) for k, v in levels.items()}}

    def f_star_flag(self, landscape: str) -> str:
        """The remark every figure using this landscape's f* carries, or ``""`` if f* is exact."""
        info = self.f_star(landscape)
        if info["kind"] == "reference":
            return (f"{landscape}: f* = {info['f_opt']:.6g} is a reference value (e.g. an N → ∞ "
                    f"ground state or a best-known loss), not this instance's proven minimum; "
                    f"Δf = f − f* can be negative.")
        if info["kind"] == "unknown":
            return f"{landscape}: f* is unknown; Δf is measured from 0."
        warning = self.warning(landscape)
        if warning:
            from suite.report.figures import DELTA_FLOOR

            return (f"{landscape}: WARNING: {warning}. Figures draw Δf ≤ 0 at {DELTA_FLOOR:g} on log "
                    f"axes; the tables show the real values.")
        return ""

    def flags(self, landscapes=None) -> list[str]:
        """What every figure of these landscapes must carry: f* remarks, and runs compared under other conditions."""
        names = landscapes or self.landscapes
        return [f for f in (self.f_star_flag(name) for name in names) if f] + [
            f"{name}: MISMATCH: {self.mismatch[name]}" for name in names if name in self.mismatch]

    def simulated_runtimes(self, cell_id: str, labels: list[str] | None = None) -> np.ndarray:
        """Simulated-restart runtimes [targets, samples] of one cell (inf: never)."""
        hits, steps = self.hits(cell_id)
        rng = np.random.default_rng([self.rng_seed, _crc(cell_id)])
        columns = [self.target_labels.index(label) for label in (self.target_labels if labels is None else labels)]
        if not columns:
            return np.empty((0, ECDF_SAMPLES))
        return np.stack([metrics.simulated_runtimes(hits[:, j], steps, ECDF_SAMPLES, rng) for j in columns])

    def ert_interval(self, cell_id: str, label: str) -> tuple[float, float]:
        """95% bootstrap interval of the cell's ERT at a target (seeded by the cell and target)."""
        key = (cell_id, label)
        if key not in self._intervals:
            hits, steps = self.hits(cell_id)
            rng = np.random.default_rng([self.rng_seed, _crc(cell_id), _crc(label)])
            self._intervals[key] = metrics.ert_interval(hits[:, self.target_labels.index(label)], steps,
                                                        rng, resamples=ERT_RESAMPLES)
        return self._intervals[key]

    def swept(self, landscape: str) -> list[str]:
        """The optimizer hyperparameters (``p_opt_*`` columns) that vary within some entry on this landscape."""
        cells = self.landscape_cells(landscape)
        found = {c for entry in cells["entry"].unique()
                 for c in metrics.own_hyperparameters(cells, entry, landscape)}
        return [c for c in cells.columns if c in found]

    def setting_text(self, row: pd.Series, landscape: str | None = None) -> str:
        """The entry's own swept values of a selected cell (``learning_rate=0.01*``; * at the sweep's edge)."""
        return metrics.setting_text(self.ok, row)

    # --- what the verdicts rest on ------------------------------------------------

    @functools.cached_property
    def _ranked_at(self) -> dict[str, dict]:
        first = self.board.drop_duplicates("landscape_label")
        return {row["landscape_label"]: {
            "label": str(row["rank_target"]), "unsolved": bool(row["unsolved"]),
            "below_resolution": bool(row["below_resolution"]), "resolution": float(row["resolution"]),
            "held_half": bool(row["held_half"])}
            for _, row in first.iterrows()}

    def ranked_at(self, landscape: str) -> dict:
        """The landscape's ranking target and why: ``{"label", "unsolved", "below_resolution", "resolution"}``."""
        return self._ranked_at.get(landscape, {"label": self.target, "unsolved": False,
                                               "below_resolution": False, "resolution": float("nan")})

    def verdict_note(self, landscape: str) -> str:
        """The sentence saying a landscape was not ranked at the run's hardest target, or ``""``."""
        at = self.ranked_at(landscape)
        if at["below_resolution"]:
            return (f"{landscape}: the hardest target Δf ≤ {self.target} is below resolution (float "
                    f"rounding at f* decides below Δf ≈ {at['resolution']:.2g}); ranked at "
                    f"Δf ≤ {at['label']} instead. To score it, run with --precision float64 (precision = "
                    f"\"float64\") or write the landscape relative to its minimum (loss f − f*, f* = 0).")
        if at["unsolved"]:
            where = ("the hardest target some setting held on at least half of its restarts"
                     if at.get("held_half", True) else
                     "the easiest target, since no setting held any target on half of its restarts: "
                     "the comparison there falls mostly to the final loss")
            return (f"{landscape}: unsolved at {self.target} (no setting of any entry held Δf ≤ "
                    f"{self.target} at the end of a restart); ranked at Δf ≤ {at['label']}, {where}.")
        return ""

    def resolvable(self, landscape: str) -> list[str]:
        """The target labels at or above the landscape's float resolution (every one if it is unknown)."""
        return [label for label in self.target_labels if not self.below_resolution(landscape, label)]

    def below_resolution(self, landscape: str, label: str) -> bool:
        """Whether the target ``label`` is finer than the landscape's float resolution."""
        at = self.ranked_at(landscape)
        return float(label) < at["resolution"] if not math.isnan(at["resolution"]) else False

    @functools.cached_property
    def _warnings(self) -> dict[str, str]:
        """Per landscape: the run's ``warning`` (an exact f* undercut), or one computed for older runs."""
        found = {}
        for landscape in self.landscapes:
            rows = self.landscape_cells(landscape)
            if rows.empty:
                continue
            if "warning" in rows:
                texts = [str(w) for w in rows["warning"].fillna("") if str(w)]
                if texts:
                    found[landscape] = texts[0]
                continue
            info = self.f_star(landscape)
            if info["kind"] != "exact":
                continue
            lowest = float(np.min(metrics.finite_or_inf(rows["best_loss"].to_numpy())))
            res = float(metrics.cell_resolution(rows).max())
            gap = metrics.f_opt_violation(lowest, info["f_opt"], res)
            if gap > 0:
                found[landscape] = (f"the lowest loss {lowest:.6g} is {gap:.3g} below the exact f* = "
                                    f"{info['f_opt']:.6g} (more than the resolution {res:.2g}): f* or "
                                    f"the landscape is wrong, and its Δf cannot be trusted")
        return found

    def warning(self, landscape: str) -> str:
        """The landscape's f* warning (the lowest loss went below an exact f*), or ``""``."""
        return self._warnings.get(landscape, "")

    def cell_value(self, column: str, default=None):
        """A run-wide cell column's value (``precision``, ``stop_at_target``, ``tuning``), or ``default``."""
        if self.cells.empty or column not in self.cells:
            return default
        values = self.cells[column].dropna()
        return values.iloc[0] if not values.empty else default

    def mode_text(self) -> str:
        """How the final loss was measured: the run's mode, in words."""
        stop = self.cell_value("stop_at_target")
        if stop is None:
            return ("not recorded (a run written before the mode was: restarts stopped at the last "
                    "target, so the final loss is the loss at the stop)")
        if bool(stop):
            return "fixed-target mode: restarts stop at the last target, final loss is the loss at the stop"
        return "default: every restart runs every step; final loss is f(x_T)"


def _crc(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())
