"""``suite export --format ioh``: read back by the real iohinspector, with the run's own runtimes and ERT.

References: the restart table's first-hit steps and the cells' ``ert_*`` and
``reached_*`` (written by the runner), plain loops over the restarts, hand
counts, and the files the real ``ioh`` logger writes. ``ioh`` has no reader of
its own (0.4.2: loggers only), so iohinspector is the reader.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import suite
from suite.cli import main
from suite.export import common, ioh as ioh_export

iohinspector = pytest.importorskip("iohinspector")
pl = pytest.importorskip("polars")

RESTARTS, STEPS = 16, 100
# Coarse (met at the start by most restarts), middle, and fine (unmet on rastrigin) targets.
CHECKED = ("100", "10", "1", "0.0631", "0.001", "1e-05", "1e-08")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A run (2 landscapes × 2 instances; two swept entries, one fixed that diverges) and its export.

    ``sgd(learning_rate=0.5)`` diverges on every restart on the bowl (after
    meeting coarse targets at the start); rastrigin leaves the fine targets
    unmet; the entries' selected learning rates differ between instances.
    """
    root = tmp_path_factory.mktemp("ioh")
    run = suite.run(landscapes=["bowl:dim=4:condition=10", "rastrigin:dim=2"],
                    optimizers=["adam:sweep.learning_rate=0.01,0.1,0.3", "sgd:sweep.learning_rate=0.003,0.03,0.1",
                                "sgd:learning_rate=0.5"],
                    restarts=RESTARTS, steps=STEPS, instances=2, out=root / "run", progress=False,
                    compile_cache="off")
    out = root / "ioh"
    assert main(["export", str(run.path), "--format", "ioh", "--out", str(out)]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = iohinspector.DataManager()
        manager.add_folder(str(out))
    data = manager.load(monotonic=True, include_meta_data=True)
    board = suite.load(run.path).leaderboard()
    return {"run": run, "out": out, "manager": manager, "data": data, "board": board, "warnings": caught}


def _selected(exported):
    """The leaderboard's selected cells with their landscape setting, instance and entry (pandas)."""
    cells = pd.read_parquet(exported["run"].path / "cells.parquet").set_index("cell_id")
    board = exported["board"]
    rows = cells.loc[board["cell_id"]].reset_index()
    rows["setting"] = [label.split("#")[0] for label in rows["landscape_label"]]
    rows["instance"] += 1  # the run's instance i is IOHprofiler's i + 1, as COCO's
    return rows


def _restarts(exported, cell_id):
    table = pd.read_parquet(exported["run"].path / "restarts.parquet")
    return table[table["cell_id"] == cell_id].sort_values("restart")


def _first_hits(rows: pd.DataFrame, label: str) -> np.ndarray:
    """``step_to_target_<label>`` as floats, NaN where never met (a plain read of the table)."""
    return pd.to_numeric(rows[f"step_to_target_{label}"], errors="coerce").to_numpy(np.float64)


def test_iohinspector_loads_one_algorithm_per_entry_and_one_function_per_landscape(exported):
    overview = exported["manager"].overview
    selected = _selected(exported)
    entries = sorted(selected["entry"].unique())
    assert sorted(overview["algorithm_name"].unique().to_list()) == entries
    settings = list(dict.fromkeys(selected["setting"]))  # the run's order of landscapes
    functions = dict(zip(overview["function_id"].to_list(), overview["function_name"].to_list(), strict=True))
    assert functions == {1: settings[0], 2: settings[1]}
    # Dimension: the coordinates the optimizer moves (bowl:dim=4 and rastrigin:dim=2 by their definitions).
    dims = overview.group_by("function_id").agg(pl.col("dimension").unique()).sort("function_id")
    assert dims["dimension"].to_list() == [[4], [2]]
    # One run per restart of the selected cell, for every entry, landscape and instance.
    assert len(overview) == len(entries) * 2 * 2 * RESTARTS
    counts = overview.group_by("algorithm_name", "function_id", "instance").len()
    assert set(counts["len"].to_list()) == {RESTARTS}
    assert sorted(overview["instance"].unique().to_list()) == [1, 2]
    # Nothing in the folder is taken for a broken IOHprofiler file (suite's own marker is not a .json).
    assert not [w for w in exported["warnings"] if "Failed to load" in str(w.message)]


def _runtimes(exported) -> pd.DataFrame:
    """iohinspector's fixed-target runtime of every run at every checked target (inf: never)."""
    data = exported["data"]
    targets = sorted(_exact(exported, label) for label in CHECKED)
    aligned = iohinspector.align_data(data, targets, group_cols=["data_id"], x_col="raw_y", y_col="evaluations",
                                      maximization=False, silence_warning=True)
    meta = exported["manager"].overview.select("data_id", "algorithm_name", "function_id", "instance", "run_id")
    return aligned.select("data_id", "raw_y", "evaluations").join(meta, on="data_id").to_pandas()


def _exact(exported, label: str) -> float:
    """The target's exact value, from the run's config (labels keep 3 digits: 0.0631 is 10^-1.2)."""
    targets = tomllib.loads((exported["run"].path / "config.toml").read_text())["targets"]
    (value,) = [t for t in targets if suite.metrics.target_label(t) == label]
    return float(value)


def test_fixed_target_runtimes_are_the_first_hit_steps_plus_one(exported):
    """Evaluation e is step e − 1: per run, iohinspector's runtime is step_to_target + 1, inf where never met."""
    runtimes = _runtimes(exported)
    selected = _selected(exported)
    function_of = {s: i for i, s in enumerate(dict.fromkeys(selected["setting"]), start=1)}
    compared = 0
    for _, cell in selected.iterrows():
        rows = _restarts(exported, cell["cell_id"])
        mine = runtimes[(runtimes["algorithm_name"] == cell["entry"])
                        & (runtimes["function_id"] == function_of[cell["setting"]])
                        & (runtimes["instance"] == cell["instance"])]
        # Runs of one instance are numbered on from the previous instance's (restart order within).
        first_run = mine["run_id"].min()
        for label in CHECKED:
            at = mine[mine["raw_y"] == _exact(exported, label)].sort_values("run_id")
            assert list(at["run_id"] - first_run) == list(range(RESTARTS))
            expected = _first_hits(rows, label) + 1
            got = at["evaluations"].to_numpy(np.float64)
            np.testing.assert_array_equal(np.isinf(got), np.isnan(expected), err_msg=f"{cell['cell_id']} {label}")
            np.testing.assert_array_equal(got[~np.isinf(got)], expected[~np.isnan(expected)])
            compared += int(np.isfinite(got).sum())
    assert compared > 500  # plenty met, and (below) plenty unmet, at the start and later


def test_the_fixture_covers_starts_divergence_and_unsolved_restarts(exported):
    restarts = pd.read_parquet(exported["run"].path / "restarts.parquet")
    chosen = restarts[restarts["cell_id"].isin(exported["board"]["cell_id"])]
    assert (pd.to_numeric(chosen["step_to_target_100"]) == 0).any()  # met at the start: evaluation 1
    assert (chosen["diverged_step"] >= 0).sum() >= RESTARTS
    assert chosen["step_to_target_1e-08"].isna().sum() > RESTARTS


def test_evals_are_the_steps_run_plus_one_and_divergence_meets_nothing_after(exported):
    overview = exported["manager"].overview.to_pandas()
    data = exported["data"].to_pandas()
    selected = _selected(exported)
    diverged = selected[selected["entry"] == "sgd(learning_rate=0.5)"]
    assert len(diverged) == 4
    for _, cell in selected.iterrows():
        rows = _restarts(exported, cell["cell_id"])
        runs = overview[(overview["algorithm_name"] == cell["entry"]) & (overview["instance"] == cell["instance"])
                        & (overview["function_name"] == cell["setting"])].sort_values("run_id")
        np.testing.assert_array_equal(runs["evals"].to_numpy(), rows["steps"].to_numpy() + 1)
    for _, cell in diverged[diverged["setting"].str.startswith("bowl")].iterrows():
        rows = _restarts(exported, cell["cell_id"])
        assert (rows["diverged_step"] >= 0).all() and (rows["steps"] == rows["diverged_step"]).all()
        runs = overview[(overview["algorithm_name"] == cell["entry"]) & (overview["instance"] == cell["instance"])
                        & (overview["function_name"] == cell["setting"])].sort_values("run_id")
        for (_, run), (_, restart) in zip(runs.iterrows(), rows.iterrows(), strict=True):
            lines = data[data["data_id"] == run["data_id"]]
            # Nothing at or after the non-finite step counts as better than the best finite loss.
            assert lines["evaluations"].max() <= restart["diverged_step"] + 1
            assert lines["raw_y"].min() == pytest.approx(restart["best_loss"], rel=1e-12)


@pytest.mark.parametrize("label", ["100", "1", "0.0631", "1e-05"])
def test_aggregate_ert_and_success_ratio_match_the_cells(exported, label):
    """iohinspector's ERT (an unsuccessful run costs the budget, T + 1 evaluations) against a plain loop,
    and, where no restart diverged, against the run's ERT: in evaluations it is ERT + restarts / successes."""
    selected = _selected(exported)
    function_of = {s: i for i, s in enumerate(dict.fromkeys(selected["setting"]), start=1)}
    target = _exact(exported, label)
    stats = iohinspector.aggregate_running_time(
        exported["data"], f_min=target, f_max=target, scale_f_log=False, eval_max=STEPS + 1,
        free_vars=["algorithm_name", "function_id", "instance"])
    checked_against_cells = 0
    for _, cell in selected.iterrows():
        row = stats[(stats["algorithm_name"] == cell["entry"]) & (stats["function_id"] == function_of[cell["setting"]])
                    & (stats["instance"] == cell["instance"])]
        assert len(row) == 1
        rows = _restarts(exported, cell["cell_id"])
        hits = _first_hits(rows, label)
        spent, successes = 0.0, 0
        for hit in hits:  # the plain loop: evaluations to the first hit, or the whole budget
            if math.isnan(hit):
                spent += STEPS + 1
            else:
                spent, successes = spent + hit + 1, successes + 1
        expected = spent / successes if successes else math.inf
        assert row["ERT"].iloc[0] == pytest.approx(expected, rel=1e-12)
        assert row["success_ratio"].iloc[0] == pytest.approx(cell[f"reached_{label}"], rel=1e-12)
        if (rows["diverged_step"] < 0).all() and successes:
            assert row["ERT"].iloc[0] == pytest.approx(cell[f"ert_{label}"] + RESTARTS / successes, rel=1e-9)
            checked_against_cells += 1
    assert checked_against_cells >= 2


def test_iohinspector_defaults_work_on_the_export(exported):
    """Its default target grid spans the data's raw_y: an unknown start is IOHprofiler's None, not inf."""
    stats = iohinspector.aggregate_running_time(exported["data"])
    assert len(stats) and np.isfinite(stats["raw_y"]).all()
    assert stats["success_ratio"].between(0, 1).all()


def test_the_files_have_the_shape_the_real_ioh_logger_writes(exported, tmp_path):
    ioh = pytest.importorskip("ioh")
    problem = ioh.get_problem(1, instance=1, dimension=2)
    logger = ioh.logger.Analyzer(root=str(tmp_path), folder_name="reference", algorithm_name="random")
    problem.attach_logger(logger)
    rng = np.random.default_rng(0)
    for _ in range(2):
        for _ in range(5):
            problem(rng.uniform(-5, 5, 2))
        problem.reset()
    logger.close()
    reference = tmp_path / "reference"
    (ref_json,) = reference.glob("*.json")
    ref = json.loads(ref_json.read_text())
    ours_json = sorted(exported["out"].glob("*/IOHprofiler_f*.json"))
    assert len(ours_json) == 3 * 2
    named = re.compile(r"IOHprofiler_f(\d+)_([^/]+)\.json")
    dat_named = r"data_f{0}_{1}/IOHprofiler_f{0}_DIM(\d+)\.dat"
    for path, meta in [(ref_json, ref)] + [(p, json.loads(p.read_text())) for p in ours_json]:
        number, name = named.fullmatch(path.name).groups()
        (scenario,) = meta["scenarios"]
        assert re.fullmatch(dat_named.format(number, re.escape(name)), scenario["path"])
        assert int(number) == meta["function_id"]
        assert set(ref) <= set(meta) <= set(ref) | {"experiment_attributes"}
        assert set(meta["algorithm"]) == set(ref["algorithm"])
        assert meta["attributes"] == ref["attributes"] and meta["maximization"] is False
        assert set(scenario) == set(ref["scenarios"][0])
        for run in scenario["runs"]:
            assert set(run) == set(ref["scenarios"][0]["runs"][0])
            assert set(run["best"]) == set(ref["scenarios"][0]["runs"][0]["best"])
        text = (path.parent / scenario["path"]).read_text()
        header = (reference / ref["scenarios"][0]["path"]).read_text().splitlines()[0]
        sections = [s for s in text.split(header + "\n")]
        assert sections[0] == "" and len(sections) - 1 == len(scenario["runs"])
        assert all(s.startswith("1 ") for s in sections[1:])  # every run starts at evaluation 1
    info = json.loads(ours_json[0].read_text())["algorithm"]["info"]
    assert "selected" in info and "cell " in info


def test_a_second_export_replaces_the_first(exported):
    before = {p: p.read_bytes() for p in exported["out"].rglob("*.dat")}
    assert main(["export", str(exported["run"].path), "--format", "ioh", "--out", str(exported["out"]),
                 "--quiet"]) == 0
    after = {p: p.read_bytes() for p in exported["out"].rglob("*.dat")}
    assert before == after


# --- the lines of one restart, by hand -------------------------------------------------

TARGETS = np.array([100.0, 1.0, 0.01, 1e-4, 1e-8])


def _trials(hits, steps, best, *, f_opt=1.0, resolution=1e-6):
    function = common.Function(number=1, label="toy(dim=2)", coordinates=2, f_opt=f_opt, f_opt_kind="exact",
                               resolution=resolution)
    return common.Trials(function=function, instance=0, f_opt=f_opt, entry="toy", cell_id="c0", setting="",
                         hits=np.array(hits, dtype=np.float64), steps=np.array(steps, dtype=np.float64),
                         best=np.array(best, dtype=np.float64), final=np.array(best, dtype=np.float64))


def test_lines_of_a_restart_counted_by_hand():
    nan, inf = math.nan, math.inf
    trials = _trials(
        hits=[[0, 0, 5, nan, nan],  # 100 and 1 met at the start, 0.01 at step 5
              [3, 7, nan, nan, nan],  # nothing at the start
              [nan] * 5,  # diverged at step 4, no finite loss
              [nan] * 5,  # not finite at the start
              [0, 0, 0, 2, nan],  # best at f* exactly: 1e-8 is below the resolution 1e-6, not credited
              [2, 10, nan, nan, nan],  # 1 met at the last step
              [0, 0, 0, nan, nan]],  # 0.01 met in the run's precision, a hair above it in float64
        steps=[10, 10, 4, 0, 10, 10, 10],
        best=[1.005, 1.5, inf, inf, 1.0, 1.5, 1.0100001])
    assert ioh_export.runs(trials, TARGETS) == [
        [(1, 1.0), (6, 0.01), (11, pytest.approx(0.005, rel=1e-9))],
        [(1, None), (4, 100.0), (8, 1.0), (11, 0.5)],
        [(1, None), (5, inf)],
        [(1, inf)],
        [(1, 0.01), (3, 1e-4), (11, 1e-6)],
        [(1, None), (3, 100.0), (11, 0.5)],
        [(1, 0.01), (11, 0.01)],
    ]


def test_a_best_below_an_uncredited_target_by_rounding_stays_above_it():
    # The run's float32 check said 0.01 was not met; the float64 difference says 0.01 exactly.
    trials = _trials(hits=[[0, 0, math.nan, math.nan, math.nan]], steps=[10], best=[1.0099], resolution=1e-12)
    ((_, first), (evals, last)) = ioh_export.runs(trials, TARGETS)[0]
    assert first == 1.0 and evals == 11
    assert 0.01 < last <= 0.01 * (1 + 1e-15)


# --- bad input -------------------------------------------------------------------------

def test_a_missing_run_folder_is_one_line_with_exit_code_2(capsys, tmp_path):
    code = main(["export", str(tmp_path / "nowhere"), "--format", "ioh", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nowhere" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_one_line_with_exit_code_2(capsys, tmp_path, exported):
    target = tmp_path / "taken.txt"
    target.write_text("keep me\n")
    code = main(["export", str(exported["run"].path), "--format", "ioh", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "taken.txt" in err and "folder" in err
    assert target.read_text() == "keep me\n"
