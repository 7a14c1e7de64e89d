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
        pd.testing.assert_frame_equal(run.tables[name], again.tables[name], check_exact=True)
    assert len(run.restarts) == 2 * 8 and list(run.cells["status"]) == ["ok", "ok"]
    assert again.config.restarts == 8 and again.config.steps == 60
    assert again.metadata["command"][0].startswith("suite.run(")


def test_components_given_as_tables_or_text_make_the_same_cells(tmp_path):
    text = suite.run(optimizers=["sgd:learning_rate=0.1+noise:eta=0.1"], out=tmp_path / "text", **BOWL)
    table = suite.run(optimizers=[{"name": "sgd", "learning_rate": 0.1, "wrap": [{"name": "noise", "eta": 0.1}]}],
                      out=tmp_path / "table", **BOWL)
    assert list(text.cells["cell_id"]) == list(table.cells["cell_id"])
    pd.testing.assert_frame_equal(text.restarts, table.restarts, check_exact=True)


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
    assert progress.lines == [f"3 cells (1 landscape × 3 optimizer settings), 8 restarts × 60 steps → {tmp_path / 'p'}"]


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
    pd.testing.assert_frame_equal(again.restarts, first.restarts, check_exact=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"landscapes": 5}, "landscapes must be a list of landscape texts such as 'bowl:dim=10'"),
    ({"landscapes": [5]}, "landscape 5: give text such as 'bowl:dim=10' or a table"),
    ({"optimizers": [None]}, "optimizer None: give text such as 'adam+stale:tau=8' or a table"),
    ({"wrap": 5}, "wrappers must be a list of wrap texts"),
    ({"targets": 1e-3}, "targets must be a non-empty list of positive finite numbers; got 0.001"),
    ({"targets": [float("inf"), 1.0]}, "targets must be a non-empty list of positive finite numbers"),
    ({"targets": []}, "targets must be a non-empty list"),
    ({"restarts": "8"}, "restarts must be an integer >= 1; got '8'"),
    ({"restarts": 2.5}, "restarts must be an integer >= 1; got 2.5"),
    ({"seed": -1}, "seed must be an integer >= 0; got -1"),
    ({"seed": 2**32}, "seed must be at most 4294967295; got 4294967296"),
    ({"steps": 2**31}, "steps must be at most 2147483646"),
    ({"plugins": 5}, "plugins must be a name or a list of names"),
    ({"diagnostics": ["nope"]}, "unknown diagnostic 'nope'; choose from: hessian, layers, path, minima, pictures, sparsity, all"),
    ({"config": 5}, "config must be a TOML file path, a dict of TOML tables or a RunConfig; got int"),
    ({"compile_cache": 5}, "compile_cache must be a folder or 'off'; got 5"),
    ({"progress": "yes"}, "progress must be True, False or a suite.runner.Progress instance; got 'yes'"),
    ({"devices": 99}, "devices = 99, but this machine has"),
    ({"optimizers": ["sgd:learning_rate=0.1:learning_rate=0.01"]}, "optimizer 'sgd:learning_rate=0.1:learning_rate=0.01': "
                                                                   "'learning_rate' is given twice"),
])
def test_hostile_arguments_are_one_line_errors_and_leave_no_folder(tmp_path, kwargs, message):
    with pytest.raises(UsageError) as error:
        suite.run(**({"optimizers": ["sgd:learning_rate=0.1"], "out": tmp_path / "x"} | BOWL | kwargs))
    assert str(error.value).startswith(message) and "\n" not in str(error.value), str(error.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("call", [lambda p: suite.load(5), lambda p: suite.load(p / "absent"),
                                  lambda p: suite.resume(5), lambda p: suite.resume(p),
                                  lambda p: suite.run(optimizers=["sgd"], out=5, **BOWL),
                                  lambda p: suite.run(optimizers=["sgd"], out=p / "file.txt", **BOWL)])
def test_bad_folders_are_one_line_errors(tmp_path, call):
    (tmp_path / "file.txt").write_text("not a run")
    with pytest.raises(UsageError) as error:
        call(tmp_path)
    assert "\n" not in str(error.value)
    assert (tmp_path / "file.txt").read_text() == "not a run"


def test_all_diagnostics_may_be_asked_with_others_and_plugins_may_be_one_path(tmp_path):
    config = suite.api.make_config(optimizers=["sgd"], diagnostics=["hessian", "all"], **BOWL_KEYS)
    assert config.diagnostics == ["hessian", "layers", "path", "minima", "pictures", "sparsity"]
    plugin = Path(__file__).parent / "plugins" / "styblinski_tang.py"
    config = suite.api.make_config(optimizers=["sgd"], plugins=plugin, **BOWL_KEYS)
    assert config.plugins == [str(plugin)]


def test_plugins_given_are_added_to_those_of_a_config_file_found_beside_it(tmp_path):
    source = Path(__file__).parent / "plugins" / "styblinski_tang.py"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "styblinski_tang.py").write_text(source.read_text())
    (tmp_path / "sub" / "c.toml").write_text('plugins = ["styblinski_tang.py"]\nrestarts = 4\nsteps = 20\n'
                                             '[[landscape]]\nname = "styblinski_tang"\ndim = 2\n'
                                             '[[optimizer]]\nname = "sgd"\nlearning_rate = 0.01\n')
    other = tmp_path / "other.py"
    other.write_text("")
    config = suite.api.make_config(tmp_path / "sub" / "c.toml", plugins=[str(other)])
    assert config.plugins == [str(tmp_path / "sub" / "styblinski_tang.py"), str(other)]


def test_a_loaded_interrupted_run_says_so(tmp_path):
    class Stop(Progress):
        def advance(self, amount):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        suite.run(optimizers=["sgd:learning_rate=0.03,0.1"], out=tmp_path / "r", **(BOWL | {"progress": Stop()}))
    assert suite.load(tmp_path / "r").interrupted


BOWL_KEYS = {k: v for k, v in BOWL.items() if k not in ("progress", "compile_cache")}
