"""Several run folders reported as one (``suite report RUN_A RUN_B ...``), and where each entry came from.

As cocopp compares algorithm folders, a comparison merges the runs' tables
into one leaderboard. On every landscape they share, the runs must have run
under the same conditions (:data:`COMPARED`, and the same version of the
landscape's plugin): each cell records its conditions in ``cell.json``, a
published folder in its ``config.toml``. The first difference is refused in
one line, or, asked to (``--allow-mismatch``), reported and flagged at every
landscape it touches. Runs of one config made with ``--part`` hold disjoint
cells and merge into exactly the tables of one run. A cell that two runs
both hold (a baseline run twice) is kept from each: the later run's entry is
renamed ``entry [run]`` so that neither hides the other.

The ``runs`` section says which run (or which ``--extend``) each entry came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pandas as pd

import suite
from suite.errors import UsageError
from suite.report.blocks import Code, Note, Table, Text
from suite.report.data import Report
from suite.results import DIAGNOSTIC_TABLES, TABLES, RunDir, conditions

# What makes two runs' numbers on a landscape comparable: the same starts (seed),
# budget, targets, arithmetic and selection. Batch size and device count change
# only the last bits; diagnostics and checkpoints add tables, not numbers.
COMPARED = ("seed", "restarts", "steps", "targets", "precision", "stop_at_target", "tuning", "matmul_precision")


@dataclasses.dataclass
class Source:
    """One run of a comparison.

    Attributes:
      name: how the report names it (its folder's name, made unique).
      path: its folder.
      metadata: its ``metadata.json``.
      config_text: its ``config.toml``.
      entries: its entries, as the comparison names them.
      renamed: entry -> its name in the comparison, where an earlier run holds the same cells.
      landscapes: the landscape labels it has cells on.
    """

    name: str
    path: Path
    metadata: dict
    config_text: str
    entries: list[str] = dataclasses.field(default_factory=list)
    renamed: dict[str, str] = dataclasses.field(default_factory=dict)
    landscapes: list[str] = dataclasses.field(default_factory=list)


def combine(paths: list[str | Path], *, allow_mismatch: bool = False) -> Report:
    """The runs in ``paths`` as one :class:`Report`; a one-line UsageError where they cannot be compared."""
    paths = [Path(p) for p in paths]
    seen = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            raise UsageError(f"run folder {str(path)!r} is given twice (as {str(seen[key])!r}); give each run once")
        seen[key] = path
    names = _names(paths)
    read = [_read(path, name) for path, name in zip(paths, names)]
    mismatch = _mismatches(read, allow_mismatch)
    tables, plan, sources = _merge(read)
    first = read[0]
    metadata = dict(first["metadata"]) | {"compared": [str(p) for p in paths]}
    return Report.of(paths[0], tables, metadata, plan, unreadable=first["unreadable"] | {
        cid: f"{r['name']}: {why}" for r in read[1:] for cid, why in r["unreadable"].items()},
        name=" + ".join(names), runs=sources, mismatch=mismatch)


def _names(paths: list[Path]) -> list[str]:
    """Each folder's name, with as many parent folders as it takes to tell them apart."""
    depth = 1
    while True:
        names = ["/".join(p.resolve().parts[-depth:]) for p in paths]
        if len(set(names)) == len(names) or depth > 8:
            return names if len(set(names)) == len(names) else [f"{n} ({i + 1})" for i, n in enumerate(names)]
        depth += 1


def _read(path: Path, name: str) -> dict:
    """A run folder's tables, metadata, plan and, per cell, the conditions it ran under."""
    if not path.is_dir():
        raise UsageError(f"run folder {str(path)!r} does not exist; give folders written by suite run")
    run = RunDir(path)
    if not run.config_path.is_file() and not (path / "cells.parquet").is_file():
        raise UsageError(f"{str(path)!r} is not a run folder (no config.toml or cells.parquet in it)")
    tables = run.tables()
    unreadable = dict(run.unreadable)
    own = {cid: state.conditions for cid, state in run.scan().items() if state.conditions}
    config = conditions(run.read_config()) if run.config_path.is_file() else {}
    cells = tables["cells"]
    per_cell = {cid: own.get(cid, config) for cid in (cells["cell_id"] if not cells.empty else [])}
    text = run.config_path.read_bytes().decode("utf-8", errors="replace") if run.config_path.is_file() else ""
    return {"name": name, "path": path, "tables": tables, "metadata": run.read_metadata(), "plan": run.read_plan(),
            "conditions": per_cell, "config_text": text, "unreadable": unreadable}


def _landscape_conditions(run: dict) -> dict[str, dict]:
    """Per landscape label: the conditions its first cell ran under, and its plugin's source."""
    cells = run["tables"]["cells"]
    sources = run["plan"].get("components", {}).get("landscapes", {})
    out: dict[str, dict] = {}
    if cells.empty:
        return out
    for cid, label, name in zip(cells["cell_id"], cells["landscape_label"], cells["landscape"]):
        if label in out:
            continue
        record = run["conditions"].get(cid) or {}
        found = {k: record[k] for k in COMPARED if k in record}
        source = sources.get(name, {}).get("source")
        if source:
            found["landscape plugin"] = source
        out[label] = found
    return out


def _mismatches(read: list[dict], allow: bool) -> dict[str, str]:
    """Per landscape, the conditions on which the runs differ; refused unless ``allow``."""
    found: dict[str, str] = {}
    held = [(_landscape_conditions(run), run["name"]) for run in read]
    for label in dict.fromkeys(label for conditions_, _ in held for label in conditions_):
        having = [(c[label], name) for c, name in held if label in c]
        base, base_name = having[0]
        for other, name in having[1:]:
            key = next((k for k in (*COMPARED, "landscape plugin") if k in base and k in other
                        and base[k] != other[k]), None)
            if key is None:
                continue
            text = f"{key} is {_shown(base[key])} in {base_name} but {_shown(other[key])} in {name}"
            if not allow:
                raise UsageError(
                    f"runs {base_name!r} and {name!r} cannot be compared on {label}: {text}; compare runs made "
                    f"under the same conditions (suite run --extend RUN adds entries under a run's own), or "
                    f"pass --allow-mismatch to report them with the mismatch flagged")
            found[label] = "; ".join(filter(None, [found.get(label, ""), text]))
    return found


def _shown(value) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge(read: list[dict]) -> tuple[dict, dict, list[Source]]:
    """The runs' tables as one run's, the merged plan, and each run's :class:`Source`."""
    taken: set[str] = set()
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES + DIAGNOSTIC_TABLES}
    planned, components, sources, in_plan = [], {}, [], set()
    landscape_rank: dict[str, int] = {}
    for index, run in enumerate(read):
        cells = run["tables"]["cells"]
        ids = set(cells["cell_id"]) if not cells.empty else set()
        # An entry holding a cell an earlier run holds too is this run's own measurement of it: renamed.
        twice = set(cells.loc[cells["cell_id"].isin(taken), "entry"]) if ids & taken else set()
        renamed = {entry: f"{entry} [{run['name']}]" for entry in sorted(twice)}
        remap = {cid: hashlib.sha1(f"{run['name']}|{cid}".encode()).hexdigest()[:12]
                 for cid, entry in zip(cells.get("cell_id", []), cells.get("entry", [])) if entry in renamed}
        for name in parts:
            table = run["tables"].get(name, pd.DataFrame())
            if table.empty:
                continue
            table = table.copy()
            if "entry" in table:
                table["entry"] = table["entry"].replace(renamed)
            if remap and "cell_id" in table:
                table["cell_id"] = table["cell_id"].replace(remap)
            if name == "cells":
                for label in table.sort_values("order", kind="stable")["landscape_label"]:
                    landscape_rank.setdefault(label, len(landscape_rank))
                table = table.assign(run=run["name"], _run=index)
            parts[name].append(table)
        for cell in run["plan"].get("cells", []):
            cell = dict(cell, cell_id=remap.get(cell["cell_id"], cell["cell_id"]))
            cell["entry"] = renamed.get(cell.get("entry"), cell.get("entry"))
            if cell["cell_id"] not in in_plan:
                in_plan.add(cell["cell_id"])
                planned.append(cell)
        for kind, specs in run["plan"].get("components", {}).items():
            components.setdefault(kind, {}).update({k: v for k, v in specs.items()
                                                   if k not in components.get(kind, {})})
        taken |= {remap.get(cid, cid) for cid in ids}
        entries = list(dict.fromkeys(cells["entry"].replace(renamed))) if not cells.empty else []
        sources.append(Source(run["name"], run["path"], run["metadata"], run["config_text"], entries, renamed,
                              list(dict.fromkeys(cells["landscape_label"])) if not cells.empty else []))
    tables = {name: _missing_as_none(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()
              for name, frames in parts.items()}
    cells = tables["cells"]
    if not cells.empty:  # landscape by landscape as one run lists them; within one, run by run
        cells = cells.assign(_landscape=cells["landscape_label"].map(landscape_rank))
        cells = cells.sort_values(["_landscape", "_run", "order"], kind="stable").reset_index(drop=True)
        tables["cells"] = cells.assign(order=range(len(cells))).drop(columns=["_landscape", "_run"])
        rank = dict(zip(tables["cells"]["cell_id"], tables["cells"]["order"]))
        for name in ("restarts", "curves", *DIAGNOSTIC_TABLES):
            if not tables[name].empty:
                key = tables[name]["cell_id"].map(rank)
                tables[name] = (tables[name].assign(_order=key).sort_values("_order", kind="stable")
                                .drop(columns="_order").reset_index(drop=True))
    return tables, {"cells": planned, "components": components}, sources


def _missing_as_none(table: pd.DataFrame) -> pd.DataFrame:
    """Missing values of text and flag columns as None, as one run's tables hold them (concat leaves NaN
    where a run has no such column); the frame comes back whole, not fragmented."""
    objects = [c for c in table.columns if table[c].dtype == object]
    if objects:
        table[objects] = table[objects].astype(object).where(table[objects].notna(), None)
    return table.copy()


# --- the section --------------------------------------------------------------------


def runs(report: Report):
    """Where each entry came from: the runs compared (or the extensions of one run), and how they differ."""
    if report.runs:
        yield from _compared(report)
        return
    extended = report.metadata.get("extended") or []
    if not extended:
        return
    rows = [{"entries": ", ".join(map(str, e.get("entries", []))), "added": e.get("at", "?"),
             "device": _device(e.get("device")), "command": " ".join(map(str, e.get("command", [])))}
            for e in extended if isinstance(e, dict)]
    original = sorted(set(report.entries) - {name for e in extended if isinstance(e, dict)
                                             for name in e.get("entries", [])})
    yield Text(f"The run was extended {len(rows)} time{'s' if len(rows) != 1 else ''} (suite run --extend): the "
               f"entries below were added later under the run's own conditions, with the same starts. "
               f"The run's first entries: {', '.join(original) or 'none'}.")
    yield Table(pd.DataFrame(rows), caption="Entries added by --extend, in order.", sortable=False)


def _compared(report: Report):
    sources = report.runs
    yield Text(f"This report compares {len(sources)} runs, merged into one leaderboard: each landscape's "
               f"entries are ranked together, restart i of every entry started from the same point.")
    rows = []
    for source in sources:
        meta = source.metadata
        rows.append({"run": source.name, "folder": str(source.path), "entries": ", ".join(source.entries),
                     "landscapes": len(source.landscapes), "started": meta.get("started", "?"),
                     "device": _device(meta.get("device")), "suite": (meta.get("versions") or {}).get("suite", "?"),
                     "commit": str(meta.get("git_commit") or "?")[:12]})
    yield Table(pd.DataFrame(rows), caption="The runs compared and the entries each brought.", sortable=False)
    for source in sources:
        for entry, name in source.renamed.items():
            yield Note(f"{entry} ran in an earlier run of this comparison too, on the same cells; "
                       f"{source.name}'s measurement is shown as {name}.")
    everywhere = set(report.landscapes)
    for source in sources:
        absent = [name for name in report.landscapes if name not in source.landscapes]
        if absent and len(absent) < len(everywhere):
            yield Note(f"{source.name} has no cells on {', '.join(absent)}: its entries are not ranked there.")
    devices = {_device(s.metadata.get("device")) for s in sources}
    if len(devices) > 1:
        yield Note(f"The runs ran on different devices ({', '.join(sorted(devices))}): seconds and "
                   f"time-to-target compare the machines as much as the optimizers.", kind="warning")
    for landscape, text in report.mismatch.items():
        yield Note(f"MISMATCH on {landscape}: {text}. Entries from these runs were not measured under the "
                   f"same conditions there (reported with --allow-mismatch): their ranks there do not "
                   f"compare like with like.", kind="warning")
    for source in sources:
        if source.config_text:
            yield Text(f"config.toml of {source.name}:")
            yield Code(source.config_text)


def _device(device) -> str:
    if not isinstance(device, dict):
        return "?"
    return f"{device.get('platform', '?')} ({device.get('kind', '?')}) × {device.get('count', 1)}"


@suite.hookimpl
def register_report_sections(register):
    register("runs", runs, title="Runs and where each entry came from", scope="run", order=15)
