"""The ``suite`` command: errors, exit codes, the run folder, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from suite.tables import EXECUTION_COLUMNS
from suite.cli import main

SMALL = ["--restarts", "4", "--steps", "20", "--quiet", "--no-report"]


def run_main(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv, message", [
    (["run", "--landscape", "bowll"], "unknown landscape 'bowll'; choose from: bowl, deep_linear, deep_net"),
    (["run", "--optimizer", "adamm"], "unknown optimizer 'adamm'; choose from: adabelief, adadelta, adagrad, adam,"),
    (["run", "--optimizer", "adam+stal"],
     "unknown wrapper 'stal'; choose from: clip, noise, penalty, round_robin, stale"),
    (["run", "--wrap", "nois"], "unknown wrapper 'nois'; choose from: clip, noise"),
    (["run", "--optimizer", "adam+stale:tau=-1"],
     "parameter 'tau' of wrapper 'stale' must be an integer >= 0; got -1"),
    (["run", "--optimizer", "adam+stale:taux=1"], "unknown parameter 'taux' for wrapper 'stale'; choose from: tau"),
    (["run", "--optimizer", "adam+clip:by=both"],
     "parameter 'by' of wrapper 'clip' must be one of norm, value; got 'both'"),
    (["run", "--optimizer", "adam+stale+stale:tau=2"], "wrapper 'stale' is given twice for optimizer 'adam'"),
    (["run", "--optimizer", "adam+"], "expected NAME[:k=v...][+WRAPPER[:k=v...]...]"),
    (["run", "--landscape", "bowl:dimm=3"], "unknown parameter 'dimm' for landscape 'bowl'; choose from: condition, dim"),
    (["run", "--landscape", "bowl:dim=ten"], "parameter 'dim' of landscape 'bowl' must be an integer >= 1; got 'ten'"),
    (["run", "--landscape", "bowl:dim=-2"], "parameter 'dim' of landscape 'bowl' must be an integer >= 1; got -2"),
    (["run", "--landscape", "bowl:spectrum=cubic"], "must be one of log, linear; got 'cubic'"),
    (["run", "--optimizer", "adam:learning_rate=fast"], "parameter 'learning_rate' of optimizer 'adam' must be a float >= 0; got 'fast'"),
    (["run", "--optimizer", "adam:learning_rate=-0.1"], "must be a float >= 0; got -0.1"),
    (["run", "--landscape", "bowl:dim"], "expected key=value, got 'dim'"),
    (["run", "--restarts", "-1"], "restarts must be an integer >= 1; got -1"),
    (["run", "--steps", "0"], "steps must be an integer >= 1; got 0"),
    (["run", "--steps", "many"], "--steps must be an integer; got 'many'"),
    (["run", "no_such_config.toml"], "config file 'no_such_config.toml' does not exist"),
    (["run", "--resume", "no_such_run"], "is not a run folder"),
    (["run", "--plugin", "missing.py"], "plugin file 'missing.py' does not exist"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["run", "--matmul-precision", "half"],
     "matmul_precision must be one of default, float32, tensorfloat32, bfloat16; got 'half'"),
    (["run", "--diagnose", "hessan"],
     "unknown diagnostic 'hessan'; choose from: hessian, layers, path, minima, pictures, sparsity, all"),
    (["run", "--diagnose-restarts", "-1"], "diagnose_restarts must be an integer >= 0; got -1"),
])
def test_bad_input_is_one_line_with_exit_code_2(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("suite: error: ")
    assert message in err


@pytest.mark.parametrize("text, message", [
    ("restarts = [", "is not valid TOML"),
    ("colour = 3\n", "unknown key 'colour' in"),
    ("[[landscape]]\ndim = 3\n", "needs name = "),
    ("landscape = 3\n", "must be an array of tables"),
    ("targets = [1.0, 10.0]\n", "targets must be in descending order"),
    # Two targets the tables would name alike: one column would silently hold both.
    ("targets = [1.0004, 1.0, 0.1]\n", "targets 1.0004 and 1.0 are too close: both are named '1'"),
    ("restarts = 'many'\n", "must be an integer; got 'many'"),
    ("[[optimizer]]\nname = 'sgd'\n[[landscape]]\nname = 'bowl'\ndim = 2.5\n", "parameter 'dim' of landscape 'bowl' must be an integer"),
])
def test_malformed_config_is_one_line_with_exit_code_2(capsys, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run_main(capsys, "run", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1
    assert message in err


def test_the_console_script_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "suite", "run", "--landscape", "nope"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_a_run_writes_the_documented_folder(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_main(capsys, "run", "--landscape", "bowl:dim=3:condition=10,100",
                               "--optimizer", "adam:learning_rate=1e-2,1e-1:b1=0.9",
                               "--optimizer", "sgd:learning_rate=0.05", "--seed", "3",
                               "--out", str(out), *SMALL)
    assert code == 0
    assert f"run folder: {out}" in stdout and "Leaderboard" in stdout
    assert {p.name for p in out.iterdir()} >= {"config.toml", "metadata.json", "restarts.parquet",
                                                "cells.parquet", "curves.parquet", "cells"}
    restarts = pd.read_parquet(out / "restarts.parquet")
    for column in ("landscape", "optimizer", "restart", "final_loss", "best_loss", "diverged_step",
                   "seed", "p_landscape_dim", "p_landscape_condition", "p_opt_learning_rate",
                   "step_to_target_1e-08", "step_to_target_100"):
        assert column in restarts.columns
    assert len(restarts) == 2 * 3 * 4  # landscapes × optimizer settings × restarts
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 6 and (cells["status"] == "ok").all()
    for column in ("compile_seconds", "run_seconds", "device", "success_1e-08", "ert_1e-08", "restarts",
                   "updates_per_second", "floor_fraction", "traffic_bytes", "copy_bandwidth"):
        assert column in cells.columns
    # Speed per cell: restart-steps per second, against the work known by hand. Each
    # program ran every setting of its sweep at once (adam's two learning rates on a
    # landscape share one program, sgd's one rate has its own), 4 restarts × 20 steps
    # each, in the program's measured run_seconds: the cell's rate is that work over
    # that time, whatever share of it the cell is charged.
    settings = cells["optimizer"].map({"adam": 2, "sgd": 1})
    assert (cells["restarts"] == 4).all() and (cells["steps_run"] == 20).all()
    assert (cells["program_cells"] == settings).all()
    assert (cells["run_seconds"] > 0).all() and np.isfinite(cells["run_seconds"]).all()
    np.testing.assert_allclose(cells["updates_per_second"], 4 * 20 * settings / cells["run_seconds"], rtol=1e-9)
    # Bytes a restart-step reads and writes, by hand, in float32: adam's point x and its
    # m and v (3 floats each) and its int32 step count; sgd (no momentum) keeps no
    # state, only x. Each is read and written: twice.
    traffic = cells["optimizer"].map({"adam": 2 * (4 * 3 * 3 + 4), "sgd": 2 * (4 * 3)})
    assert (cells["traffic_bytes"] == traffic).all()
    # The share of the memory-traffic floor: those bytes at the measured update rate,
    # over the measured copy bandwidth.
    assert (cells["copy_bandwidth"] > 0).all() and np.isfinite(cells["copy_bandwidth"]).all()
    np.testing.assert_allclose(cells["floor_fraction"],
                               cells["updates_per_second"] * traffic / cells["copy_bandwidth"], rtol=1e-9)
    curves = pd.read_parquet(out / "curves.parquet")
    assert set(curves["quantity"]) == {"loss", "best"} and curves["step"].max() == 20
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["seed"] == 3 and metadata["finished"] and metadata["versions"]["jax"]
    assert metadata["device"]["platform"] and "git_commit" in metadata
    config = (out / "config.toml").read_text()
    assert "learning_rate = 0.01" in config and "seed = 3" in config


def test_a_failing_cell_is_recorded_and_every_other_cell_kept(capsys, tmp_path):
    plugin = tmp_path / "broken_landscape.py"
    plugin.write_text(
        "import jax, jax.numpy as jnp, suite\n"
        "def _init(data, key):\n    return jnp.zeros(3)\n"
        "def _loss(data, x, key):\n    return x @ jnp.ones(4)  # shapes do not match\n"
        "def build(params, *, key):\n"
        "    return suite.Landscape(data={}, init_fn=_init, loss_fn=_loss)\n"
        "@suite.hookimpl\ndef register_landscapes(register):\n"
        "    register('broken', build, params=[], doc='Fails to trace.')\n")
    out = tmp_path / "run"
    code, stdout, err = run_main(capsys, "run", "--plugin", str(plugin), "--landscape", "broken",
                                 "--landscape", "bowl:dim=2", "--optimizer", "sgd:learning_rate=0.1",
                                 "--out", str(out), *SMALL)
    assert code == 1
    cells = pd.read_parquet(out / "cells.parquet").set_index("landscape")
    assert cells.loc["broken", "status"] == "failed"
    # x (3 floats) @ ones(4): JAX refuses to contract dimensions 3 and 4 while tracing.
    assert cells.loc["broken", "error"] == ("TypeError: dot_general requires contracting dimensions to have "
                                            "the same shape, got (3,) and (4,).")
    assert cells.loc["bowl", "status"] == "ok"
    assert len(pd.read_parquet(out / "restarts.parquet")) == 4
    assert "failed:" in err and "broken" in err


def test_suite_check_passes_a_good_landscape_and_names_what_a_broken_one_gets_wrong(capsys, tmp_path):
    code, out, _ = run_main(capsys, "check", "bowl:dim=2,3", "adam")
    assert code == 0
    assert "bowl(condition=10.0, dim=2" in out and "bowl(condition=10.0, dim=3" in out
    assert "✓ loss(x*) = f*" in out and "0 failed" in out

    plugin = tmp_path / "leaky.py"
    plugin.write_text(
        "import jax, jax.numpy as jnp, suite\n"
        "def _init(data, key):\n    return jax.random.normal(key, (3,))\n"
        "def _loss(data, x, key):\n    return jnp.sum(x * x)\n"
        "def _project(data, x):\n    return x / 2  # not a projection\n"
        "def build(params, *, key):\n"
        "    return suite.Landscape(data={}, init_fn=_init, loss_fn=_loss, project_fn=_project,\n"
        "                           f_opt=1.0, x_opt=jnp.zeros(3))\n"
        "@suite.hookimpl\ndef register_landscapes(register):\n"
        "    register('leaky', build, params=[], doc='Broken on purpose.')\n")
    code, out, _ = run_main(capsys, "check", "leaky", "--plugin", str(plugin))
    assert code == 1
    assert "✗ projection is idempotent: project(project(x)) versus project(x)" in out
    assert "✗ loss(x*) = f*: loss(x*) = 0 is below f* = 1 by 1, more than 4 ulps of float32" in out
    assert "✗ x* is a minimum: no point near it is below f*: loss 0 at a point near x*" in out
    assert "✗ f* ≤ loss at sampled points: loss" in out
    assert "✓ gradient is finite at sampled starts" in out
    assert "4 failed" in out


@pytest.mark.parametrize("argv, message", [
    (["check", "bowll"], "unknown landscape, optimizer or wrapper 'bowll'; choose from: adabelief, adadelta,"),
    (["check", "bowl:dim=0"], "parameter 'dim' of landscape 'bowl' must be an integer >= 1; got 0"),
])
def test_suite_check_bad_names_are_usage_errors(capsys, argv, message):
    code, _, err = run_main(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_wrap_applies_to_every_optimizer_and_the_run_resumes_with_it(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_main(capsys, "run", "--landscape", "bowl:dim=2", "--optimizer", "sgd:sweep.learning_rate=0.1",
                               "--optimizer", "adam:sweep.learning_rate=0.1+clip:threshold=0.5",
                               "--wrap", "stale:tau=0,3", "--out", str(out), *SMALL)
    assert code == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert sorted(cells["entry"]) == ["adam+clip(threshold=0.5)+stale(tau=0)", "adam+clip(threshold=0.5)+stale(tau=3)",
                                      "sgd+stale(tau=0)", "sgd+stale(tau=3)"]
    assert "sgd+stale(tau=3)" in stdout  # the leaderboard ranks entries
    # The resolved config carries each optimizer's chain: resuming finds every cell finished.
    code, _, err = run_main(capsys, "run", "--resume", str(out), "--quiet")
    assert code == 0 and "4 finished cells skipped" in err


def test_suite_check_and_list_cover_wrappers(capsys):
    code, out, _ = run_main(capsys, "check", "stale:tau=0,4")
    assert code == 0 and "wrapper stale" in out and "stale(tau=4)" in out and "0 failed" in out
    assert "✓ passes value, grad, value_fn and key on to the optimizer" in out
    code, out, _ = run_main(capsys, "list")
    assert code == 0 and "Wrappers" in out and "round_robin" in out


def test_an_existing_run_folder_is_not_overwritten(capsys, tmp_path):
    out = tmp_path / "run"
    assert run_main(capsys, "run", "--landscape", "bowl:dim=2", "--optimizer", "sgd",
                    "--out", str(out), *SMALL)[0] == 0
    code, _, err = run_main(capsys, "run", "--out", str(out), *SMALL)
    assert code == 2 and "--resume" in err


def test_resume_refuses_flags_that_would_change_the_run(capsys, tmp_path):
    out = tmp_path / "run"
    run_main(capsys, "run", "--landscape", "bowl:dim=2", "--optimizer", "sgd", "--out", str(out), *SMALL)
    code, _, err = run_main(capsys, "run", "--resume", str(out), "--steps", "50")
    assert code == 2 and "drop --steps" in err




# Adam under another name, which kills its own process (SIGKILL: no cleanup, no
# handler runs) the first time it is built once the folder $SUITE_TEST_KILL_CELLS
# holds $SUITE_TEST_KILL_AFTER finished cells. The factory is built inside every
# program it runs in, so the kill lands at the start of the next program after
# those cells, whatever the speed of the machine. Without the variables it is adam.
KILLER = '''
import os, signal

import optax
import suite


def killing_adam(learning_rate):
    """Adam that kills its own process once enough cells are finished."""
    folder = os.environ.get("SUITE_TEST_KILL_CELLS")
    if folder and os.path.isdir(folder):
        finished = [name for name in os.listdir(folder) if not name.startswith(".")]
        if len(finished) >= int(os.environ["SUITE_TEST_KILL_AFTER"]):
            os.kill(os.getpid(), signal.SIGKILL)
    return optax.adam(learning_rate)


@suite.hookimpl
def register_optimizers(register):
    register("killing_adam", killing_adam,
             params=[suite.Param("learning_rate", float, 0.01, "step size", low=0.0)])
'''


def test_a_killed_run_resumed_gives_the_tables_of_an_uninterrupted_run(tmp_path):
    # Three landscape shapes: three programs of two cells each. The run kills itself
    # when the third program starts, 4 of its 6 cells finished.
    plugin = tmp_path / "killer.py"
    plugin.write_text(KILLER)
    argv = ["run", "--plugin", str(plugin), "--landscape", "bowl:dim=2,3,4",
            "--optimizer", "killing_adam:learning_rate=0.01,0.1", "--restarts", "8", "--steps", "60", "--quiet"]
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = subprocess.run([sys.executable, "-m", "suite", *argv, "--out", str(full)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    env = os.environ | {"SUITE_TEST_KILL_CELLS": str(killed / "cells"), "SUITE_TEST_KILL_AFTER": "4"}
    process = subprocess.run([sys.executable, "-m", "suite", *argv, "--out", str(killed)],
                             capture_output=True, text=True, env=env, timeout=600)
    assert process.returncode == -signal.SIGKILL, process.stderr
    finished = [p for p in (killed / "cells").iterdir() if not p.name.startswith(".")]
    assert 4 <= len(finished) < 6, "the kill did not land mid-run"
    assert not (killed / "cells.parquet").exists()  # the run never reached its tables

    resumed = subprocess.run([sys.executable, "-m", "suite", "run", "--resume", str(killed), "--quiet"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} finished cells skipped" in resumed.stderr
    for name in ("restarts", "curves"):
        pd.testing.assert_frame_equal(pd.read_parquet(killed / f"{name}.parquet"),
                                      pd.read_parquet(full / f"{name}.parquet"), check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(killed / "cells.parquet").drop(columns=list(EXECUTION_COLUMNS)),
                                  pd.read_parquet(full / "cells.parquet").drop(columns=list(EXECUTION_COLUMNS)), check_exact=True)
