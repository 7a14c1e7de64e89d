"""What every export writes: each entry's selected cell per landscape, its restarts' first hits, f* and size.

A run holds every setting an entry tried; an export holds one per landscape
instance, the one the leaderboard selected (:func:`suite.metrics.leaderboard`),
so the field's tools see the same algorithm the leaderboard ranks. Runtimes are
in optimizer steps, counted as the suite's ERT counts them (the start is step
0). The restart table keeps, per restart, the first step at which each target
was met (not the loss at every step), so what an export can say of a restart
is :func:`improvements`: the steps where its best Δf first fell to a target.

Also here: where an export may write (:func:`claim_out`, :func:`staged`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from suite import metrics
from suite.errors import UsageError
from suite.results import RunDir
from suite.results.files import remove

# Written into an export folder: which format and which names it wrote (so a new export replaces exactly those).
MARKER = "suite-export.txt"
# The hidden folder an export writes into before renaming its entries into place (staged).
_STAGING = re.compile(r"\.export\.\d+\..+\.tmp")


@dataclasses.dataclass(frozen=True)
class Function:
    """One landscape setting (its instances share it): a COCO function, an IOHprofiler problem.

    Attributes:
      number: 1, 2, ... in the order of the run's plan (whether or not each landscape finished, so
        the parts of a split run number alike).
      label: the setting's label, ``bowl(condition=100.0, dim=20, ...)`` (an
        instance i > 0 appends ``#i`` in the run's tables).
      coordinates: how many numbers the optimizer moves (the flattened point).
      f_opt: the f* the run measured Δf = f − f* from: 0 where f* is unknown.
      f_opt_kind: ``exact``, ``reference`` (Δf can be negative) or ``unknown``.
      resolution: the Δf below which float rounding decides (the leaderboard's).
    """

    number: int
    label: str
    coordinates: int
    f_opt: float
    f_opt_kind: str
    resolution: float


@dataclasses.dataclass(frozen=True)
class Trials:
    """One entry's restarts at its selected setting on one landscape instance.

    Attributes:
      function: the landscape setting.
      instance: the run's instance number (0, 1, ...).
      f_opt: this instance's f* (instances of one setting can differ: logistic's data,
        pspin's couplings); 0 where unknown. Δf = f − f_opt.
      entry: the entry (``adam``, ``adam+stale(tau=8)``).
      cell_id: the selected cell.
      setting: its swept hyperparameters as the leaderboard shows them (``""``: nothing swept).
      hits: [restarts, targets] first step at which f − f* met each target,
        NaN where never or where the target is below the resolution (the
        leaderboard scores those NaN: rounding, not the optimizer, decides).
      steps: [restarts] steps each ran (T, or fewer when it diverged or stopped at the last target).
      best: [restarts] lowest finite loss seen (inf: none was finite).
      final: [restarts] f(x_T) (NaN or inf after a divergence).
    """

    function: Function
    instance: int
    f_opt: float
    entry: str
    cell_id: str
    setting: str
    hits: np.ndarray
    steps: np.ndarray
    best: np.ndarray
    final: np.ndarray


@dataclasses.dataclass(frozen=True)
class Selected:
    """What an export writes from one run.

    Attributes:
      run: the run folder.
      targets: the run's targets Δf, easiest first (exact values, from its config).
      labels: their column labels (``63.1``), as in ``ert_<label>``.
      functions: the landscape settings, in the run's order.
      trials: per function, entry and instance, in that order.
    """

    run: Path
    targets: np.ndarray
    labels: list[str]
    functions: list[Function]
    trials: list[Trials]


def select(run_dir: Path) -> Selected:
    """The run's landscapes, and each entry's selected cell on every landscape instance, with its restarts.

    An entry whose every cell failed on an instance has no trials there.
    Raises a one-line :class:`UsageError` for a folder that is not a run or
    has no finished cell.
    """
    run = RunDir(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{str(run_dir)!r} is a file, not a run folder; give a folder written by suite run")
    if not run_dir.is_dir():
        raise UsageError(f"run folder {str(run_dir)!r} does not exist")
    if not run.config_path.is_file() and not (run_dir / "cells.parquet").is_file():
        raise UsageError(f"{str(run_dir)!r} is not a run folder (no config.toml or cells.parquet in it)")
    tables = run.tables()
    cells, restarts = tables["cells"], tables["restarts"]
    if cells.empty or restarts.empty or not (cells["status"] == "ok").any():
        raise UsageError(f"run folder {str(run_dir)!r} has no finished cell to export")
    cells = cells if "entry" in cells else cells.assign(entry=cells["optimizer"])  # runs before wrappers
    cells = cells if "instance" in cells else cells.assign(instance=0)  # runs before instances
    board = metrics.leaderboard(cells, restarts)
    found = metrics.targets_of(restarts)
    labels = [label for _, label in found]
    values = _exact_targets(run, found)
    setting_of = {label: _setting_label(label, _instance(i)) for label, i in zip(cells["landscape_label"],
                                                                               cells["instance"])}
    functions = _functions(run, cells, board, setting_of)
    by_id = cells.drop_duplicates("cell_id").set_index("cell_id")
    rows = restarts.sort_values(["cell_id", "restart"], kind="stable")
    positions = rows.groupby("cell_id", sort=False).indices
    trials = []
    for function in functions:
        mine = board[board["landscape_label"].map(setting_of) == function.label]
        for _, row in mine.sort_values(["entry", "instance"], kind="stable").iterrows():
            part = rows.iloc[positions[row["cell_id"]]]
            hits = metrics.hit_matrix(part, labels)
            hits[:, values < function.resolution] = np.nan
            own = by_id.loc[row["cell_id"]]
            trials.append(Trials(
                function=function, instance=_instance(row["instance"]),
                f_opt=float(own["f_opt"]) if bool(own.get("f_opt_known", False)) else 0.0, entry=str(row["entry"]),
                cell_id=str(row["cell_id"]), setting=metrics.setting_text(cells, row), hits=hits,
                steps=part["steps"].to_numpy(np.float64),
                best=metrics.finite_or_inf(part["best_loss"].to_numpy(np.float64)),
                final=part["final_loss"].to_numpy(np.float64)))
    return Selected(run=run_dir, targets=values, labels=labels, functions=functions, trials=trials)


def improvements(trials: Trials, restart: int, targets: np.ndarray) -> list[tuple[int, float]]:
    """``(step, Δf)`` at every step where a restart first met targets: Δf is the hardest target met there.

    The run records that f − f* met the target at that step, not the loss:
    Δf is an upper bound of f − f* there (and above the next target, unmet
    until a later step). Steps ascend; Δf descends.
    """
    hits = trials.hits[restart]
    met = np.flatnonzero(~np.isnan(hits))
    out: list[tuple[int, float]] = []
    for j in met:  # targets are nested: a later (harder) one is never met earlier
        step = int(hits[j])
        if out and out[-1][0] == step:
            out[-1] = (step, float(targets[j]))
        else:
            out.append((step, float(targets[j])))
    return out


def _instance(value) -> int:
    return int(value) if pd.notna(value) else 0


def _instance_of(label: str) -> int:
    """The instance a ``landscape_label`` names (``bowl(dim=2)#3`` is 3; no suffix: 0)."""
    head, _, tail = label.rpartition("#")
    return int(tail) if head.endswith(")") and tail.isdigit() else 0


def _setting_label(label: str, instance: int) -> str:
    """The setting of a ``landscape_label``: instance i > 0 appends ``#i`` (:class:`suite.plan.LandscapeSetting`)."""
    return label.removesuffix(f"#{instance}") if instance else label


def _exact_targets(run: RunDir, found: list[tuple[float, str]]) -> np.ndarray:
    """The targets' exact values: the config's (labels keep 3 digits: ``63.1`` is 10^1.8 = 63.0957...).

    Without a readable config.toml, a label of COCO's grid 10^(k/5) (the
    default targets) is read as that value, any other as written.
    """
    exact: dict[str, float] = {}
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, TypeError, ValueError):
        exact = {metrics.target_label(float(t)): float(t)
                 for t in tomllib.loads(run.config_path.read_text())["targets"]}
    grid = {metrics.target_label(10.0 ** (k / 5)): 10.0 ** (k / 5) for k in range(-100, 101)}
    return np.array([exact.get(label, grid.get(label, value)) for value, label in found])


def _functions(run: RunDir, cells: pd.DataFrame, board: pd.DataFrame, setting_of: dict) -> list[Function]:
    """Every landscape setting with a finished cell, in the run's order, with its size, f* and resolution."""
    ok = cells[cells["status"] == "ok"]
    finished = set(ok["landscape_label"].map(setting_of))
    # Numbered by the plan, not by what finished: a part of a split run, or a run whose first landscape
    # failed, numbers its landscapes as the whole run does.
    try:
        planned = [c["landscape_label"] for c in run.read_plan().get("cells", [])]
    except UsageError:
        planned = []
    order = list(dict.fromkeys(_setting_label(label, _instance_of(label)) for label in planned))
    order += [s for s in dict.fromkeys(ok["landscape_label"].map(setting_of)) if s not in order]
    numbers = {label: i for i, label in enumerate(order, start=1)}
    settings = [s for s in order if s in finished]
    given = _coordinates_column(ok, setting_of)
    missing = [s for s in settings if s not in given]
    built = _built_coordinates(run, missing) if missing else {}
    out = []
    for label in settings:
        number = numbers[label]
        row = ok[ok["landscape_label"].map(setting_of) == label].iloc[0]
        known = bool(row.get("f_opt_known", False))
        resolution = board.loc[board["landscape_label"].map(setting_of) == label, "resolution"]
        out.append(Function(
            number=number, label=label, coordinates=given.get(label) or built[label],
            f_opt=float(row["f_opt"]) if known else 0.0,
            f_opt_kind=str(row.get("f_opt_kind") or "exact") if known else "unknown",
            resolution=float(resolution.max()) if len(resolution) else 0.0))
    return out


def _coordinates_column(ok: pd.DataFrame, setting_of: dict) -> dict[str, int]:
    """Sizes the run recorded (a ``coordinates`` column of cells.parquet), where it has one."""
    if "coordinates" not in ok:
        return {}
    sizes = pd.to_numeric(ok["coordinates"], errors="coerce")
    return {setting_of[label]: int(n) for label, n in zip(ok["landscape_label"], sizes) if pd.notna(n) and n > 0}


def _built_coordinates(run: RunDir, labels: list[str]) -> dict[str, int]:
    """The size of each landscape setting in ``labels``, from an instance built as the run built it.

    For runs whose cells.parquet does not record it: the landscape's plugin
    must be installed (or be a file the run's config names, still in place).
    """
    from suite import plan
    from suite.registry import load_registry

    if not run.config_path.is_file():
        raise UsageError(f"cannot tell how many coordinates landscape {labels[0]} has: the run's cells.parquet "
                         f"does not record it and {run.config_path} is missing, to build it from")
    config = run.read_config("run folder")
    registry = load_registry(local_files=[p for p in config.plugins if Path(p).is_file()])
    out: dict[str, int] = {}
    for comp in config.landscapes:
        try:
            spec = registry.landscape(comp.name)
        except UsageError as exc:
            raise UsageError(f"cannot tell how many coordinates landscape {comp.name!r} has: the run's "
                             f"cells.parquet does not record it, and building it needs its plugin ({exc})") from None
        for values in plan.expand(spec.params, comp.values, f"landscape {comp.name!r}", {}):
            setting = plan.LandscapeSetting(spec, values)
            if setting.setting_label in labels and setting.setting_label not in out:
                out[setting.setting_label] = _size(setting, config.seed)
    lost = [label for label in labels if label not in out]
    if lost:
        raise UsageError(f"cannot tell how many coordinates landscape {lost[0]} has: its run's config.toml "
                         f"does not make it; restore the run's config.toml")
    return out


def _size(setting, seed: int) -> int:
    """The number of coordinates of a landscape setting's start, traced (no arrays made) where its build allows."""
    import jax

    from suite import diagnostics, streams

    def start(instance_key, init_key):
        return diagnostics.flatten(setting.spec.build(dict(setting.values), key=instance_key).init(init_key))[0]

    instance_key, init_key, _ = streams.keys(seed, setting)
    try:
        return int(jax.eval_shape(start, instance_key, init_key).shape[0])
    except Exception:  # noqa: BLE001 - a build that runs host code (numpy) cannot be traced: build it for real
        instance = streams.draw(setting, seed).instance
        return int(diagnostics.flatten(instance.init(init_key))[0].shape[0])


# --- where an export writes ------------------------------------------------------


def claim_out(out: Path, format: str) -> list[str]:
    """Checks that ``out`` may receive an export in ``format``; returns the names an earlier one wrote there.

    ``out`` may be new, an empty folder, or a folder holding an earlier export
    of the same format (whose names the new export replaces); anything else
    is refused in one line, so an export never overwrites other files.
    """
    if os.path.lexists(out) and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, not a folder; give a new or empty folder")
    if not out.is_dir():
        return []
    try:  # what a killed export left (its hidden folder, see staged) does not count
        present = [p.name for p in out.iterdir() if not _STAGING.fullmatch(p.name)]
    except OSError as exc:
        raise UsageError(f"--out {str(out)!r} cannot be read: {exc.strerror or exc}") from None
    if not present:
        return []
    try:
        record = json.loads((out / MARKER).read_text())
        earlier = [str(n) for n in record["written"]] if record.get("format") == format else None
    except (OSError, ValueError, TypeError, KeyError):
        earlier = None
    if earlier is None or any("/" in n or n in ("", ".", "..") for n in earlier):
        raise UsageError(f"--out {str(out)!r} is not empty and holds no earlier {format} export of suite; "
                         f"give a new or empty folder")
    return earlier


@contextlib.contextmanager
def staged(out: Path, format: str, run_dir: Path, earlier: list[str]) -> Iterator[Path]:
    """A hidden folder inside ``out`` to write the export into; on success its entries replace the earlier ones.

    Each top-level entry is renamed into place, so a reader sees an old or a
    new algorithm folder, never a part; what the earlier export wrote and this
    one does not is removed (a stale algorithm would otherwise be read too).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".export.{os.getpid()}.", suffix=".tmp", dir=out))  # _STAGING
    except OSError as exc:
        raise UsageError(f"cannot write to --out {str(out)!r}: {exc.strerror or exc}") from None
    try:
        yield tmp
        written = sorted(p.name for p in tmp.iterdir())
        (tmp / MARKER).write_text(json.dumps({"format": format, "run": str(run_dir.resolve()),
                                              "written": written}, indent=1) + "\n")
        for name in [*set(earlier) - set(written), *written, MARKER]:
            remove(out / name)
            if name in written or name == MARKER:
                os.replace(tmp / name, out / name)
    finally:
        remove(tmp)
