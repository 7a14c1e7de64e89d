"""A run folder keeps its promises: nothing lost, nothing mixed, never a traceback.

Every file the suite reads from a run folder may be missing, empty, a folder,
not UTF-8, truncated, corrupt or of the wrong type: the suite names it in one
line and exits 2, or, for a cell's own files, runs that cell again. One run at
a time works in a folder; a resume under changed conditions refuses (or reruns
the stale cells when asked). Every file is written under a temporary name and
renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import suite
from suite.cli import main
from suite.errors import UsageError
from suite.results import LOCK, RunDir

# Two landscapes × two learning rates: four cells in two programs of two.
ARGS = ["--landscape", "bowl:dim=2,3", "--optimizer", "sgd:learning_rate=0.03,0.1", "--restarts", "4",
        "--steps", "20", "--batch", "4", "--quiet", "--no-report", "--compile-cache", "off"]
QUIET = ["--quiet", "--no-report", "--compile-cache", "off"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finished run folder, never changed: tests work on copies."""
    out = tmp_path_factory.mktemp("base") / "run"
    assert main(["run", *ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(base, tmp_path) -> Path:
    """A copy of the finished run (times kept, so its tables stay the newest)."""
    out = tmp_path / "run"
    shutil.copytree(base, out)
    return out


def cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str, *needles: str) -> str:
    """Asserts exit 2 and a single ``suite: error:`` line holding every needle; returns it."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("suite: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def cell_ids(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "cells").iterdir() if not p.name.startswith("."))


def parquet_bytes(table: pd.DataFrame, tmp_path: Path) -> bytes:
    file = tmp_path / "made.parquet"
    table.to_parquet(file)
    return file.read_bytes()


def damage(file: Path, how: str, tmp_path: Path) -> None:
    """Makes ``file`` missing, empty, a folder, not UTF-8, truncated, corrupt or of the wrong type."""
    original = file.read_bytes() if file.is_file() else b""
    if file.is_dir():
        shutil.rmtree(file)
    elif file.exists():
        file.unlink()
    if how == "missing":
        return
    if how == "folder":
        file.mkdir()
        (file / "inside").write_text("x")
        return
    data = {
        "empty": b"",
        "not utf-8": b"\xff\xfe\x00\x81 garbage",
        "truncated": original[: len(original) // 2],
        "corrupt": b"PAR1 this is not what it claims \x00\x01",
        "json list": b"[1, 2, 3]\n",
        "wrong status": b'{"status": "done"}\n',
        "plan of numbers": b'{"cells": 5}\n',
        "restarts as text": original.replace(b"restarts = 4\n", b'restarts = "4"\n'),
        "targets a number": re.sub(rb"\ntargets = \[.*?\]\n", b"\ntargets = 5\n", original, flags=re.S),
        "no cell_id": parquet_bytes(pd.DataFrame({"x": [1.0]}), tmp_path),
    }[how]
    file.write_bytes(data)


# --- files the suite reads that name themselves in one line ----------------------------


@pytest.mark.parametrize("name, how, needle", [
    ("config.toml", "missing", "is not a run folder (no config.toml in it)"),
    ("config.toml", "folder", "is a folder, not a TOML file"),
    ("config.toml", "not utf-8", "is not UTF-8 text"),
    ("config.toml", "truncated", "config.toml"),
    ("config.toml", "corrupt", "is not valid TOML"),
    ("config.toml", "empty", "no landscape given"),
    ("config.toml", "restarts as text", "restarts in"),
    ("config.toml", "targets a number", "targets in"),
    ("metadata.json", "folder", "is a folder, not a file"),
    ("metadata.json", "empty", "is empty"),
    ("metadata.json", "not utf-8", "is not UTF-8 text"),
    ("metadata.json", "truncated", "is not valid JSON"),
    ("metadata.json", "json list", "holds a JSON list"),
    ("plan.json", "folder", "is a folder, not a file"),
])
def test_a_damaged_file_of_a_run_is_named_when_resuming_and_nothing_is_written(run, capsys, tmp_path,
                                                                                name, how, needle):
    damage(run / name, how, tmp_path)
    before = _snapshot(run)
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    one_line_error(code, err, needle, str(run / name) if how != "missing" else str(run))
    assert _snapshot(run) == before, "a refused resume changed the folder"


@pytest.mark.parametrize("name, how, needle", [
    ("metadata.json", "corrupt", "is not valid JSON"),
    ("metadata.json", "json list", "holds a JSON list"),
    ("plan.json", "folder", "is a folder, not a file"),
    ("plan.json", "empty", "is empty"),
    ("plan.json", "not utf-8", "is not UTF-8 text"),
    ("plan.json", "truncated", "is not valid JSON"),
    ("plan.json", "plan of numbers", "its 'cells' must be a list"),
])
def test_a_damaged_file_of_a_run_is_named_when_reporting(run, capsys, tmp_path, name, how, needle):
    damage(run / name, how, tmp_path)
    code, err = cli(capsys, "report", run, "--quiet")
    one_line_error(code, err, needle, str(run / name))
    assert not (run / "report.html").exists()


@pytest.mark.parametrize("name", ["cells.parquet", "restarts.parquet", "curves.parquet"])
@pytest.mark.parametrize("how", ["empty", "folder", "truncated", "corrupt", "no cell_id"])
def test_a_damaged_table_is_gathered_again_from_the_cells_or_named_without_them(run, capsys, tmp_path, name, how):
    expected = suite.load(run).tables
    damage(run / name, how, tmp_path)
    # With cells/ the tables are gathered from the cells again.
    again = suite.load(run).tables
    for table in ("restarts", "cells", "curves"):
        pd.testing.assert_frame_equal(again[table], expected[table], check_exact=True)
    # A folder of tables alone (as published) names the table.
    shutil.rmtree(run / "cells")
    with pytest.raises(UsageError) as error:
        suite.load(run).tables
    assert str(run / name) in str(error.value) and "\n" not in str(error.value)
    code, err = cli(capsys, "report", run, "--quiet")
    one_line_error(code, err, str(run / name))


def test_files_a_resume_writes_anew_may_be_missing_or_damaged(run, capsys, tmp_path):
    damage(run / "metadata.json", "missing", tmp_path)
    damage(run / "plan.json", "corrupt", tmp_path)
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    assert code == 0, err
    assert "4 finished cells skipped" in err
    assert json.loads((run / "plan.json").read_text())["cells"]
    assert json.loads((run / "metadata.json").read_text())["resumed"]


@pytest.mark.parametrize("text, needle", [
    (None, "is a folder, not a TOML file"),
    (b"\xff\xfe\x00[[landscape]]", "is not UTF-8 text"),
    (b"targets = 5\n", "targets in"),
    (b'restarts = "8"\n', "restarts in"),
    (b"stop_at_target = 1\n", "stop_at_target in"),
    (b"landscape = 5\n", "landscape in"),
    (b"seed = [1, 2]\n", "seed in"),
    (b"[[landscape]\nname = 'bowl'\n", "is not valid TOML"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, text, needle):
    config = tmp_path / "my.toml"
    if text is None:
        config.mkdir()
    else:
        config.write_bytes(text)
    code, err = cli(capsys, "run", config, *QUIET, "--out", tmp_path / "out")
    one_line_error(code, err, needle, "my.toml")
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        suite.run(config, out=tmp_path / "out2", progress=False)


def test_the_config_of_a_loaded_run_names_its_file(run, tmp_path):
    damage(run / "config.toml", "not utf-8", tmp_path)
    with pytest.raises(UsageError, match="config.toml' is not UTF-8 text"):
        suite.load(run).config
    damage(run / "metadata.json", "truncated", tmp_path)
    with pytest.raises(UsageError, match="metadata.json is not valid JSON"):
        suite.load(run)


# --- a cell whose own files are damaged runs again -----------------------------------


@pytest.mark.parametrize("name, how", [
    ("cell.json", "missing"), ("cell.json", "empty"), ("cell.json", "folder"), ("cell.json", "not utf-8"),
    ("cell.json", "truncated"), ("cell.json", "json list"), ("cell.json", "wrong status"),
    ("restarts.parquet", "missing"), ("restarts.parquet", "folder"), ("restarts.parquet", "truncated"),
    ("restarts.parquet", "corrupt"), ("restarts.parquet", "no cell_id"), ("cells.parquet", "empty"),
    ("curves.parquet", "truncated"), ("", "the cell is a file"), ("restarts.parquet", "another cell's"),
])
def test_a_cell_with_damaged_files_is_run_again_and_the_tables_equal_an_uninterrupted_run(
        base, run, capsys, tmp_path, name, how):
    ids = cell_ids(run)
    victim = ids[1]
    if how == "the cell is a file":
        shutil.rmtree(run / "cells" / victim)
        (run / "cells" / victim).write_text("not a folder")
    elif how == "another cell's":
        shutil.copy(run / "cells" / ids[0] / name, run / "cells" / victim / name)
    else:
        damage(run / "cells" / victim / name, how, tmp_path)
    (run / "cells" / victim).touch()  # newer than the tables: readers gather the cells
    # Readers leave it out and say which cell.
    with pytest.warns(RuntimeWarning, match=f"cell {victim} is left out: "):
        assert victim not in set(suite.load(run).cells["cell_id"])
    (run / "cells" / ".0123456789ab.4242.abcdefgh.tmp").mkdir()  # what a killed run leaves

    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    assert code == 0, err
    notice = [line for line in err.splitlines() if "runs again" in line]
    assert len(notice) == 1 and f"cell {victim} runs again: {run / 'cells' / victim}" in notice[0], err
    assert "3 finished cells skipped" in err
    assert "Traceback" not in err
    assert cell_ids(run) == ids and RunDir(run).scan()[victim].status == "ok"
    assert not [p for p in (run / "cells").iterdir() if p.name.startswith(".")]
    for table in ("restarts", "curves"):
        pd.testing.assert_frame_equal(pd.read_parquet(run / f"{table}.parquet"),
                                      pd.read_parquet(base / f"{table}.parquet"), check_exact=True)


def test_a_report_of_a_run_with_an_unreadable_cell_reports_the_others_and_names_it(run, capsys, tmp_path):
    victim = cell_ids(run)[2]
    damage(run / "cells" / victim / "restarts.parquet", "corrupt", tmp_path)
    (run / "restarts.parquet").unlink()  # as a run killed before gathering its tables
    code, err = cli(capsys, "report", run, "--quiet")
    assert code == 0, err
    html = (run / "report.html").read_text()
    assert f"{victim}/restarts.parquet is not a readable parquet table" in html
    assert "3 of 4 planned cells finished, 1 failed" in html


# --- one run at a time ------------------------------------------------------------------


def test_two_runs_into_one_folder_half_a_second_apart_one_wins_and_the_folder_agrees(tmp_path):
    out = tmp_path / "race"
    # A plugin slow to load holds each run between its first look at the folder
    # and its start there, so both look before either starts: only the claim decides.
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(2)\n")
    common = ["--landscape", "bowl:dim=2", "--restarts", "4", "--steps", "20", *QUIET, "--out", str(out),
              "--plugin", str(slow)]
    env = os.environ | {"COLUMNS": "400"}
    first = subprocess.Popen([sys.executable, "-m", "suite", "run", "--optimizer", "sgd", *common],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(0.5)
    second = subprocess.Popen([sys.executable, "-m", "suite", "run", "--optimizer", "adam", *common],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    results = []
    for process in (first, second):
        _, err = process.communicate(timeout=600)
        results.append((process.returncode, err))
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    line = one_line_error(2, loser, str(out))
    winner_pid = first.pid if results[0][0] == 0 else second.pid
    # Refused by the winner's claim (or, had the winner already finished, by its config.toml).
    assert f"in use by another suite run (pid {winner_pid} " in line or "already holds a run" in line
    winner = "sgd" if results[0][0] == 0 else "adam"
    config = suite.load(out).config
    assert {o.name for o in config.optimizers} == {winner}
    assert set(suite.load(out).cells["optimizer"]) == {winner}
    assert set(pd.read_parquet(out / "restarts.parquet")["optimizer"]) == {winner}
    assert not (out / LOCK).exists()


def test_a_folder_another_process_holds_is_refused_naming_its_pid(run, capsys):
    before = _snapshot(run)
    with RunDir(run).claim():
        holder = json.loads((run / LOCK).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        done = subprocess.run([sys.executable, "-m", "suite", "run", "--resume", str(run), *QUIET],
                              capture_output=True, text=True, timeout=600)
        line = one_line_error(done.returncode, done.stderr, str(run), f"pid {os.getpid()}")
        assert "in use by another suite run" in line
        with pytest.raises(UsageError, match=f"pid {os.getpid()}"):
            suite.resume(run, progress=False, compile_cache="off")
        # A running run is read, and reported, as it is.
        assert len(suite.load(run).cells) == 4
        code, err = cli(capsys, "report", run, "--quiet", "--out", run.parent / "report.html")
        assert code == 0, err
    assert not (run / LOCK).exists()
    assert _snapshot(run) == before


def test_the_lock_of_a_dead_process_is_taken_over_and_released(run, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                        "started": "earlier", "token": "old"}))
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    assert code == 0, err
    assert f"pid {dead.pid}" in err and "taking it over" in err
    assert not (run / LOCK).exists()


def test_the_lock_is_released_on_errors_and_interrupts(run, monkeypatch):
    from suite import runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        suite.resume(run, progress=False, compile_cache="off")
    assert not (run / LOCK).exists()

    def failing(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "execute", failing)
    with pytest.raises(RuntimeError):
        suite.resume(run, progress=False, compile_cache="off")
    assert not (run / LOCK).exists()


# --- resume under changed conditions ---------------------------------------------------


def test_a_resume_after_editing_restarts_refuses_and_rerun_stale_reruns_every_cell(run, capsys):
    config = run / "config.toml"
    config.write_text(config.read_text().replace("restarts = 4\n", "restarts = 8\n"))
    before = _snapshot(run)
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    line = one_line_error(code, err, "restarts changed from 4 to 8", str(run), "--rerun-stale")
    assert "(4 cells)" in line
    assert _snapshot(run) == before
    with pytest.raises(UsageError, match="restarts changed from 4 to 8"):
        suite.resume(run, progress=False, compile_cache="off")

    with pytest.warns(RuntimeWarning, match="restarts changed from 4 to 8 .*: running them again"):
        again = suite.resume(run, progress=False, compile_cache="off", rerun_stale=True)
    assert again.counts == {"ran": 4, "skipped": 0, "failed": 0}
    assert set(again.restarts.groupby("cell_id").size()) == {8}
    assert set(again.cells["restarts"]) == {8}
    # Now every cell matches: a plain resume skips them all.
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    assert code == 0 and "4 finished cells skipped" in err, err


@pytest.mark.parametrize("key, old, new", [
    ("steps", "20", "30"), ("seed", "0", "1"), ("precision", '"float32"', '"float64"'),
    ("stop_at_target", "false", "true"), ("batch", "4", "2"), ("checkpoints", "48", "10"),
    ("matmul_precision", '"default"', '"float32"'), ("tuning", '"grid"', '"budget:2"'),
])
def test_every_condition_that_shapes_a_result_is_checked(run, capsys, key, old, new):
    config = run / "config.toml"
    text = "\n" + config.read_text()
    assert f"\n{key} = {old}\n" in text
    config.write_text(text.replace(f"\n{key} = {old}\n", f"\n{key} = {new}\n")[1:])
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    one_line_error(code, err, f"{key} changed from {old} to {new}")


def test_a_run_into_a_folder_of_cells_under_other_conditions_refuses(run, capsys):
    (run / "config.toml").unlink()
    argv = ARGS.copy()
    argv[argv.index("--restarts") + 1] = "6"
    code, err = cli(capsys, "run", *argv, "--out", run)
    one_line_error(code, err, "restarts changed from 4 to 6", str(run))


def test_cells_written_before_conditions_were_recorded_match_the_folder(run, capsys):
    for cell_id in cell_ids(run):
        (run / "cells" / cell_id / "cell.json").write_text('{"status": "ok"}')
    config = run / "config.toml"
    config.write_text(config.read_text().replace("restarts = 4\n", "restarts = 8\n"))
    code, err = cli(capsys, "run", "--resume", run, *QUIET)
    assert code == 0 and "4 finished cells skipped" in err, err


# --- every file is written atomically ---------------------------------------------------


def test_every_file_of_a_run_folder_is_written_under_a_temporary_name_of_this_process(tmp_path, monkeypatch):
    out = (tmp_path / "atomic").resolve()
    written: list[Path] = []
    to_parquet, write_text = pd.DataFrame.to_parquet, Path.write_text

    def parquet(self, path, *args, **kwargs):
        written.append(Path(path).resolve())
        return to_parquet(self, path, *args, **kwargs)

    def text(self, *args, **kwargs):
        written.append(self.resolve())
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", parquet)
    monkeypatch.setattr(Path, "write_text", text)
    suite.run(landscapes=["bowl:dim=2"], optimizers=["sgd"], restarts=4, steps=20, out=out,
              progress=False, compile_cache="off")
    suite.resume(out, progress=False, compile_cache="off")
    inside = [p for p in written if out in p.parents]
    assert len(inside) > 8
    pid = str(os.getpid())
    for path in inside:
        hidden = [part for part in path.relative_to(out).parts if part.startswith(".")]
        assert hidden and pid in hidden[0] and hidden[0].endswith(".tmp"), path
    assert not [p for p in out.rglob(".*")], "temporaries left behind"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
