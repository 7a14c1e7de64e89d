"""Studies: a study's TOML file read at a size, and its verdict computed from a run's tables.

A study file is a run config (the ``full`` size, for a GPU) plus a ``[study]``
table::

    [study]
    claim = "Steps to a target grow ∝ κ for gradient descent and ∝ √κ for ..."
    references = ["Polyak 1964 ...", "Nesterov 2004 ..."]

    [study.tolerance]      # what the check compares at, stated before it runs
    slope = 0.15

    [study.size.small]     # run keys replacing the top level's at this size
    restarts = 16
    steps = 3000

The run folder keeps the ``[study]`` table (with ``name`` and ``size``) in its
``config.toml``; :func:`evaluate` gives the verdict from the tables alone and
:func:`write` puts it in ``study.json``, which the report draws at its top.
"""

from __future__ import annotations

import datetime
import json
import math
import tomllib
from pathlib import Path

import pandas as pd

from suite import config as cfg
from suite.errors import UsageError, one_line, shown
from suite.results.files import atomic_write
from suite.specs import StudySpec
from suite.verdict import TEXT_LIMIT, VERSION, StudyData, Verdict

SIZES = ("tiny", "small", "full")
FILE = "study.json"
_TEXT_KEYS = ("claim",)


def read(spec: StudySpec) -> dict:
    """The study file of ``spec`` parsed and checked: its ``[study]`` table must state a claim."""
    name = str(spec.config)
    try:
        data = tomllib.loads(spec.config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"study {spec.name!r}: cannot read {name}: {one_line(exc)}") from None
    study = data.get("study")
    if not isinstance(study, dict):
        raise UsageError(f"study {spec.name!r}: {name} has no [study] table")
    for key in _TEXT_KEYS:
        if not isinstance(study.get(key), str) or not study[key].strip():
            raise UsageError(f"study {spec.name!r}: [study] in {name} needs {key} = \"...\" (text)")
        if len(study[key]) > TEXT_LIMIT:
            raise UsageError(f"study {spec.name!r}: {key} in {name} is over {TEXT_LIMIT} characters")
    references = study.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise UsageError(f"study {spec.name!r}: references in {name} must be a list of strings; "
                         f"got {shown(references, 80)}")
    tolerance = study.get("tolerance", {})
    if not isinstance(tolerance, dict):
        raise UsageError(f"study {spec.name!r}: tolerance in {name} must be a table ([study.tolerance])")
    for key, value in tolerance.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"study {spec.name!r}: tolerance {key} in {name} must be a finite number; "
                             f"got {shown(value, 80)}")
    _plain(study, f"study {spec.name!r}: [study] in {name}")
    sizes = study.get("size", {})
    if not isinstance(sizes, dict) or not all(isinstance(v, dict) for v in sizes.values()):
        raise UsageError(f"study {spec.name!r}: size in {name} must hold tables ([study.size.small])")
    for size, keys in sizes.items():
        if size not in SIZES:
            raise UsageError(f"study {spec.name!r}: unknown size {shown(size)} in {name}; "
                             f"choose from: {', '.join(SIZES)}")
        if "study" in keys:
            raise UsageError(f"study {spec.name!r}: [study.size.{size}] in {name} may hold run keys only, "
                             "not a study table")
    return data


def _plain(value, where: str, path: str = "") -> None:
    """Refuses what study.json cannot hold: non-finite numbers, dates and times (TOML has them)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _plain(item, where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            _plain(item, where, path)
    elif isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{where}: {path} must be a finite number; got {value!r}")
    elif isinstance(value, (datetime.date, datetime.time)):
        raise UsageError(f"{where}: {path} must be a number, text or a list; got the date or time {value}")


def config(spec: StudySpec, size: str = "small") -> cfg.RunConfig:
    """The run config of study ``spec`` at ``size``: the file's run keys with that size's replacing them."""
    if size not in SIZES:
        raise UsageError(f"unknown study size {shown(size)}; choose from: {', '.join(SIZES)}")
    data = read(spec)
    study = dict(data.pop("study"))
    overrides = study.pop("size", {}).get(size, {})
    data.update(overrides)
    study.update(name=spec.name, size=size)
    data["study"] = study
    where = f"study {spec.name!r} ({spec.config}, size {size})"
    run = cfg.from_toml(data, where)
    base = spec.config.parent
    run.plugins = [str(p if Path(p).is_absolute() else base / p) for p in run.plugins]
    try:
        run.check()
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return run


def study_table(config_text: str) -> dict | None:
    """The ``[study]`` table of a run folder's ``config.toml`` text, or None for a plain run."""
    try:
        study = tomllib.loads(config_text).get("study")
    except tomllib.TOMLDecodeError:
        return None
    return study if isinstance(study, dict) and study else None


