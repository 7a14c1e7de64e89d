"""``suite publish``: a static site of run reports, ready for any static host.

Layout of the site folder::

    index.html              every published study with its verdict, then every
                            published run: date, landscapes, optimizers, device,
                            headline ranking, links (URL-encoded, relative)
    runs.json               what the index lists (so publishing adds to it); no local paths
    runs/<name>/            one run: report.html, every table the report was made
                            from, config.toml, metadata.json, plan.json, and the
                            marker .suite-published (this folder is the suite's)

Publishing a run folder again replaces its copy; other runs stay listed. The
new copy is written beside the old one and swapped in by renames, so the old
copy stays whole until the new one is complete. Publishing never deletes or
replaces a folder or file it did not write: a folder in ``runs/`` that is
neither listed in ``runs.json`` nor marked, an ``index.html`` that is not a
suite index, and a run folder inside the site (or a site inside the run) are
refused before anything is written.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import suite
from suite.errors import UsageError
from suite.report.data import Report
from suite.report.files import (INDEX_TITLE, is_suite_html, os_error, temp_name, umask, within, writable_folder,
                                write_atomic)
from suite.report.render import page, render
from suite.report.study import refresh
from suite.report.text import top_place
from suite.results import DIAGNOSTIC_TABLES, TABLES
from suite.results.lock import claim

# The files of a run folder that travel with its report, besides its tables:
# everything needed to read them again (`suite report` works on the copy).
RAW_FILES = ("config.toml", "metadata.json", "plan.json", "study.json")
MANIFEST = "runs.json"
MARKER = ".suite-published"  # in each published run folder: the suite wrote it, and may replace it


def _source_id(folder: Path) -> str:
    """Which run folder a published copy came from, without naming a local path."""
    return hashlib.sha256(str(Path(folder).resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _summary(report: Report, name: str, source_id: str, files: list[str]) -> dict:
    meta = report.metadata
    device = meta.get("device") or {}
    top = report.overall.head(3)
    return {
        "name": name,
        "source_id": source_id,
        "started": str(meta.get("started") or ""),
        "landscapes": [str(x) for x in report.landscapes],
        "entries": [str(x) for x in report.entries],
        "device": f"{device.get('platform', '?')} ({device.get('kind', '?')})",
        "ranking": [{"rank": int(r["rank"]), "entry": str(r["entry"]), "top_share": float(r["top_share"])}
                    for _, r in top.iterrows()],
        "cells": len(report.ok), "failed": len(report.failed), "missing": len(report.missing),
        "files": files, "study": _study_summary(report.study),
    }


def _study_summary(record: dict | None) -> dict | None:
    """What the index shows of a study's verdict: its name, size, claim, status and summary."""
    if not record:
        return None
    verdict = record.get("verdict", {})
    return {key: str(value) for key, value in (
        ("name", record.get("study", "")), ("size", record.get("size", "")), ("claim", record.get("claim", "")),
        ("status", verdict.get("status", "")), ("summary", verdict.get("summary", "")))}


def _entry(raw, manifest: Path) -> dict:
    """One listed run, checked and with today's fields (old sites kept ``source``, a local path)."""
    def bad(why: str):
        return UsageError(f"{str(manifest)!r} is corrupt ({why}); move it aside (the index is rebuilt from "
                          "it), or publish into a new --site")

    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise bad("an entry is not an object with a name")
    name = raw["name"]
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise bad(f"run name {name!r} is not a folder name")
    entry = dict(raw)
    source = entry.pop("source", None)
    if not isinstance(entry.get("source_id"), str):
        entry["source_id"] = _source_id(Path(source)) if isinstance(source, str) else ""
    strings = {"started": "", "device": "?"}
    lists = ("landscapes", "entries", "files")
    for key, default in strings.items():
        entry[key] = str(entry.get(key, default))
    for key in lists:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"{key!r} of run {name!r} is not a list of strings")
    ranking = entry.get("ranking", [])
    if not isinstance(ranking, list) or not all(
            isinstance(r, dict) and isinstance(r.get("rank"), int) and isinstance(r.get("entry"), str)
            and isinstance(r.get("top_share"), (int, float)) for r in ranking):
        raise bad(f"'ranking' of run {name!r} is not a list of rank, entry, top_share")
    for key in ("cells", "failed", "missing"):
        if not isinstance(entry.get(key, 0), int):
            raise bad(f"{key!r} of run {name!r} is not a count")
    study = entry.get("study")
    if study is not None and not (isinstance(study, dict) and all(isinstance(v, str) for v in study.values())
                                  and {"name", "status"} <= set(study)):
        raise bad(f"'study' of run {name!r} is not a study's name, status and summary")
    return {"landscapes": [], "entries": [], "files": [], "ranking": [], "cells": 0, "failed": 0,
            "missing": 0, "study": None, **entry}


