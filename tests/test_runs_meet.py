"""Runs meet runs: ``--extend`` adds entries, ``suite report A B`` compares, ``--part I/N`` splits.

The reference for each is one uninterrupted run of every entry with the same
seed: an extended run, a comparison of two runs, and the parts of a split run
must give its tables (and leaderboard) exactly, timings apart.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import suite
from suite.cli import main
from suite.report import Report
from suite.report.runs import combine
from suite.results import lock

BASE = ["--landscape", "bowl:dim=3:condition=10", "--landscape", "rastrigin:dim=2", "--restarts", "8",
        "--steps", "40", "--quiet", "--no-report"]
OLD = ["--optimizer", "adam:learning_rate=0.1", "--optimizer", "sgd:sweep.learning_rate=0.01,0.1"]
NEW = ["--optimizer", "momentum:learning_rate=0.05"]
# How long things took: measured, so never equal between two runs.
TIMINGS = {"compile_seconds", "run_seconds", "seconds_per_step", "updates_per_second", "copy_bandwidth",
           "diagnostics_seconds", "floor_fraction", "traffic_bytes", "run"}


def run_main(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_same_tables(got: dict, want: dict) -> None:
    """Every table equal, column for column and row for row, timings apart."""
    for name in ("cells", "restarts", "curves"):
        a, b = got[name], want[name]
        assert set(a.columns) - TIMINGS == set(b.columns) - TIMINGS, name
        columns = [c for c in b.columns if c not in TIMINGS]
        pd.testing.assert_frame_equal(missing_as_none(a[columns]), missing_as_none(b[columns]),
                                      check_dtype=False, obj=name)


def missing_as_none(table: pd.DataFrame) -> pd.DataFrame:
    """A text column's missing values read back from parquet as None, gathered in memory as NaN: the same."""
    table = table.reset_index(drop=True)
    objects = [c for c in table.columns if table[c].dtype == object]
    return table.assign(**{c: table[c].where(table[c].notna(), None) for c in objects})


def tables_of(report: Report) -> dict:
    return {"cells": report.cells, "restarts": report.restarts, "curves": report.curves}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reference run of every entry, the run of the old entries, and a run of the new one alone."""
    root = tmp_path_factory.mktemp("meet")
    folders = {"whole": root / "whole", "old": root / "old", "new": root / "new"}
    assert main(["run", *BASE, *OLD, *NEW, "--out", str(folders["whole"])]) == 0
    assert main(["run", *BASE, *OLD, "--out", str(folders["old"])]) == 0
    assert main(["run", *BASE, *NEW, "--out", str(folders["new"])]) == 0
    return folders


@pytest.fixture(scope="module")
def extended(runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("extend") / "run"
    shutil.copytree(runs["old"], folder)
    assert main(["run", "--extend", str(folder), *NEW, "--quiet"]) == 0
    return folder


# --- --extend -------------------------------------------------------------------------------


def test_an_extended_run_equals_one_run_of_every_entry(runs, extended):
    assert_same_tables(suite.load(extended).tables, suite.load(runs["whole"]).tables)
    # The new entry is in config.toml (a resume resolves the same cells) and in the metadata.
    config = suite.load(extended).config
    assert [c.name for c in config.optimizers].count("momentum") == 1
    record = suite.load(extended).metadata["extended"]
    assert [r["entries"] for r in record] == [["momentum(learning_rate=0.05)"]]
    assert "momentum(learning_rate=0.05)" in (extended / "report.html").read_text()


def test_extended_entries_start_where_every_old_entry_started(extended):
    """Common random numbers: at step 0 every entry's loss quantiles over restarts are the same numbers."""
    curves = suite.load(extended).curves
    start = curves[(curves["step"] == 0) & (curves["quantity"] == "loss")]
    cells = suite.load(extended).cells.set_index("cell_id")
    start = start.assign(landscape=start["cell_id"].map(cells["landscape_label"]),
                         entry=start["cell_id"].map(cells["entry"]))
    for _, rows in start.groupby("landscape"):
        assert rows["entry"].nunique() == 3
        quantiles = rows[["q05", "q25", "q50", "q75", "q95"]].to_numpy(float)
        # The same points; the loss of a program running 2 settings at once may differ in the last bit.
        np.testing.assert_allclose(quantiles, np.broadcast_to(quantiles[:1], quantiles.shape), rtol=1e-6)