def stated(config_study: dict, metadata: dict) -> tuple[dict, str | None]:
    """The ``[study]`` table stated when the run began (``metadata.json``), and a note if ``config.toml``'s differs.

    Tolerances are part of the claim's test: editing them in the run folder after
    the run began does not change the verdict, and the report says it was tried.
    """
    recorded = metadata.get("study") if isinstance(metadata, dict) else None
    if not isinstance(recorded, dict) or not recorded:
        return config_study, None
    if recorded == config_study:
        return recorded, None
    return recorded, ("config.toml's [study] table was edited after the run began; the verdict uses the one "
                      "stated when it began (metadata.json)")


def evaluate(tables: dict[str, pd.DataFrame], study: dict, registry, *, planned: int | None = None) -> dict:
    """The verdict record of a study run: its check applied to ``tables``, with the study's statement.

    A check that raises, or a study no longer installed, gives the status
    ``error`` with the reason, never an exception. Cells that failed or never
    ran make a verdict of "reproduced" inconclusive: the claim was not
    measured on everything the study planned.
    """
    name = str(study.get("name", ""))
    cells = tables.get("cells", pd.DataFrame())
    data = StudyData(cells=cells, restarts=tables.get("restarts", pd.DataFrame()),
                     curves=tables.get("curves", pd.DataFrame()), tables=dict(tables), study=dict(study))
    spec = registry.studies.get(name)
    if spec is None:
        return _record(study, Verdict("error", f"the study {name!r} is not installed here, so its check cannot run; "
                                               f"choose from: {', '.join(sorted(registry.studies)) or 'none'}").to_json())
    try:
        verdict = spec.check(data)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"the check returned {type(verdict).__name__}, not a suite.verdict.Verdict")
        written = _weakened(verdict, cells, planned, str(study.get("size", ""))).to_json()
        json.dumps(written, allow_nan=False)
    except (Exception, SystemExit) as exc:  # a broken check never takes the run or its report down
        written = Verdict("error", f"the check of study {name!r} failed: {one_line(exc)}").to_json()
    return _record(study, written)


def _record(study: dict, verdict: dict) -> dict:
    """What ``study.json`` holds: the study's statement and its verdict."""
    return {"version": VERSION, "study": str(study.get("name", "")), "size": str(study.get("size", "")),
            "claim": str(study.get("claim", "")), "references": [str(r) for r in study.get("references", [])],
            "tolerance": dict(study.get("tolerance", {})), "verdict": verdict}


def _weakened(verdict: Verdict, cells: pd.DataFrame, planned: int | None, size: str) -> Verdict:
    """``verdict`` made inconclusive at size tiny, and "reproduced" where cells failed or never ran, with notes."""
    if size == "tiny" and verdict.status in ("reproduced", "not reproduced"):
        verdict = Verdict("inconclusive", verdict.summary, verdict.comparisons, verdict.plots, verdict.numbers,
                          (f"size tiny checks the machinery only: its measurement would have said "
                           f"{verdict.status!r}, which at this size means nothing", *verdict.notes))
    failed = int((cells["status"] != "ok").sum()) if "status" in cells else 0
    missing = max(0, planned - len(cells)) if planned is not None else 0
    if not failed and not missing:
        return verdict
    parts = ([f"{failed} cell{'s' if failed != 1 else ''} failed"] if failed else []) + \
            ([f"{missing} never ran"] if missing else [])
    note = f"{' and '.join(parts)} of {planned if planned is not None else len(cells)}: the claim was not " \
           f"measured on all the study planned"
    status = "inconclusive" if verdict.status == "reproduced" else verdict.status
    return Verdict(status, verdict.summary, verdict.comparisons, verdict.plots, verdict.numbers,
                   (*verdict.notes, note))


def write(folder: str | Path, record: dict) -> Path:
    """Writes ``record`` to ``FOLDER/study.json`` atomically; returns the path."""
    path = Path(folder) / FILE
    atomic_write(path, json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def load(folder: str | Path) -> dict | None:
    """``FOLDER/study.json``, or None when there is none or it cannot be read."""
    try:
        record = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("verdict"), dict):
        return None
    try:
        Verdict.from_json(record["verdict"])
    except (KeyError, TypeError, ValueError):
        return None
    return record
