"""The Python API: suite.run, suite.load, suite.resume and a Run's tables, leaderboard and report."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import suite
from suite.errors import UsageError
from suite.runner import Progress

README = Path(__file__).resolve().parent.parent / "README.md"
BOWL = dict(landscapes=["bowl:dim=2:condition=10"], restarts=8, steps=60, progress=False, compile_cache="off")


def test_the_readme_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md (Python API)", "exec"), namespace)
    run = namespace["run"]
    assert isinstance(run, suite.Run) and run.path == Path("reports/bowl")
    assert (tmp_path / "reports" / "bowl" / "report.html").is_file()
    assert set(run.leaderboard()["entry"]) == {"adam", "sgd"}


def test_a_run_and_its_folder_read_back_give_the_same_tables(tmp_path):
    run = suite.run(optimizers=["sgd:learning_rate=0.03,0.1"], out=tmp_path / "r", **BOWL)
    assert run.counts == {"ran": 2, "skipped": 0, "failed": 0} and not run.interrupted
    again = suite.load(tmp_path / "r")
    for name in ("restarts", "cells", "curves"):
        pd.testing.assert_frame_equal(run.tables[name], again.tables[name])
    assert len(run.restarts) == 2 * 8 and list(run.cells["status"]) == ["ok", "ok"]
    assert again.config.restarts == 8 and again.config.steps == 60
    assert again.metadata["command"][0].startswith("suite.run(")


def test_components_given_as_tables_or_text_make_the_same_cells(tmp_path):
    text = suite.run(optimizers=["sgd:learning_rate=0.1+noise:eta=0.1"], out=tmp_path / "text", **BOWL)
    table = suite.run(optimizers=[{"name": "sgd", "learning_rate": 0.1, "wrap": [{"name": "noise", "eta": 0.1}]}],
                      out=tmp_path / "table", **BOWL)
    assert list(text.cells["cell_id"]) == list(table.cells["cell_id"])
    pd.testing.assert_frame_equal(text.restarts, table.restarts)


def test_a_user_progress_sees_every_cell(tmp_path):
    class Counting(Progress):
        def __init__(self):
            self.total, self.done, self.lines = 0.0, 0.0, []

        def announce(self, text):
            self.lines.append(text)

        def start(self, total):
            self.total = total

        def advance(self, amount):
            self.done += amount

    progress = Counting()
    suite.run(optimizers=["sgd:learning_rate=0.01,0.1", "adam:learning_rate=0.01"], out=tmp_path / "p",
              **(BOWL | {"progress": progress}))
    assert progress.total == 3 and progress.done == pytest.approx(3)
    assert progress.lines == [f"3 cells (1 landscapes × 3 optimizer settings), 8 restarts × 60 steps → {tmp_path / 'p'}"]


def test_progress_false_prints_nothing(tmp_path, capsys):
    suite.run(optimizers=["sgd:learning_rate=0.1"], out=tmp_path / "q", **BOWL)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("kwargs, message", [
    ({"restartz": 8}, "unknown setting 'restartz'; choose from: batch, checkpoints,"),
    ({"landscapes": ["bowll"]}, "unknown landscape 'bowll'; choose from:"),
    ({"restarts": 0}, "restarts must be an integer >= 1; got 0"),
    ({"precision": "float16"}, "precision must be one of float32, float64; got 'float16'"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, kwargs, message):
    with pytest.raises(UsageError) as error:
        suite.run(**({"optimizers": ["sgd"], "out": tmp_path / "x"} | BOWL | kwargs))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (tmp_path / "x").exists()


def test_a_folder_holding_a_run_is_not_run_into_again(tmp_path):
    suite.run(optimizers=["sgd:learning_rate=0.1"], out=tmp_path / "r", **BOWL)
    with pytest.raises(UsageError, match="already holds a run"):
        suite.run(optimizers=["adam"], out=tmp_path / "r", **BOWL)
    with pytest.raises(UsageError, match="is not a run folder"):
        suite.load(tmp_path)


def test_resume_finishes_only_what_is_missing(tmp_path):
    first = suite.run(optimizers=["sgd:learning_rate=0.03,0.1"], out=tmp_path / "r", **BOWL)
    # Lose one finished cell, as a run killed before writing it would have.
    lost = first.cells["cell_id"].iloc[1]
    import shutil

    shutil.rmtree(tmp_path / "r" / "cells" / lost)
    again = suite.resume(tmp_path / "r", progress=False, compile_cache="off")
    assert again.counts == {"ran": 1, "skipped": 1, "failed": 0}
    pd.testing.assert_frame_equal(again.restarts, first.restarts)
