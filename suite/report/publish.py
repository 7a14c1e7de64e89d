"""``suite publish``: a static site of run reports, ready for any static host.

Layout of the site folder::

    index.html              every published run: date, landscapes, optimizers,
                            device, headline ranking, links
    runs.json               what the index lists (so publishing adds to it)
    runs/<name>/            one run: report.html and its raw tables and files

Publishing a run folder again replaces its copy; other runs stay listed.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import jinja2

import suite
from suite.report.data import Report
from suite.report.render import render

# The files of a run folder that travel with its report: the raw tables and
# everything needed to read them again (`suite report` works on the copy).
RAW_FILES = ("cells.parquet", "restarts.parquet", "curves.parquet", "config.toml", "metadata.json",
             "plan.json")
MANIFEST = "runs.json"


def _summary(report: Report, name: str) -> dict:
    meta = report.metadata
    device = meta.get("device") or {}
    top = report.overall.head(3)
    return {
        "name": name,
        "source": str(report.path.resolve()),
        "started": meta.get("started") or "",
        "landscapes": report.landscapes,
        "entries": report.entries,
        "device": f"{device.get('platform', '?')} ({device.get('kind', '?')})",
        "ranking": [{"rank": int(r["rank"]), "entry": r["entry"], "top_share": float(r["top_share"])}
                    for _, r in top.iterrows()],
        "cells": len(report.ok), "failed": len(report.failed), "missing": len(report.missing),
        "files": [f for f in RAW_FILES if (report.path / f).is_file()],
    }


def _name_for(folder: Path, runs: list[dict]) -> str:
    source = str(folder.resolve())
    for run in runs:
        if run["source"] == source:
            return run["name"]
    taken = {run["name"] for run in runs}
    name, n = folder.resolve().name, 1
    while name in taken:
        n += 1
        name = f"{folder.resolve().name}-{n}"
    return name


def publish(folders: list[Path], site: Path, *, registry, progress=None) -> Path:
    """Adds (or replaces) each run folder in the site and rewrites its index.

    Returns:
      The path of ``index.html``.
    """
    site = Path(site)
    (site / "runs").mkdir(parents=True, exist_ok=True)
    manifest = site / MANIFEST
    runs = json.loads(manifest.read_text()) if manifest.is_file() else []
    for folder in folders:
        name = _name_for(Path(folder), runs)
        if progress:
            progress(f"publishing {name}")
        report = Report(folder)
        html = render(report, registry.sections,
                      progress=(lambda text, name=name: progress(f"{name}: {text}")) if progress else None)
        target = site / "runs" / name
        staging = site / "runs" / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "report.html").write_text(html, encoding="utf-8")
        for file in RAW_FILES:
            if (report.path / file).is_file():
                shutil.copy2(report.path / file, staging / file)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        runs = [r for r in runs if r["name"] != name] + [_summary(report, name)]
    runs.sort(key=lambda r: r["started"], reverse=True)
    manifest.write_text(json.dumps(runs, indent=1) + "\n")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    template = env.from_string(resources.files("suite.report").joinpath("index.html").read_text())
    index = site / "index.html"
    tmp = site / ".index.html.tmp"
    tmp.write_text(template.render(runs=runs, version=suite.__version__), encoding="utf-8")
    os.replace(tmp, index)
    return index