def test_resume_of_an_extended_run_has_nothing_left(extended, capsys):
    code, _, err = run_main(capsys, "run", "--resume", str(extended), "--quiet", "--no-report")
    assert code == 0 and "resumed: 11 finished cells skipped" not in err  # every cell, not the old ones only
    assert f"resumed: {len(suite.load(extended).cells)} finished cells skipped" in err


@pytest.mark.parametrize("flags, named", [
    (["--steps", "5"], "--steps"), (["--seed", "1"], "--seed"), (["--restarts", "4"], "--restarts"),
    (["--landscape", "bowl:dim=2"], "--landscape"), (["--precision", "float64"], "--precision"),
    (["--tuning", "budget:2"], "--tuning"), (["--stop-at-target"], "--stop-at-target"),
    (["--diagnose", "hessian"], "--diagnose"), (["--batch", "4"], "--batch"), (["--instances", "2"], "--instances"),
    (["--out", "elsewhere"], "--out"), (["--resume", "x"], "--resume"),
])
def test_extend_refuses_a_condition_it_keeps(runs, capsys, flags, named):
    before = (runs["old"] / "config.toml").read_bytes()
    code, _, err = run_main(capsys, "run", "--extend", str(runs["old"]), *NEW, *flags)
    assert code == 2 and err.count("\n") == 1 and named in err and "drop" in err
    assert (runs["old"] / "config.toml").read_bytes() == before


def test_extend_wraps_only_the_new_entries(runs, tmp_path):
    """--wrap with --extend wraps the entries it adds, as in one run of them written with the wrapper inline."""
    folder, whole = tmp_path / "run", tmp_path / "whole"
    shutil.copytree(runs["old"], folder)
    assert main(["run", "--extend", str(folder), *NEW, "--wrap", "noise:eta=0.1", "--quiet", "--no-report"]) == 0
    assert main(["run", *BASE, *OLD, "--optimizer", "momentum:learning_rate=0.05+noise:eta=0.1",
                 "--out", str(whole)]) == 0
    assert_same_tables(suite.load(folder).tables, suite.load(whole).tables)
    assert set(suite.load(folder).cells["entry"]) == {"adam(learning_rate=0.1)", "sgd",
                                                      "momentum(learning_rate=0.05)+noise(eta=0.1)"}


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "adam:learning_rate=0.1"], "already holds the entry 'adam(learning_rate=0.1)'"),
    ([], "--extend needs the entries to add"),
    (["--optimizer", "nosuch"], "unknown optimizer 'nosuch'"),
])
def test_extend_refuses_entries_it_cannot_add(runs, capsys, argv, message):
    before = sorted(p.name for p in (runs["old"] / "cells").iterdir())
    code, _, err = run_main(capsys, "run", "--extend", str(runs["old"]), *argv)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert sorted(p.name for p in (runs["old"] / "cells").iterdir()) == before


def test_extend_refuses_what_is_not_a_run(tmp_path, capsys):
    code, _, err = run_main(capsys, "run", "--extend", str(tmp_path), *NEW)
    assert code == 2 and "not a run folder" in err


# --- suite report RUN_A RUN_B ------------------------------------------------------------------


def test_two_compatible_runs_report_as_the_run_of_both(runs):
    merged, whole = combine([runs["old"], runs["new"]]), Report(runs["whole"])
    assert_same_tables(tables_of(merged), tables_of(whole))
    for name in ("board", "overall"):
        a, b = getattr(merged, name), getattr(whole, name)
        columns = [c for c in b.columns if c not in TIMINGS]
        pd.testing.assert_frame_equal(a[columns].reset_index(drop=True), b[columns].reset_index(drop=True),
                                      check_dtype=False)
    assert merged.stability == whole.stability
    # Which run each entry came from.
    assert {s.name: s.entries for s in merged.runs} == {
        "old": ["adam(learning_rate=0.1)", "sgd"], "new": ["momentum(learning_rate=0.05)"]}
    assert set(merged.cells["run"]) == {"old", "new"}


def test_suite_report_of_two_runs_writes_one_comparison(runs, tmp_path, capsys):
    out = tmp_path / "both.html"
    code, stdout, _ = run_main(capsys, "report", str(runs["old"]), str(runs["new"]), "--out", str(out), "--quiet")
    assert code == 0 and stdout.strip() == str(out)
    html = out.read_text()
    assert "This report compares 2 runs" in html and str(runs["old"]) in html and str(runs["new"]) in html
    # Without --out it goes beside the first run, named after both.
    code, stdout, _ = run_main(capsys, "report", str(runs["old"]), str(runs["new"]), "--quiet")
    assert code == 0 and Path(stdout.strip()) == runs["old"].parent / "compare-old-new.html"