def read_manifest(site: Path) -> list[dict]:
    """The runs a site lists (``runs.json``; none if absent), or one-line UsageError if it is unreadable."""
    manifest = Path(site) / MANIFEST
    if not os.path.lexists(manifest):
        return []
    if not manifest.is_file():
        raise UsageError(f"{str(manifest)!r} is not a file; move it aside or publish into a new --site")
    try:
        runs = json.loads(manifest.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise os_error(exc, f"cannot read {str(manifest)!r}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{str(manifest)!r} is not UTF-8 text; move it aside or publish into a new --site") \
            from None
    except ValueError as exc:
        raise UsageError(f"{str(manifest)!r} is not valid JSON ({exc}); move it aside or publish into a new "
                         "--site") from None
    if not isinstance(runs, list):
        raise UsageError(f"{str(manifest)!r} is not a list of published runs; move it aside or publish into "
                         "a new --site")
    entries = [_entry(r, manifest) for r in runs]
    names = [e["name"].casefold() for e in entries]
    if len(set(names)) != len(names):
        raise UsageError(f"{str(manifest)!r} lists one run name twice; move it aside or publish into a new --site")
    return entries


def _marker(target: Path) -> dict | None:
    """The marker of a published run folder, or None where there is none (or it is unreadable)."""
    try:
        found = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _name_for(folder: Path, runs: list[dict], site: Path) -> str:
    """The name of ``folder``'s copy: its own if published before, else its folder's, made unique.

    Raises:
      UsageError: the folder that name would replace is not the suite's.
    """
    sid = _source_id(folder)
    for run in runs:
        if run["source_id"] == sid:
            target = site / "runs" / run["name"]
            if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
                raise UsageError(f"{str(target)!r} is not a folder published by suite (it is a file or a link); "
                                 "move it away, or publish into another --site")
            return run["name"]
    listed = {run["name"].casefold() for run in runs}
    base = Path(folder).resolve().name or "run"
    name, n = base, 1
    while True:
        target = site / "runs" / name
        if name.casefold() not in listed:
            if not os.path.lexists(target):
                return name
            marker = _marker(target) if target.is_dir() and not target.is_symlink() else None
            if marker is None:
                raise UsageError(f"{str(target)!r} exists and was not published by suite (not in {MANIFEST}, "
                                 f"no {MARKER} in it); move it away, or publish into another --site")
            if marker.get("source_id") == sid:
                return name
        n += 1
        name = f"{base}-{n}"


def check(folders: list[Path], site: Path) -> tuple[list[dict], list[tuple[Path, str]]]:
    """Everything a publish could refuse, checked before anything is written: ``(runs, [(folder, name)])``."""
    if os.path.lexists(site) and not site.is_dir():
        raise UsageError(f"--site {str(site)!r} is a file, not a folder; give a folder (created if needed)")
    writable_folder(site, f"--site {str(site)!r}")
    for path, kind in ((site / "runs", "folder"), (site / "index.html", "index")):
        if not os.path.lexists(path):
            continue
        if kind == "folder" and (path.is_symlink() or not path.is_dir()):
            raise UsageError(f"{str(path)!r} is not a folder; --site must be a site written by suite publish, "
                             "or a new folder")
        if kind == "index" and (path.is_symlink() or not is_suite_html(path, INDEX_TITLE)):
            raise UsageError(f"{str(path)!r} exists and is not a site index written by suite; refusing to "
                             "overwrite it: give a new --site folder")
    listed = runs = read_manifest(site)
    plan, seen = [], set()
    for folder in folders:
        if within(folder, site):
            raise UsageError(f"run folder {str(folder)!r} is inside the site {str(site)!r}; publish the "
                             "original run folder, not a published copy")
        if within(site, folder):
            raise UsageError(f"--site {str(site)!r} is inside the run folder {str(folder)!r}; give a site "
                             "folder outside every run folder")
        key = folder.resolve()
        if key in seen:
            continue
        seen.add(key)
        name = _name_for(folder, runs, site)
        runs = [r for r in runs if r["name"] != name] + [{"name": name, "source_id": _source_id(folder)}]
        plan.append((folder, name))
    return listed, plan


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _install(staging: Path, target: Path) -> None:
    """Puts the complete copy ``staging`` at ``target``; an old copy there is kept until it is replaced."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if _exchange(staging, target):  # one step: the old copy now sits at the staging name
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = temp_name(target, ".old")
    os.rename(target, aside)  # the old copy, whole, beside the place for a moment
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _stage(report: Report, runs_dir: Path, name: str) -> tuple[Path, list[str]]:
    """A new hidden folder beside the run's place holding its tables and files: ``(folder, files)``.

    The tables are those the report is made from: the gathered ones, or a
    partial run's cells collected, diagnostics included.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.", suffix=".new", dir=runs_dir))
    try:
        os.chmod(staging, 0o777 & ~umask())  # served as any folder is, not private as mkdtemp makes it
        files = []
        for table in TABLES + DIAGNOSTIC_TABLES:
            frame = getattr(report, table, None)
            if frame is None or (frame.empty and not len(frame.columns)):
                continue
            frame.to_parquet(staging / f"{table}.parquet", index=False)
            files.append(f"{table}.parquet")
        for file in RAW_FILES:
            if file == "study.json" and report.study is not None:  # the verdict as refreshed, not as last written
                (staging / file).write_text(json.dumps(report.study, indent=1, ensure_ascii=False) + "\n")
                files.append(file)
            elif (report.path / file).is_file():
                shutil.copy2(report.path / file, staging / file)
                files.append(file)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, files


def _write_index(site: Path, runs: list[dict]) -> Path:
    runs = sorted(runs, key=lambda r: r["started"], reverse=True)
    write_atomic(site / MANIFEST, json.dumps(runs, indent=1) + "\n")
    # Links are relative and URL-encoded: a run named `run#1` or `a b` opens from any host or disk.
    # An uncertain or shared first place is marked as the run's report marks it.
    shown = [{**run, "href": f"runs/{quote(run['name'], safe='')}",
              "links": [(f, quote(f, safe="")) for f in run["files"]],
              "top": top_place([r["rank"] for r in run["ranking"]], run["ranking"][0]["top_share"])
              if run["ranking"] else ""} for run in runs]
    return write_atomic(site / "index.html", page("index.html", runs=shown))


def publish(folders: list[Path], site: Path, *, registry, progress=None) -> Path:
    """Adds (or replaces) each run folder in the site and rewrites its index.

    Raises:
      UsageError: a place the site would write is not the suite's, a run folder is
        inside the site, ``runs.json`` is unreadable, or a write failed; refusals
        come before anything is written.

    Returns:
      The path of ``index.html``.
    """
    site = Path(site)
    runs, plan = check([Path(f) for f in folders], site)
    # One publish at a time into a site: two would each rewrite runs.json from
    # what they read, and one's entries would be lost.
    with claim(site, "site") as taken_over:
        if taken_over and progress:
            progress(taken_over)
        runs, plan = check([Path(f) for f in folders], site)  # again, now that the site is ours
        return _publish(runs, plan, site, registry, progress)


def _publish(runs, plan, site: Path, registry, progress) -> Path:
    index = None
    try:
        (site / "runs").mkdir(parents=True, exist_ok=True)
        for folder, name in plan:
            if progress:
                progress(f"publishing {name}")
            report = Report(folder)
            refresh(report, registry)  # a study's verdict from the tables as they are now
            sid = _source_id(folder)
            staging, files = _stage(report, site / "runs", name)  # the tables first, as read
            try:
                html = render(report, registry.sections,
                              progress=(lambda text, name=name: progress(f"{name}: {text}")) if progress else None)
                (staging / "report.html").write_text(html, encoding="utf-8")
                (staging / MARKER).write_text(json.dumps({"name": name, "source_id": sid,
                                                          "generator": f"suite {suite.__version__}"}) + "\n")
                _install(staging, site / "runs" / name)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)  # the new copy, unfinished; the old one is whole
                raise
            runs = [r for r in runs if r["name"] != name] + [_summary(report, name, sid, files)]
            index = _write_index(site, runs)  # after each run: a copy in place is listed at once
        return index or _write_index(site, runs)
    except OSError as exc:
        raise os_error(exc, f"cannot publish into {str(site)!r}") from None
