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

import numpy as np
import pandas as pd

import suite
from suite import metrics
from suite.errors import UsageError
from suite.report.blocks import Code, Note, Table, Text
from suite.report.data import Report
from suite.report.text import config_summary
from suite.report.sections import device_text
from suite.results import DIAGNOSTIC_TABLES, TABLES, RunDir, conditions
from suite.results.conditions import shown_value

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
    tables, plan, sources, notes = _merge(read)
    entries = list(dict.fromkeys(e for source in sources for e in source.entries))
    mismatch = _mismatches(read)
    for label, text in _coverage(plan, entries).items():
        mismatch[label] = "; ".join(filter(None, [mismatch.get(label, ""), text]))
    if mismatch and not allow_mismatch:
        label, text = next(iter(mismatch.items()))
        raise UsageError(f"the runs cannot be compared on {label}: {text}; compare runs made under the same "
                         f"conditions on the same landscapes (suite run --extend RUN adds entries under a run's "
                         f"own), or pass --allow-mismatch to report them with the mismatch flagged")
    first = read[0]
    metadata = dict(first["metadata"]) | {"compared": [str(p) for p in paths]}
    report = Report.of(paths[0], tables, metadata, plan, unreadable=first["unreadable"] | {
        cid: f"{r['name']}: {why}" for r in read[1:] for cid, why in r["unreadable"].items()},
        name=" + ".join(names), runs=sources, mismatch=mismatch)
    report.notes = notes
    return report


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
        raise UsageError(f"run folder {str(path)!r} " + ("is a file, not a run folder" if path.exists() else
                         "does not exist") + "; give folders written by suite run")
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
    plan = run.read_plan()
    if not plan.get("cells") and not cells.empty:  # a folder without plan.json: what it holds is what it planned
        plan = {**plan, "cells": cells[["cell_id", "landscape_label", "entry"]].to_dict("records")}
    return {"name": name, "path": path, "tables": tables, "metadata": run.read_metadata(), "plan": plan,
            "conditions": per_cell, "config_text": text, "unreadable": unreadable,
            "targets": [label for _, label in metrics.targets_of(tables["restarts"])]
            if not tables["restarts"].empty else None}


# What each cell's own row of cells.parquet says of its conditions (every run folder has it).
_ROW_CONDITIONS = ("seed", "restarts", "steps", "precision", "stop_at_target", "tuning")


def _landscape_conditions(run: dict) -> dict[str, dict]:
    """Per landscape label: the conditions its first cell ran under, and its plugin's source.

    From the cell's own row where it says (seed, restarts, steps, ...), else
    its ``cell.json`` or the folder's ``config.toml``; targets by their labels
    (the restart table's columns), so a folder of tables alone is checked too.
    """
    cells = run["tables"]["cells"]
    sources = run["plan"].get("components", {}).get("landscapes", {})
    out: dict[str, dict] = {}
    if cells.empty:
        return out
    for _, row in cells.drop_duplicates("landscape_label").iterrows():
        record = dict(run["conditions"].get(row["cell_id"]) or {})
        record |= {k: _plain(row[k]) for k in _ROW_CONDITIONS if k in row and pd.notna(row[k])}
        if "targets" in record:
            record["targets"] = [metrics.target_label(float(t)) for t in record["targets"]]
        elif run["targets"] is not None:
            record["targets"] = run["targets"]
        found = {k: record[k] for k in COMPARED if k in record}
        source = sources.get(row["landscape"], {}).get("source")
        if source:
            found["landscape plugin"] = source
        out[row["landscape_label"]] = found
    return out


def _plain(value):
    """A numpy scalar as the Python value TOML and JSON hold."""
    return value.item() if hasattr(value, "item") else value


def _mismatches(read: list[dict]) -> dict[str, str]:
    """Per landscape, the first condition on which each later run differs from the first run holding it."""
    found: dict[str, str] = {}
    held = [(_landscape_conditions(run), run["name"]) for run in read]
    for label in dict.fromkeys(label for conditions_, _ in held for label in conditions_):
        having = [(c[label], name) for c, name in held if label in c]
        base, base_name = having[0]
        for other, name in having[1:]:
            key = next((k for k in (*COMPARED, "landscape plugin") if k in base and k in other
                        and base[k] != other[k]), None)
            if key is not None:
                text = f"{key} is {shown_value(base[key])} in {base_name} but {shown_value(other[key])} in {name}"
                found[label] = "; ".join(filter(None, [found.get(label, ""), text]))
    return found


def _coverage(plan: dict, entries: list[str]) -> dict[str, str]:
    """Per landscape, the entries no run held there (not even planned): the ranking counts them last."""
    holding: dict[str, set] = {}
    for cell in plan["cells"]:
        holding.setdefault(cell.get("landscape_label"), set()).add(cell.get("entry"))
    found = {}
    for label, there in holding.items():
        lacking = [e for e in entries if e not in there]
        if lacking:
            found[label] = (f"{', '.join(lacking)} {'was' if len(lacking) == 1 else 'were'} not run on it (no run "
                            f"compared holds {'it' if len(lacking) == 1 else 'them'} there), so the overall ranking "
                            f"counts {'it' if len(lacking) == 1 else 'them'} last there")
    return found


def _planned(run: dict) -> dict[str, dict[str, frozenset]]:
    """Per entry, per landscape: the cells the run planned for it (what its tuning tried)."""
    out: dict[str, dict[str, set]] = {}
    for cell in run["plan"].get("cells", []):
        out.setdefault(cell.get("entry"), {}).setdefault(cell.get("landscape_label"), set()).add(cell["cell_id"])
    return {e: {k: frozenset(v) for k, v in by.items()} for e, by in out.items()}