@pytest.fixture(scope="module")
def other_steps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("steps") / "longer"
    argv = [a if a != "40" else "30" for a in BASE]
    assert main(["run", *argv, *NEW, "--out", str(folder)]) == 0
    return folder


def test_incompatible_runs_are_refused_naming_the_first_difference(runs, other_steps, capsys, tmp_path):
    out = tmp_path / "x.html"
    code, _, err = run_main(capsys, "report", str(runs["old"]), str(other_steps), "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert "steps is 40 in old but 30 in longer" in err and "--allow-mismatch" in err and not out.exists()


def test_allow_mismatch_flags_every_affected_landscape(runs, other_steps, capsys, tmp_path):
    merged = combine([runs["old"], other_steps], allow_mismatch=True)
    assert set(merged.mismatch) == set(merged.landscapes) and len(merged.landscapes) == 2
    assert all("steps is 40 in old but 30 in longer" in t for t in merged.mismatch.values())
    assert sum("MISMATCH" in flag for flag in merged.flags()) == 2
    out = tmp_path / "x.html"
    code, _, _ = run_main(capsys, "report", str(runs["old"]), str(other_steps), "--allow-mismatch", "--out", str(out),
                          "--quiet")
    html = out.read_text()
    # Said in the summary and the Runs section, in each landscape's section and on each of its figures.
    assert code == 0 and html.count("MISMATCH on") == 4
    assert html.count("MISMATCH: steps is 40 in old but 30 in longer. The runs compared here") == 2
    assert html.count(": MISMATCH: steps is 40 in old but 30 in longer") >= 2 * 5


def test_a_cell_two_runs_hold_is_taken_once(runs, extended):
    """A baseline measured again (here: the run and its own extension) counts once, and is said to agree."""
    merged, alone = combine([runs["old"], extended]), Report(extended)
    assert_same_tables(tables_of(merged), tables_of(alone))
    columns = [c for c in alone.board.columns if c not in TIMINGS]
    pd.testing.assert_frame_equal(merged.board[columns].reset_index(drop=True),
                                  alone.board[columns].reset_index(drop=True), check_dtype=False)
    assert merged.stability == alone.stability
    (kind, text), = merged.notes
    assert kind == "info" and text.startswith("6 cells of run are also in old") and "the same numbers" in text


def test_an_entry_tuned_over_other_settings_is_another_entry(runs, tmp_path):
    other = tmp_path / "other"
    assert main(["run", *BASE, "--optimizer", "sgd:sweep.learning_rate=0.01,0.3", "--out", str(other)]) == 0
    merged = combine([runs["old"], other])
    assert set(merged.cells["entry"]) == {"adam(learning_rate=0.1)", "sgd", "sgd [other]"}
    assert len(merged.cells) == len(Report(runs["old"]).cells) + len(Report(other).cells)
    assert merged.cells["cell_id"].is_unique and set(merged.restarts["cell_id"]) == set(merged.cells["cell_id"])
    assert any("sgd in other was tuned over other settings" in text for _, text in merged.notes)


def test_a_landscape_some_entries_never_ran_on_is_a_mismatch(runs, tmp_path, capsys):
    wider = tmp_path / "wider"
    assert main(["run", *BASE, "--landscape", "pspin:n=8:p=3", *NEW, "--out", str(wider)]) == 0
    capsys.readouterr()
    code, _, err = run_main(capsys, "report", str(runs["old"]), str(wider), "--out", str(tmp_path / "x.html"))
    assert code == 2 and err.count("\n") == 1
    assert "cannot be compared on pspin" in err and "adam(learning_rate=0.1), sgd were not run on it" in err
    merged = combine([runs["old"], wider], allow_mismatch=True)
    assert list(merged.mismatch) == [label for label in merged.landscapes if label.startswith("pspin")]


def test_a_folder_of_tables_alone_is_checked_too(runs, other_steps, tmp_path, capsys):
    """Without config.toml and cells/ (tables copied elsewhere), each cell's own row still says its steps."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("cells", "restarts", "curves"):
        shutil.copy(other_steps / f"{name}.parquet", bare)
    code, _, err = run_main(capsys, "report", str(runs["old"]), str(bare), "--out", str(tmp_path / "x.html"))
    assert code == 2 and "steps is 40 in old but 30 in bare" in err


@pytest.mark.parametrize("argv, message", [
    (["report", "RUN", "RUN"], "is given twice"),
    (["report", "RUN", "--allow-mismatch"], "--allow-mismatch is for comparing runs"),
    (["report", "RUN", "NEW", "--out", "RUN/inside.html"], "goes outside every one of them"),
    (["report", "RUN", "nowhere"], "run folder 'nowhere' does not exist"),
    (["report", "RUN", "--out", "NEW/report.html"], "the folder of a run it is not the report of"),
    (["report", "RUN", "NEW", "--out", "NEW/./x.html"], "goes outside every one of them"),
    (["report", "RUN", "NEW/cells.parquet"], "is a file, not a run folder"),
])
def test_bad_comparisons_are_one_line(runs, capsys, argv, message):
    argv = [a.replace("RUN", str(runs["old"])).replace("NEW", str(runs["new"])) for a in argv]
    code, _, err = run_main(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and message in err


# --- --part I/N -------------------------------------------------------------------------------


def test_parts_in_one_folder_reassemble_one_run(runs, tmp_path, capsys):
    folder = tmp_path / "shared"
    shares = []
    for i in (1, 2, 3):
        code, out, _ = run_main(capsys, "run", *BASE, *OLD, *NEW, "--part", f"{i}/3", "--out", str(folder))
        assert code == 0 and f"part {i}/3 done" in out
        shares.append(set(json.loads((folder / "parts" / f"part-{i}-of-3.json").read_text())["cells"]))
    planned = {c["cell_id"] for c in json.loads((folder / "plan.json").read_text())["cells"]}
    assert set.union(*shares) == planned and sum(map(len, shares)) == len(planned) and all(shares)
    assert not (folder / "cells.parquet").exists()  # a part never gathers: others may still write
    assert_same_tables(suite.load(folder).tables, suite.load(runs["whole"]).tables)  # read from cells/
    code, _, _ = run_main(capsys, "run", "--resume", str(folder), "--quiet", "--no-report")
    assert code == 0 and (folder / "cells.parquet").exists()
    assert_same_tables(suite.load(folder).tables, suite.load(runs["whole"]).tables)


def test_parts_in_their_own_folders_report_as_one_run(runs, tmp_path):
    folders = [tmp_path / f"p{i}" for i in (1, 2)]
    for i, folder in enumerate(folders, 1):
        assert main(["run", *BASE, *OLD, *NEW, "--part", f"{i}/2", "--out", str(folder)]) == 0
    merged = combine(folders)
    assert_same_tables(tables_of(merged), tables_of(Report(runs["whole"])))
    assert merged.missing == [] and not any(s.renamed for s in merged.runs)
    alone = combine(folders[:1])
    assert alone.missing  # one part alone says what the other holds
    from suite.report.sections import summary

    notes = [block.text for block in summary(alone) if type(block).__name__ == "Note"]
    assert any(t.startswith(f"This comparison is partial: {len(alone.missing)} planned cells never ran.")
               and "compare them again" in t for t in notes)


def test_a_share_is_whole_programs_and_about_one_nth(runs):
    from suite import plan
    from suite.registry import load_registry
    from suite.runner import group_cells, share

    config = suite.load(runs["whole"]).config
    landscapes, optimizers = plan.resolve(config, load_registry())
    cells = [plan.Cell(l, o) for l in landscapes for o in optimizers]
    for n in (1, 2, 3, 5, 40):
        parts = [share(cells, i, n) for i in range(1, n + 1)]
        ids = [c.id for p in parts for c in p]
        assert sorted(ids) == sorted(c.id for c in cells)  # every cell once
        owner = {c.id: i for i, p in enumerate(parts) for c in p}
        biggest = max(len(g) for g in group_cells(cells))
        for group in group_cells(cells):
            assert len({owner[c.id] for c in group}) == 1  # a program is never split
        assert max(map(len, parts)) <= len(cells) / n + biggest


@pytest.mark.parametrize("part", ["0/3", "4/3", "a/b", "3", "1/0"])
def test_a_bad_part_is_one_line(capsys, tmp_path, part):
    code, _, err = run_main(capsys, "run", *BASE, *NEW, "--part", part, "--out", str(tmp_path / "x"))
    assert code == 2 and err.count("\n") == 1 and "--part" in err and not (tmp_path / "x").exists()


def test_a_part_joins_only_the_same_run(runs, capsys, tmp_path):
    folder = tmp_path / "shared"
    shutil.copytree(runs["whole"], folder)
    code, _, err = run_main(capsys, "run", *[a if a != "40" else "41" for a in BASE], *OLD, *NEW,
                            "--part", "1/2", "--out", str(folder))
    assert code == 2 and "differs in 'steps' (40 there, 41 here)" in err


def test_a_whole_run_waits_for_live_parts(runs, capsys, tmp_path):
    folder = tmp_path / "shared"
    shutil.copytree(runs["whole"], folder)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "process_start": lock._process_start(os.getpid()),
              "token": "x" * 32}
    (folder / ".lock.part-2-of-3").write_text(json.dumps(record))
    code, _, err = run_main(capsys, "run", "--resume", str(folder), "--quiet", "--no-report")
    assert code == 2 and "in use by a part of a split run" in err
    code, _, err = run_main(capsys, "run", *BASE, *OLD, *NEW, "--part", "1/2", "--out", str(folder))
    assert code == 2 and "a split of the run into 3 parts, not 2" in err
    assert not (folder / ".lock").exists() and not (folder / ".lock.part-1-of-2").exists()


def test_the_python_api_extends_and_compares(runs, extended, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(runs["old"], folder)
    run = suite.extend(folder, ["momentum:learning_rate=0.05"], progress=False)
    assert run.counts == {"ran": 2, "skipped": 6, "failed": 0}
    assert_same_tables(run.tables, suite.load(extended).tables)
    out = suite.compare([runs["old"], runs["new"]], out=tmp_path / "c.html")
    assert out == tmp_path / "c.html" and out.is_file()
    with pytest.raises(suite.errors.UsageError, match="compare needs two or more run folders"):
        suite.compare([runs["old"]])


SPHERE = '''
import jax, jax.numpy as jnp, suite

def _init(data, key):
    return jax.random.normal(key, data["center"].shape)

def _loss(data, x, key):
    return jnp.sum((x - data["center"]) ** 2)

def build(values, *, key):
    """The sphere around a random centre."""
    center = SCALE * jax.random.normal(key, (values["dim"],))
    return suite.Landscape(data={"center": center}, init_fn=_init, loss_fn=_loss, f_opt=0.0, tags=("convex",))

@suite.hookimpl
def register_landscapes(register):
    register("sphere", build, params=[suite.Param("dim", int, 3, "coordinates", low=1)])
'''


def test_extend_refuses_a_landscape_plugin_changed_since_the_run(tmp_path, capsys):
    plugin, folder = tmp_path / "sphere.py", tmp_path / "run"
    plugin.write_text("SCALE = 1.0\n" + SPHERE)
    small = ["--restarts", "4", "--steps", "10", "--quiet", "--no-report"]
    assert main(["run", "--plugin", str(plugin), "--landscape", "sphere", *NEW, *small, "--out", str(folder)]) == 0
    plugin.write_text("SCALE = 5.0\n" + SPHERE)  # another landscape under the same name
    capsys.readouterr()
    code, _, err = run_main(capsys, "run", "--extend", str(folder), "--optimizer", "adam", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "the landscape 'sphere' changed since the run's cells" in err
    code, _, err = run_main(capsys, "run", "--resume", str(folder), "--quiet")
    assert code == 2 and "'sphere' changed" in err
    assert len(suite.load(folder).cells) == 1
    plugin.unlink()
    code, _, err = run_main(capsys, "run", "--extend", str(folder), "--optimizer", "adam", "--quiet")
    assert code == 2 and "does not exist" in err and "a plugin the run recorded in" in err


def test_extend_refuses_a_folder_of_tables_alone(runs, tmp_path, capsys):
    copy = tmp_path / "published"
    shutil.copytree(runs["old"], copy, ignore=shutil.ignore_patterns("cells"))
    code, _, err = run_main(capsys, "run", "--extend", str(copy), *NEW)
    assert code == 2 and "not its cells/" in err and not (copy / "cells").exists()


def test_an_interrupted_extension_is_finished_by_resume(extended, tmp_path, capsys):
    folder = tmp_path / "run"
    shutil.copytree(extended, folder)
    cells = suite.load(folder).cells
    for cell_id in cells.loc[cells["entry"] == "momentum(learning_rate=0.05)", "cell_id"]:
        shutil.rmtree(folder / "cells" / cell_id)  # as if killed before them
    code, _, err = run_main(capsys, "run", "--extend", str(folder), *NEW)
    assert code == 2 and "2 of its cells unfinished" in err and f"suite run --resume {folder}" in err
