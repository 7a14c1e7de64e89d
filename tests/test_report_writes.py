"""Where ``suite report`` and ``suite publish`` write: never over what they did not write, atomically,
and a published site that works from any host or disk.

Every hostile target is refused with exit 2 and one line, before anything is
written: every file that was there is byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from suite.cli import main
from suite.report import publish as publishing

# What a report looks like to the write rules, without drawing one (the rendering has its own tests).
STUB = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta name="generator" content="suite test">\n'
        "<title>suite report: stub</title>\n</head>\n<body>stub</body>\n</html>\n")
SITE_INDEX = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta name="generator" content="suite test">\n'
              "<title>suite: published runs</title>\n</head>\n<body></body>\n</html>\n")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny finished run, reported at the end."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["run", "--landscape", "bowl:dim=2", "--optimizer", "sgd:learning_rate=0.1",
                 "--restarts", "4", "--steps", "20", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(run_dir, tmp_path):
    """A copy of the tiny run, this test's own."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


@pytest.fixture
def stub(monkeypatch):
    """Reports rendered as a stub: these tests are about where files go, not what they hold."""
    import suite.report.render

    monkeypatch.setattr(suite.report.render, "render", lambda *a, **k: STUB)
    monkeypatch.setattr(publishing, "render", lambda *a, **k: STUB)


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file (by content hash), folder and link under ``roots``, hidden ones included."""
    found = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        found[str(root)] = "dir" if root.is_dir() else hashlib.sha256(root.read_bytes()).hexdigest()
        for base, dirs, files in os.walk(root):
            for name in dirs:
                path = Path(base, name)
                found[str(path)] = f"link:{os.readlink(path)}" if path.is_symlink() else "dir"
            for name in files:
                path = Path(base, name)
                found[str(path)] = (f"link:{os.readlink(path)}" if path.is_symlink()
                                    else hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("suite: error: "), err
    assert "Traceback" not in err
    return err


# --- suite report: hostile --out -------------------------------------------------------


def _file(tmp, text="my notes\n", name="notes.txt"):
    path = tmp / name
    path.write_text(text)
    return path


def _under_a_file(tmp):
    return _file(tmp) / "report.html"


def _link_to_data(tmp):
    link = tmp / "report-link.html"
    link.symlink_to(tmp / "run" / "restarts.parquet")
    return link


def _through_a_linked_folder(tmp):
    (tmp / "alias").symlink_to(tmp / "run", target_is_directory=True)
    return tmp / "alias" / "curves.parquet"


def _users_report_html(tmp):
    (tmp / "run" / "report.html").write_text("<html>my own page</html>\n")
    return None  # the default place, RUN/report.html, now holds the user's file


REPORT_TARGETS = {
    # id: (the --out to give, made in the test's folder; what the one line says)
    "a table of the run": (lambda tmp: tmp / "run" / "restarts.parquet", "inside the run folder"),
    "the run's config": (lambda tmp: tmp / "run" / "config.toml", "inside the run folder"),
    "a new html inside the run": (lambda tmp: tmp / "run" / "other.html", "inside the run folder"),
    "inside cells/": (lambda tmp: tmp / "run" / "cells" / "x.html", "inside the run folder"),
    "the run folder itself": (lambda tmp: tmp / "run", "is a folder"),
    "another folder": (lambda tmp: tmp, "is a folder"),
    "an existing text file": (_file, "not an HTML report written by suite"),
    "an existing html not the suite's": (lambda tmp: _file(tmp, "<!DOCTYPE html><p>mine", "mine.html"),
                                         "not an HTML report written by suite"),
    "a site index, not a report": (lambda tmp: _file(tmp, SITE_INDEX, "index.html"),
                                   "not an HTML report written by suite"),
    "a report without .html": (lambda tmp: _file(tmp, STUB, "report.txt"), "not an HTML report written by suite"),
    "a path under a file": (_under_a_file, "is a file, not a folder"),
    "a link to the run's data": (_link_to_data, "symbolic link"),
    "the run's data through a linked folder": (_through_a_linked_folder, "inside the run folder"),
    "RUN/report.html that the user wrote": (_users_report_html, "not an HTML report written by suite"),
}


@pytest.mark.parametrize("case", sorted(REPORT_TARGETS))
def test_suite_report_refuses_a_hostile_out_and_touches_nothing(case, run, tmp_path, capsys):
    make, says = REPORT_TARGETS[case]
    out = make(tmp_path)
    before = snapshot(tmp_path)
    argv = ["report", str(run), "--quiet"] + (["--out", str(out)] if out is not None else [])
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert says in err and repr(str(out if out is not None else run / "report.html")) in err
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_suite_report_refuses_an_unwritable_folder(run, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        before = snapshot(tmp_path)
        assert main(["report", str(run), "--out", str(locked / "r.html"), "--quiet"]) == 2
        assert "no permission to write" in one_line_error(capsys)
        assert snapshot(tmp_path) == before
    finally:
        locked.chmod(0o700)


def test_a_failed_write_is_one_line_and_leaves_no_temporary_file(run, tmp_path, capsys, stub, monkeypatch):
    def full(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full)
    before = snapshot(tmp_path)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html"), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "cannot write the report" in err and "No space left on device" in err
    assert snapshot(tmp_path) == before


def test_suite_report_writes_new_files_and_replaces_only_its_own_reports_atomically(run, tmp_path, capsys, stub,
                                                                                     monkeypatch):
    renames = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((Path(src), Path(dst))), real(src, dst)))
    data = snapshot(run / "restarts.parquet", run / "cells.parquet", run / "curves.parquet", run / "cells")
    new = tmp_path / "out" / "r.html"
    for argv in (["report", str(run), "--out", str(new)],  # a new file (its folder made)
                 ["report", str(run), "--out", str(new)],  # its own report, replaced
                 ["report", str(run)],  # RUN/report.html, the suite's
                 ["report", str(run), "--out", str(run / "report.html")]):
        assert main([*argv, "--quiet"]) == 0, capsys.readouterr().err
    assert new.read_text() == STUB and (run / "report.html").read_text() == STUB
    assert snapshot(run / "restarts.parquet", run / "cells.parquet", run / "curves.parquet", run / "cells") == data
    # Every write went through a temporary file beside it, named with this process's id.
    assert [dst for _, dst in renames] == [new, new, run / "report.html", run / "report.html"]
    assert all(src.parent == dst.parent and f".{dst.name}.{os.getpid()}." in src.name for src, dst in renames)
    assert not [p for p in tmp_path.rglob(".*.tmp")]


# --- suite publish: hostile sites and run folders --------------------------------------


def _published_site(tmp, run):
    assert main(["publish", str(run), "--site", str(tmp / "site")]) == 0
    return tmp / "site"


def _run_inside_site(tmp, run):
    # The example: a run written straight into a site (with its cells/), then published there.
    site = _published_site(tmp, run)
    inside = site / "runs" / "mine"
    shutil.copytree(run, inside)
    return [inside], site


def _published_copy(tmp, run):
    site = _published_site(tmp, run)
    return [site / "runs" / "run"], site


def _unlisted_folder(tmp, run):
    stray = tmp / "site" / "runs" / "run"
    stray.mkdir(parents=True)
    (stray / "my-notes.txt").write_text("not the suite's\n")
    return [run], tmp / "site"


def _foreign_index(tmp, run):
    (tmp / "site").mkdir()
    (tmp / "site" / "index.html").write_text("<!DOCTYPE html><title>my home page</title>\n")
    return [run], tmp / "site"


def _manifest(text: bytes):
    def make(tmp, run):
        (tmp / "site").mkdir()
        (tmp / "site" / "runs.json").write_bytes(text)
        return [run], tmp / "site"
    return make


def _manifest_folder(tmp, run):
    (tmp / "site" / "runs.json").mkdir(parents=True)
    return [run], tmp / "site"


def _runs_is_a_file(tmp, run):
    (tmp / "site").mkdir()
    (tmp / "site" / "runs").write_text("a file\n")
    return [run], tmp / "site"


def _listed_name_is_a_file(tmp, run):
    site = _published_site(tmp, run)
    target = site / "runs" / "run"
    shutil.rmtree(target)
    target.write_text("mine now\n")
    return [run], site


PUBLISH_TARGETS = {
    "a run inside the site": (_run_inside_site, "is inside the site"),
    "a published copy into its own site": (_published_copy, "is inside the site"),
    "the site inside the run": (lambda tmp, run: ([run], run / "site"), "is inside the run folder"),
    "the site is the run": (lambda tmp, run: ([run], run), "is inside the site"),
    "an unlisted folder in runs/": (_unlisted_folder, "was not published by suite"),
    "a foreign index.html": (_foreign_index, "not a site index written by suite"),
    "runs.json not json": (_manifest(b'[{"name": "x"'), "is not valid JSON"),
    "runs.json not a list": (_manifest(b'{"name": "x"}'), "is not a list of published runs"),
    "runs.json not utf-8": (_manifest(b'["\xff\xfe"]'), "is not UTF-8"),
    "runs.json empty": (_manifest(b""), "is not valid JSON"),
    "runs.json entries not runs": (_manifest(b"[1, 2]"), "is corrupt"),
    "runs.json with a path for a name": (_manifest(b'[{"name": "../../etc"}]'), "is corrupt"),
    "runs.json wrong field types": (_manifest(b'[{"name": "x", "landscapes": 5}]'), "is corrupt"),
    "runs.json a folder": (_manifest_folder, "is not a file"),
    "runs/ a file": (_runs_is_a_file, "is not a folder"),
    "a listed run that is now a file": (_listed_name_is_a_file, "is not a folder published by suite"),
    "the site a file": (lambda tmp, run: ([run], _file(tmp)), "is a file, not a folder"),
    "the site under a file": (lambda tmp, run: ([run], _file(tmp) / "site"), "is a file, not a folder"),
}


@pytest.mark.parametrize("case", sorted(PUBLISH_TARGETS))
def test_suite_publish_refuses_a_hostile_target_and_touches_nothing(case, run, tmp_path, capsys, stub):
    make, says = PUBLISH_TARGETS[case]
    folders, site = make(tmp_path, run)
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert main(["publish", *map(str, folders), "--site", str(site)]) == 2
    err = one_line_error(capsys)
    assert says in err, err
    assert snapshot(tmp_path) == before


# --- suite publish: a site that works anywhere -----------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href"]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_links_are_url_encoded_and_runs_json_names_no_local_path(run, tmp_path, capsys, stub, monkeypatch):
    odd = [tmp_path / "run#1", tmp_path / "a b", tmp_path / "50%?x"]
    for folder in odd:
        shutil.copytree(run, folder)
    renames = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((Path(src), Path(dst))), real(src, dst)))
    site = tmp_path / "site"
    assert main(["publish", *map(str, odd), "--site", str(site)]) == 0
    parser = _Links()
    parser.feed((site / "index.html").read_text())
    reports = [h for h in parser.hrefs if h.endswith("/report.html")]
    assert len(reports) == 3 and len(parser.hrefs) == 3 * 7  # each run: its report and six files
    for href in parser.hrefs:  # read as a browser reads them: '#' starts a fragment, '?' a query
        link = urlsplit(href)
        assert not link.scheme and not link.netloc and not link.path.startswith("/")  # opens from any host or disk
        assert not link.query and not link.fragment and " " not in href, href
        assert (site / unquote(link.path)).is_file(), href
    assert {unquote(urlsplit(h).path).split("/")[1] for h in reports} == {"run#1", "a b", "50%?x"}
    runs = json.loads((site / "runs.json").read_text())
    for text in _strings(runs):
        assert not text.startswith(("/", "\\", "~")) and not re.match(r"^[A-Za-z]:[\\/]", text), text
    assert str(tmp_path) not in (site / "runs.json").read_text()
    # runs.json and the index went through temporary files named with this process's id.
    for name in ("runs.json", "index.html"):
        temps = [src for src, dst in renames if dst == site / name]
        assert temps and all(f".{name}.{os.getpid()}." in src.name for src in temps)


def test_a_diagnosed_run_publishes_its_diagnostics_tables(tmp_path, capsys, stub):
    out = tmp_path / "diag"
    assert main(["run", "--landscape", "deep_linear:depth=2:width=2", "--optimizer", "sgd:learning_rate=0.1",
                 "--restarts", "4", "--steps", "20", "--diagnose", "all", "--quiet", "--no-report",
                 "--out", str(out)]) == 0
    site = tmp_path / "site"
    assert main(["publish", str(out), "--site", str(site)]) == 0
    [listed] = json.loads((site / "runs.json").read_text())
    for table in ("layers", "paths", "pictures", "cells", "restarts", "curves"):
        assert f"{table}.parquet" in listed["files"]
        pd.testing.assert_frame_equal(pd.read_parquet(site / "runs" / "diag" / f"{table}.parquet"),
                                      pd.read_parquet(out / f"{table}.parquet"))


def test_a_partial_run_without_top_level_tables_publishes_its_cells_tables(run, run_dir, tmp_path, capsys, stub):
    for table in ("cells", "restarts", "curves"):
        (run / f"{table}.parquet").unlink()
    site = tmp_path / "site"
    assert main(["publish", str(run), "--site", str(site)]) == 0
    published = site / "runs" / "run"
    for table in ("cells", "restarts", "curves"):
        pd.testing.assert_frame_equal(pd.read_parquet(published / f"{table}.parquet"),
                                      pd.read_parquet(run_dir / f"{table}.parquet"))
    assert set(json.loads((site / "runs.json").read_text())[0]["files"]) >= {
        "cells.parquet", "restarts.parquet", "curves.parquet", "config.toml", "metadata.json", "plan.json"}


def test_a_failed_replacement_keeps_the_old_copy_whole(run, tmp_path, capsys, stub, monkeypatch):
    site = tmp_path / "site"
    assert main(["publish", str(run), "--site", str(site)]) == 0
    before = snapshot(tmp_path)
    copies = []
    real = shutil.copy2

    def fails_midway(src, dst, **kwargs):
        copies.append(dst)
        if len(copies) == 2:  # the tables and the first file are written: the copy is half done
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copy2", fails_midway)
    assert main(["publish", str(run), "--site", str(site)]) == 2
    err = one_line_error(capsys)
    assert "No space left on device" in err and len(copies) == 2
    assert snapshot(tmp_path) == before  # the old copy, the index and runs.json as they were; no leftovers


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic exchange", "two renames"])
def test_replacing_a_published_run_always_leaves_a_whole_copy(exchange, run, tmp_path, capsys, stub, monkeypatch):
    site = tmp_path / "site"
    assert main(["publish", str(run), "--site", str(site)]) == 0
    target = site / "runs" / "run"
    old = (target / publishing.MARKER).read_bytes()
    (target / "report.html").write_text(STUB.replace("stub", "old"))  # tell the copies apart

    def whole_copies():
        return [p for p in (site / "runs").iterdir() if (p / "report.html").is_file() and (p / "plan.json").is_file()]

    seen = []

    def watch(name, real):
        def call(*args, **kwargs):
            seen.append((name, target.is_dir() and (target / "report.html").is_file(), len(whole_copies())))
            result = real(*args, **kwargs)
            seen.append((name, target.is_dir() and (target / "report.html").is_file(), len(whole_copies())))
            return result
        return call

    real_exchange = publishing._exchange
    if exchange:
        probe = [tmp_path / "x", tmp_path / "y"]
        for p in probe:
            p.mkdir()
        if not real_exchange(*probe):
            pytest.skip("this file system cannot exchange two paths atomically")
        monkeypatch.setattr(publishing, "_exchange", watch("exchange", real_exchange))
    else:
        monkeypatch.setattr(publishing, "_exchange", lambda a, b: False)
    monkeypatch.setattr(os, "rename", watch("rename", os.rename))
    monkeypatch.setattr(shutil, "rmtree", watch("rmtree", shutil.rmtree))
    assert main(["publish", str(run), "--site", str(site)]) == 0
    assert seen and all(whole >= 1 for _, _, whole in seen)  # a whole copy at every step
    if exchange:  # and at its own place at every step
        assert all(at_place for _, at_place, _ in seen)
    assert (target / "report.html").read_text() == STUB and (target / publishing.MARKER).read_bytes() == old
    assert sorted(p.name for p in (site / "runs").iterdir()) == ["run"]  # nothing left beside it


def test_publishing_again_replaces_an_old_style_listed_copy_and_drops_its_path(run, tmp_path, capsys, stub):
    # A site published before markers: runs.json kept each run's local path as "source".
    site = tmp_path / "site"
    listed = []
    for name, source in (("run", run.resolve()), ("gone", tmp_path / "gone")):
        (site / "runs" / name).mkdir(parents=True)
        (site / "runs" / name / "report.html").write_text("old\n")
        listed.append({"name": name, "source": str(source), "started": "", "landscapes": [], "entries": [],
                       "device": "?", "ranking": [], "cells": 0, "failed": 0, "missing": 0, "files": []})
    (site / "runs.json").write_text(json.dumps(listed))
    assert main(["publish", str(run), "--site", str(site)]) == 0
    runs = json.loads((site / "runs.json").read_text())
    assert sorted(r["name"] for r in runs) == ["gone", "run"] and not any("source" in r for r in runs)
    assert (site / "runs" / "run" / "report.html").read_text() == STUB  # listed: its own copy, replaced
    assert (site / "runs" / "gone" / "report.html").read_text() == "old\n"  # the other run kept
    # Another folder of the same name is a new run beside it, never over it.
    other = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, other)
    assert main(["publish", str(other), "--site", str(site)]) == 0
    assert sorted(r["name"] for r in json.loads((site / "runs.json").read_text())) == ["gone", "run", "run-2"]


def test_one_publish_at_a_time_into_a_site(run, tmp_path, capsys, stub):
    # Two publishes into one site would each rewrite runs.json from what they
    # read, losing one's entry: the second is refused while the first holds it.
    from suite.results.lock import LOCK, claim

    site = tmp_path / "site"
    assert main(["publish", str(run), "--site", str(site)]) == 0
    capsys.readouterr()
    assert not (site / LOCK).exists()  # released when done
    before = snapshot(site)
    with claim(site, "site"):
        assert main(["publish", str(run), "--site", str(site)]) == 2
        err = one_line_error(capsys)
        assert f"site {str(site)!r} is in use by another suite process (pid {os.getpid()}" in err
    assert snapshot(site) == before