def _merge(read: list[dict]) -> tuple[dict, dict, list[Source], list[tuple[str, str]]]:
    """The runs' tables as one run's, the merged plan, each run's :class:`Source`, and notes on what merged.

    An entry a later run shares with an earlier one is the same entry when both
    planned the same cells for it on every landscape both hold (the parts of a
    split run, a baseline measured again): its cells merge, and a cell both
    hold is taken from the earlier run. Tuned over other settings, it is another
    entry: renamed ``entry [run]``, as a run refuses one entry tuned twice.
    """
    kept: dict[str, str] = {}  # cell id -> the run it is taken from
    plans: dict[str, dict[str, frozenset]] = {}  # entry -> landscape -> planned cells, of the run that first had it
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES + DIAGNOSTIC_TABLES}
    planned, components, sources, in_plan, notes = [], {}, [], set(), []
    landscape_rank: dict[str, int] = {}
    finals: dict[str, pd.Series] = {}
    for index, run in enumerate(read):
        cells = run["tables"]["cells"]
        mine = _planned(run)
        renamed = {}
        for entry, by in mine.items():
            earlier = plans.get(entry)
            if earlier is not None and any(by[k] != earlier[k] for k in set(by) & set(earlier)):
                renamed[entry] = f"{entry} [{run['name']}]"
                notes.append(("info", f"{entry} in {run['name']} was tuned over other settings than in an earlier "
                                      f"run of this comparison: it is shown as {renamed[entry]}."))
            elif earlier is not None:
                earlier |= {k: v for k, v in by.items() if k not in earlier}
            else:
                plans[entry] = dict(by)
        plans |= {name: mine[entry] for entry, name in renamed.items()}
        remap = {cid: hashlib.sha1(f"{run['name']}|{cid}".encode()).hexdigest()[:12]
                 for cid, entry in zip(cells.get("cell_id", []), cells.get("entry", [])) if entry in renamed}
        twice = [cid for cid in (cells["cell_id"] if not cells.empty else []) if cid not in remap and cid in kept]
        if twice:
            notes.append(_agreement(run, twice, kept, finals))
        for name in parts:
            table = run["tables"].get(name, pd.DataFrame())
            if table.empty:
                continue
            table = table[~table["cell_id"].isin(twice)] if "cell_id" in table and twice else table.copy()
            if "entry" in table:
                table = table.assign(entry=table["entry"].replace(renamed))
            if remap and "cell_id" in table:
                table = table.assign(cell_id=table["cell_id"].replace(remap))
            if name == "cells":
                for label in table.sort_values("order", kind="stable")["landscape_label"]:
                    landscape_rank.setdefault(label, len(landscape_rank))
                table = table.assign(run=run["name"], _run=index)
            if name == "restarts" and not table.empty:
                finals |= {cid: rows["final_loss"] for cid, rows in table.groupby("cell_id", sort=False)}
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
        own = set(cells["cell_id"]) - set(twice) if not cells.empty else set()
        kept |= {remap.get(cid, cid): run["name"] for cid in own}
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
    return tables, {"cells": planned, "components": components}, sources, notes


def _agreement(run: dict, twice: list[str], kept: dict[str, str], finals: dict) -> tuple[str, str]:
    """The note on cells a run holds that an earlier one holds too: taken once, and how well they agree."""
    restarts = run["tables"]["restarts"]
    worst = 0.0
    for cid, rows in restarts[restarts["cell_id"].isin(twice)].groupby("cell_id", sort=False):
        a, b = rows["final_loss"].to_numpy(float), finals.get(cid, pd.Series(dtype=float)).to_numpy(float)
        if len(a) != len(b):
            worst = float("inf")
            continue
        both = np.isfinite(a) & np.isfinite(b)
        if (np.isfinite(a) != np.isfinite(b)).any():
            worst = float("inf")
        elif both.any():
            worst = max(worst, float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-30))))
    sources = sorted({kept[c] for c in twice})
    agree = ("their final losses are the same numbers" if worst == 0 else
             f"their final losses agree to {worst:.1g} relative" if worst < 1e-4 else
             "BUT their final losses differ (largest relative difference "
             f"{worst:.2g}): the runs did not compute the same thing")
    return ("info" if worst < 1e-4 else "warning",
            f"{len(twice)} cell{'s' if len(twice) != 1 else ''} of {run['name']} {'are' if len(twice) != 1 else 'is'} "
            f"also in {', '.join(sources)} (the same landscape, setting and conditions): each is taken once, from "
            f"{', '.join(sources)}; {agree}.")


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
             "device": device_text(e), "command": " ".join(map(str, e.get("command", [])))}
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
                     "device": device_text(meta), "suite": (meta.get("versions") or {}).get("landscape-suite", "?"),
                     "commit": str(meta.get("git_commit") or "?")[:12]})
    yield Table(pd.DataFrame(rows), caption="The runs compared and the entries each brought.", sortable=False)
    for kind, text in report.notes:
        yield Note(text, kind=kind)
    devices = {device_text(s.metadata) for s in sources}
    if len(devices) > 1:
        yield Note(f"The runs ran on different devices ({', '.join(sorted(devices))}): seconds and "
                   f"time-to-target compare the machines as much as the optimizers.", kind="warning")
    for landscape, text in report.mismatch.items():
        yield Note(f"MISMATCH on {landscape}: {text}. The entries there were not measured alike (reported "
                   f"with --allow-mismatch): their ranks there do not compare like with like.", kind="warning")
    for source in sources:
        if source.config_text:
            yield Code(source.config_text, fold=f"{source.name}: {config_summary(source.config_text)}")


@suite.hookimpl
def register_report_sections(register):
    register("runs", runs, title="Runs and where each entry came from", scope="run", order=15)
