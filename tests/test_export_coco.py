"""``suite export --format coco``: the real cocopp reads the files, and its aRT is the run's ERT in evaluations.

One small run (2 landscapes × 2 instances × 3 optimizer settings, 16 restarts
× 100 steps) is exported once. The references are independent of the export:
``cells.parquet`` as the run wrote it, and plain loops over the restart table.
cocopp counts the evaluation that meets a target (step t is evaluation t + 1),
so its aRT = ERT + restarts / successes (see :mod:`suite.export.coco`).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import suite
from suite import metrics
from suite.cli import main

with warnings.catch_warnings():  # cocopp warns at import when it cannot reach its online archive index
    warnings.simplefilter("ignore")
    import cocopp

PLUGIN = '''
import jax
import jax.numpy as jnp

import suite


def _init(data, key):
    a, b = jax.random.split(key)
    return {"w": jax.random.normal(a, (2, 2)), "b": jax.random.normal(b, (3,))}


def _loss(data, x, key):
    return jnp.sum(x["w"] ** 2) + jnp.sum((x["b"] - 1.0) ** 2) + data["floor"]


def build(values, *, key):
    """A quadratic on a point of two arrays (7 numbers) whose minimum, 0.5, is not declared."""
    del values, key
    return suite.Landscape(data={"floor": jnp.asarray(0.5)}, init_fn=_init, loss_fn=_loss)


@suite.hookimpl
def register_landscapes(register):
    register("pytree_bowl", build, params=[])
'''
# cocopp's own target grid: 10^(k/5), k = 2·5 ... −8·5 (readalign.HMultiReader, number_of_points = 5).
GRID = np.power(10.0, np.arange(10, -41, -1) / 5.0)
ENTRIES = {"adam": "adam", "momentum(learning_rate=5.0)": "momentum_learning_rate_5.0"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The run, its export, and cocopp's data sets of each entry (by folder)."""
    root = tmp_path_factory.mktemp("coco")
    plugin = root / "pytree_bowl.py"
    plugin.write_text(PLUGIN)
    # adam sweeps two learning rates (the leaderboard selects one per instance); momentum at 5 diverges.
    result = suite.run(landscapes=["rastrigin:dim=2", "pytree_bowl"],
                       optimizers=[{"name": "adam", "sweep": {"learning_rate": [0.01, 0.1]}},
                                   "momentum:learning_rate=5"],
                       restarts=16, steps=100, instances=2, out=root / "run", progress=False,
                       plugins=[str(plugin)])
    out = root / "export"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["export", str(root / "run"), "--format", "coco", "--out", str(out)])
    assert code == 0 and stdout.getvalue().strip() == str(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = {entry: cocopp.pproc.DataSetList(str(out / folder)) for entry, folder in ENTRIES.items()}
    yield {"run": result, "out": out, "loaded": loaded, "root": root}
    cocopp.testbedsettings.reset_current_testbed()


def _selected(run_, entry: str, landscape: str) -> pd.DataFrame:
    """cells.parquet's row of the cell the leaderboard selected for ``entry`` on ``landscape``."""
    board = run_.leaderboard()
    (cell,) = board.loc[(board["entry"] == entry) & (board["landscape_label"] == landscape), "cell_id"]
    return run_.cells[run_.cells["cell_id"] == cell]


def _data_set(run, entry: str, number: int):
    (ds,) = [ds for ds in run["loaded"][entry] if ds.funcId == number]
    return ds


def _reference_art(restarts: pd.DataFrame, label: str) -> float:
    """COCO's aRT by hand: Σ evaluations (hit step + 1, or steps run + 1) over the successes."""
    total, successes = 0.0, 0
    for hit, steps in zip(restarts[metrics.HIT_PREFIX + label], restarts["steps"]):
        if pd.notna(hit) and hit >= 0:
            total, successes = total + int(hit) + 1, successes + 1
        else:
            total += int(steps) + 1
    return total / successes if successes else math.inf


def test_the_run_has_what_the_checks_need(run):
    # Guards: without these the aRT checks below could pass vacuously.
    board, restarts = run["run"].leaderboard(), run["run"].restarts
    mine = restarts[restarts["cell_id"].isin(board["cell_id"])]
    assert mine["diverged_step"].notna().any(), "a selected cell should have diverged restarts"
    reached = mine[metrics.HIT_PREFIX + "1"].notna()
    assert reached.any() and not reached.all(), "some restarts should meet Δf ≤ 1 and some not"
    assert (board["ert_1e-08"] == np.inf).all(), "no one should meet 1e-8 (an infinite aRT)"
    assert board.groupby(["landscape_label", "entry"]).size().max() == 1


def test_cocopp_loads_one_function_per_landscape_setting_with_each_restart_a_trial(run):
    for entry in ENTRIES:
        data = run["loaded"][entry]
        assert sorted((ds.funcId, ds.dim) for ds in data) == [(1, 2), (2, 7)]  # the point of pytree_bowl: 2×2 + 3
        for ds in data:
            assert ds.instancenumbers == [1] * 16 + [2] * 16
            assert ds.algId == ENTRIES[entry]
            landscape = ["rastrigin(dim=2)", "pytree_bowl()"][ds.funcId - 1]
            assert f"landscape {landscape} " in ds.comment and f"{entry} at the setting the leaderboard" in ds.comment


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("instance", [1, 2])
def test_cocopp_art_of_one_instance_is_the_cells_ert_in_evaluations(run, entry, instance):
    # cocopp reads only the instances a testbed names (DataSet.__init__, instancesOfInterest).
    testbed = cocopp.testbedsettings.current_testbed
    testbed.instancesOfInterest = [instance]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = cocopp.pproc.DataSetList(str(run["out"] / ENTRIES[entry]))
    finally:
        testbed.instancesOfInterest = None
    compared = {"finite": 0, "inf": 0}
    for ds in data:
        assert ds.instancenumbers == [instance] * 16
        landscape = ["rastrigin(dim=2)", "pytree_bowl()"][ds.funcId - 1] + ("#1" if instance == 2 else "")
        (row,) = _selected(run["run"], entry, landscape).to_dict("records")
        art = ds.detERT(list(GRID))
        for target, value in zip(GRID, art):
            label = metrics.target_label(target)
            ert, reached = row[f"ert_{label}"], row[f"reached_{label}"]
            if math.isnan(ert):
                continue  # below the landscape's float resolution: not exported
            expected = ert + 1 / reached if reached else math.inf
            assert value == pytest.approx(expected, rel=1e-12), (entry, landscape, label)
            compared["inf" if math.isinf(value) else "finite"] += 1
    assert compared["finite"] >= 3 and compared["inf"] >= 3


@pytest.mark.parametrize("entry", ENTRIES)
def test_cocopp_art_pools_the_instances_of_a_landscape_setting(run, entry):
    restarts = run["run"].restarts
    for number, landscape in ((1, "rastrigin(dim=2)"), (2, "pytree_bowl()")):
        cells = [_selected(run["run"], entry, label)["cell_id"].item() for label in (landscape, landscape + "#1")]
        pooled = restarts[restarts["cell_id"].isin(cells)]
        art = _data_set(run, entry, number).detERT(list(GRID))
        for target, value in zip(GRID, art):
            assert value == pytest.approx(_reference_art(pooled, metrics.target_label(target)), rel=1e-12)


def test_unknown_f_star_is_measured_from_zero_and_said(run):
    ds = _data_set(run, "adam", 2)
    assert "f* is unknown: Delta f is f - 0" in ds.comment
    # The loss never falls below its floor 0.5: Δf ≤ 0.631 is met, Δf ≤ 0.398 never.
    (met, unmet) = ds.detERT([0.6309573444801932, 0.3981071705534972])
    assert math.isfinite(met) and unmet == math.inf
    assert "selected on each instance (instance 1: learning_rate=" in ds.comment


def test_last_lines_are_the_steps_each_restart_ran_and_its_best(run):
    ds = _data_set(run, "momentum(learning_rate=5.0)", 2)
    (row,) = _selected(run["run"], "momentum(learning_rate=5.0)", "pytree_bowl()").to_dict("records")
    rows = run["run"].restarts.query("cell_id == @row['cell_id']").sort_values("restart")
    # maxevals: the evaluations of steps 0..steps run (a diverged restart stops at its divergence).
    np.testing.assert_array_equal(ds.maxevals[:16], rows["steps"].to_numpy() + 1)
    assert (rows["steps"] < 100).all()
    np.testing.assert_allclose(ds.finalfunvals[:16], rows["best_loss"].to_numpy(), rtol=1e-12)


def test_python_m_cocopp_processes_one_entry_and_all_entries(run, tmp_path):
    """What a user runs (README.txt says it); cocopp's single-algorithm and comparison pages differ."""
    folders = [str(run["out"] / f) for f in ENTRIES.values()]
    jobs = {}
    for name, args in (("one", folders[:1]), ("all", folders)):
        cwd = tmp_path / name
        cwd.mkdir()
        jobs[name] = (cwd, subprocess.Popen([sys.executable, "-m", "cocopp", "--no-interactive", *args], cwd=cwd,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for name, (cwd, job) in jobs.items():
        output, _ = job.communicate(timeout=300)
        assert job.returncode == 0 and "ALL done" in output and "Traceback" not in output, output[-3000:]
        assert (cwd / "ppdata" / "index.html").is_file() and list(cwd.glob("ppdata/*/*.svg")), name
    readme = (run["out"] / "README.txt").read_text()
    assert "python -m cocopp --no-interactive adam momentum_learning_rate_5.0" in readme


def _export(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["export", *args])
    return code, err.getvalue()


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2 and err.count("\n") == 1 and err.startswith("suite: error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_bad_input_is_one_line_with_exit_code_2(run, tmp_path):
    _one_line(*_export(str(tmp_path / "nowhere"), "--format", "coco", "--out", str(tmp_path / "o")),
              "nowhere", "does not exist")
    _one_line(*_export(str(tmp_path), "--format", "coco", "--out", str(tmp_path / "o")), "not a run folder")
    _one_line(*_export(str(run["root"] / "run"), "--format", "cocoa", "--out", str(tmp_path / "o")),
              "'cocoa'", "coco, ioh")
    (tmp_path / "file").write_text("x")
    _one_line(*_export(str(run["root"] / "run"), "--format", "coco", "--out", str(tmp_path / "file")),
              "is a file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    _one_line(*_export(str(run["root"] / "run"), "--format", "coco", "--out", str(tmp_path / "full")),
              "not empty")
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"
    _one_line(*_export(str(run["root"] / "run"), "--format", "coco", "--out", str(run["root"] / "run" / "x")),
              "is inside the run folder")
    (tmp_path / "afile").write_text("x")
    _one_line(*_export(str(tmp_path / "afile"), "--format", "coco", "--out", str(tmp_path / "o")), "is a file")
    # A run written before cells recorded their sizes, whose plugin (which could build the landscape) is gone.
    moved = tmp_path / "moved"
    shutil.copytree(run["root"] / "run", moved)
    for table in (moved / "cells").glob("*/cells.parquet"):
        pd.read_parquet(table).drop(columns="coordinates").to_parquet(table, index=False)
    (moved / "cells.parquet").unlink()
    config = moved / "config.toml"
    config.write_text(config.read_text().replace(str(run["root"] / "pytree_bowl.py"), str(tmp_path / "gone.py")))
    _one_line(*_export(str(moved), "--format", "coco", "--out", str(tmp_path / "o")),
              "'pytree_bowl'", "needs its plugin")


def test_a_run_that_records_its_sizes_exports_without_its_plugins(run, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(run["root"] / "run", moved)
    config = moved / "config.toml"
    config.write_text(config.read_text().replace(str(run["root"] / "pytree_bowl.py"), str(tmp_path / "gone.py")))
    assert _export(str(moved), "--format", "coco", "--out", str(tmp_path / "o"))[0] == 0
    infos = "".join(p.read_text() for p in (tmp_path / "o").rglob("*.info"))
    assert "DIM = 7" in infos and "DIM = 2" in infos  # the plugin landscape's 7 coordinates, from cells.parquet


def test_exporting_again_replaces_the_earlier_export_only(run, tmp_path):
    out = tmp_path / "again"
    (out / ".export.123.abcd1234.tmp").mkdir(parents=True)  # what a killed export leaves does not block one
    assert _export(str(run["root"] / "run"), "--format", "coco", "--out", str(out))[0] == 0
    (out / ".export.123.abcd1234.tmp").rmdir()
    (out / "ppdata").mkdir()  # what cocopp writes when run in the folder
    (out / "old_entry").mkdir()
    record = json.loads((out / "suite-export.txt").read_text())
    (out / "suite-export.txt").write_text(json.dumps(record | {"written": record["written"] + ["old_entry"]}))
    assert _export(str(run["root"] / "run"), "--format", "coco", "--out", str(out))[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "adam", "momentum_learning_rate_5.0", "ppdata",
                                                     "suite-export.txt"]
    assert (out / "adam" / "bbobexp_f1.info").read_text() == (run["out"] / "adam" / "bbobexp_f1.info").read_text()


def _tables(folder, landscapes: int, hits: list, best: list, label: str) -> None:
    """Published tables alone (no config.toml, sizes recorded): one sgd cell per landscape, these restarts each."""
    cells = pd.DataFrame({"cell_id": [f"c{i}" for i in range(landscapes)],
                          "landscape_label": [f"L{i}" for i in range(landscapes)], "instance": 0, "entry": "sgd",
                          "optimizer": "sgd", "status": "ok", "f_opt": 0.0, "f_opt_known": True,
                          "f_opt_kind": "exact", "precision": "float64", "coordinates": 3, "median_final_loss": 1.0})
    restarts = pd.DataFrame({"cell_id": np.repeat(cells["cell_id"], len(hits)),
                             "restart": np.tile(np.arange(len(hits)), landscapes), "steps": 10,
                             "final_loss": np.tile(best, landscapes), "best_loss": np.tile(best, landscapes),
                             metrics.HIT_PREFIX + label: pd.array(hits * landscapes, dtype="Int64")})
    cells.to_parquet(folder / "cells.parquet")
    restarts.to_parquet(folder / "restarts.parquet")


def test_a_best_loss_rounding_puts_at_an_unmet_target_does_not_count_in_cocopp(tmp_path):
    # Restart 0 met Δf ≤ 1e-8 at step 5. The run counted no hit for the others, whose best Δf lies
    # 5e-13 above the target (cocopp counts anything within 1e-12 as met: HMultiReader.align) and
    # 1e-20 below it (float32 rounding at an f* ≠ 0 can do that); the export must not let cocopp count them.
    (tmp_path / "run").mkdir()
    _tables(tmp_path / "run", 1, [5, None, None], [0.5e-8, 1e-8 + 5e-13, 1e-8 - 1e-20], "1e-08")
    assert _export(str(tmp_path / "run"), "--format", "coco", "--out", str(tmp_path / "o"))[0] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (ds,) = cocopp.pproc.DataSetList(str(tmp_path / "o" / "sgd"))
    assert ds.detERT([1e-8]) == [(6 + 11 + 11) / 1]  # evaluations: step 5 → 6; 10 steps run → 11


def test_more_landscapes_than_cocopp_has_functions_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    _tables(tmp_path / "run", 25, [None], [1.0], "1")
    _one_line(*_export(str(tmp_path / "run"), "--format", "coco", "--out", str(tmp_path / "o")),
              "25 landscape settings", "1-24")
    assert not (tmp_path / "o").exists()


NEGATIVE = '''
import jax, jax.numpy as jnp, suite

def build(values, *, key):
    """A bowl upside down, shifted below zero: every loss is negative, f* unknown."""
    return suite.Landscape(data={}, init_fn=lambda data, key: jax.random.normal(key, (2,)),
                           loss_fn=lambda data, x, key: -jnp.sum(x * x) - 1.0)

@suite.hookimpl
def register_landscapes(register):
    register("negbowl", build, params=[])
'''


def test_per_instance_f_star_and_negative_losses_read_right_in_cocopp(tmp_path):
    """logistic's f* differs between instances; a loss below an unknown f* = 0 gives Δf < 0, which cocopp
    cannot take: each trial's Δf is measured from its own instance's f*, and no line shows Δf ≤ 0."""
    plugin = tmp_path / "negbowl.py"
    plugin.write_text(NEGATIVE)
    result = suite.run(landscapes=["logistic:dim=3:samples=32", "negbowl"], optimizers=["sgd:learning_rate=0.1"],
                       restarts=16, steps=60, instances=3, stop_at_target=True, out=tmp_path / "run",
                       progress=False, plugins=[str(plugin)])
    f_opts = result.cells.loc[result.cells["landscape"] == "logistic", "f_opt"]
    assert f_opts.nunique() == 3  # the point of the test
    out = tmp_path / "export"
    assert _export(str(tmp_path / "run"), "--format", "coco", "--out", str(out))[0] == 0
    dats = "".join(p.read_text() for p in out.rglob("*.dat")).splitlines()
    assert all(float(line.split()[2]) > 0 for line in dats if not line.startswith("%"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(cocopp.pproc.DataSetList(str(out / "sgd_learning_rate_0.1"))) == 2  # sets cocopp's testbed
    testbed = cocopp.testbedsettings.current_testbed
    for instance in (1, 2, 3):
        testbed.instancesOfInterest = [instance]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = cocopp.pproc.DataSetList(str(out / "sgd_learning_rate_0.1"))
        finally:
            testbed.instancesOfInterest = None
        (ds,) = [ds for ds in data if ds.funcId == 1]
        board = result.leaderboard()
        (cell,) = board.loc[board["landscape_label"].str.startswith("logistic")
                            & (board["instance"] == instance - 1), "cell_id"]
        (row,) = result.cells[result.cells["cell_id"] == cell].to_dict("records")
        for target, value in zip(GRID, ds.detERT(list(GRID))):
            label = metrics.target_label(target)
            ert, reached = row.get(f"ert_{label}", math.nan), row.get(f"reached_{label}", math.nan)
            if math.isnan(ert):
                continue
            assert value == pytest.approx(ert + 1 / reached if reached else math.inf, rel=1e-12), (instance, label)
    cocopp.testbedsettings.reset_current_testbed()


def test_a_part_of_a_split_run_numbers_landscapes_as_the_whole_run(tmp_path, capsys):
    argv = ["--landscape", "bowl:dim=2", "--landscape", "rastrigin:dim=2", "--optimizer", "sgd:learning_rate=0.1",
            "--restarts", "4", "--steps", "20", "--quiet", "--no-report"]
    assert main(["run", *argv, "--part", "2/2", "--out", str(tmp_path / "p2")]) == 0  # rastrigin's share
    capsys.readouterr()
    code = main(["export", str(tmp_path / "p2"), "--format", "coco", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 0 and "the run is partial: 1 of its 2 planned cells never ran" in err
    (info,) = (tmp_path / "o").rglob("*.info")
    assert info.name == "bbobexp_f2.info" and "landscape rastrigin(dim=2)" in info.read_text()
