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

import json
import tomllib
from pathlib import Path

import pandas as pd

from suite import config as cfg
from suite.errors import UsageError, one_line, shown
from suite.results.files import atomic_write
from suite.specs import StudySpec
from suite.verdict import VERSION, StudyData, Verdict

SIZES = ("tiny", "small", "full")
SIZE_DOCS = {"tiny": "seconds: checks the machinery (CI), too small for a verdict",
             "small": "a few minutes on a laptop CPU",
             "full": "the published scale, for a GPU"}
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
    if not isinstance(study.get("references", []), list):
        raise UsageError(f"study {spec.name!r}: references in {name} must be a list of strings")
    if not isinstance(study.get("tolerance", {}), dict):
        raise UsageError(f"study {spec.name!r}: tolerance in {name} must be a table ([study.tolerance])")
    sizes = study.get("size", {})
    if not isinstance(sizes, dict) or not all(isinstance(v, dict) for v in sizes.values()):
        raise UsageError(f"study {spec.name!r}: size in {name} must hold tables ([study.size.small])")
    for size in sizes:
        if size not in SIZES:
            raise UsageError(f"study {spec.name!r}: unknown size {shown(size)} in {name}; "
                             f"choose from: {', '.join(SIZES)}")
    return data


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
    run = cfg.from_toml(data, f"study {spec.name!r} ({spec.config}, size {size})")
    base = spec.config.parent
    run.plugins = [str(p if Path(p).is_absolute() else base / p) for p in run.plugins]
    run.check()
    return run


def study_table(config_text: str) -> dict | None:
    """The ``[study]`` table of a run folder's ``config.toml`` text, or None for a plain run."""
    try:
        study = tomllib.loads(config_text).get("study")
    except tomllib.TOMLDecodeError:
        return None
    return study if isinstance(study, dict) and study else None


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
        verdict = Verdict("error", f"the study {name!r} is not installed here, so its check cannot run; "
                                   f"choose from: {', '.join(sorted(registry.studies)) or 'none'}")
    else:
        try:
            verdict = spec.check(data)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"the check returned {type(verdict).__name__}, not a suite.verdict.Verdict")
        except Exception as exc:  # a broken check never takes the run or its report down
            verdict = Verdict("error", f"the check of study {name!r} failed: {one_line(exc)}")
    verdict = _weakened(verdict, cells, planned)
    return {"version": VERSION, "study": name, "size": study.get("size", ""),
            "claim": study.get("claim", ""), "references": list(study.get("references", [])),
            "tolerance": dict(study.get("tolerance", {})), "verdict": verdict.to_json()}


def _weakened(verdict: Verdict, cells: pd.DataFrame, planned: int | None) -> Verdict:
    """``verdict`` with a note on cells that failed or never ran; "reproduced" becomes inconclusive."""
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
