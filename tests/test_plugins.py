"""Plugin discovery: entry points, single files, duplicates, typos, broken plugins."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import suite
from suite import hookspecs
from suite.errors import UsageError
from suite.registry import load_registry, make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "suite-example-plugin"

GOOD_PLUGIN = '''
import jax, jax.numpy as jnp, optax, suite

def _init(data, key):
    return jax.random.normal(key, (data["dim"].shape[0],))

def _loss(data, x, key):
    return jnp.sum(x * x)

def build(params, *, key):
    """The sphere: sum of squares."""
    return suite.Landscape(data={"dim": jnp.zeros(params["dim"])}, init_fn=_init,
                           loss_fn=_loss, f_opt=0.0, tags=("convex",))

@suite.hookimpl
def register_landscapes(register):
    register("{landscape}", build, params=[suite.Param("dim", int, 3, "coordinates", low=1)])

@suite.hookimpl
def register_optimizers(register):
    register("{optimizer}", lambda learning_rate: optax.sgd(learning_rate),
             params=[suite.Param("learning_rate", float, 0.1, "step size", low=0.0)],
             doc="Gradient descent, from a file.")
'''


def write_plugin(tmp_path, landscape="sphere", optimizer="filesgd", name="my_plugin.py"):
    path = tmp_path / name
    path.write_text(GOOD_PLUGIN.replace("{landscape}", landscape).replace("{optimizer}", optimizer))
    return path


def write_source(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(source)
    return path


def suite_cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=600)


def test_a_local_file_plugin_registers_through_the_same_path(tmp_path):
    registry = load_registry(local_files=[write_plugin(tmp_path)])
    assert registry.landscapes["sphere"].plugin.endswith("my_plugin.py")
    assert registry.optimizers["filesgd"].doc == "Gradient descent, from a file."
    assert "bowl" in registry.landscapes  # the built-ins are still there


def test_a_local_file_plugin_runs_end_to_end(tmp_path):
    plugin = write_plugin(tmp_path)
    out = tmp_path / "run"
    done = suite_cli("run", "--plugin", str(plugin), "--landscape", "sphere:dim=4",
                     "--optimizer", "filesgd:learning_rate=0.1", "--restarts", "4", "--steps", "30",
                     "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import pandas as pd
    restarts = pd.read_parquet(out / "restarts.parquet")
    assert set(restarts["landscape"]) == {"sphere"} and len(restarts) == 4
    assert (restarts["final_loss"] < 1e-3).all()
    assert str(plugin.resolve()) in (out / "config.toml").read_text()  # resume finds it again


def test_two_plugins_claiming_one_name_is_an_error_naming_both(tmp_path):
    first = write_plugin(tmp_path, name="first.py")
    second = write_plugin(tmp_path, name="second.py")
    with pytest.raises(UsageError, match=r"landscape 'sphere' is registered by two plugins: .*first\.py.* and .*second\.py"):
        load_registry(local_files=[first, second])


def test_a_builtin_name_claimed_again_is_an_error(tmp_path):
    with pytest.raises(UsageError, match=r"'bowl' is registered by two plugins: 'suite.landscapes.bowl'"):
        load_registry(local_files=[write_plugin(tmp_path, landscape="bowl")])


def test_a_hook_implementation_that_matches_no_spec_is_an_error(tmp_path):
    path = write_source(tmp_path, "typo.py",
                        "import suite\n\n@suite.hookimpl\ndef register_landscape(register):\n    pass\n")
    with pytest.raises(UsageError, match=r"typo\.py.*register_landscape"):
        make_plugin_manager(local_files=[path])


def test_a_hook_with_unknown_arguments_is_an_error(tmp_path):
    path = write_source(tmp_path, "badargs.py",
                        "import suite\n\n@suite.hookimpl\ndef register_landscapes(register, extra):\n    pass\n")
    with pytest.raises(UsageError, match=r"badargs\.py.*extra"):
        make_plugin_manager(local_files=[path])


def test_a_plugin_that_fails_to_import_does_not_hide_the_others(tmp_path, monkeypatch):
    broken = importlib.metadata.EntryPoint("broken", "no_such_module_anywhere", "suite")
    entry_points = [broken, *importlib.metadata.entry_points(group="suite")]
    registry = load_registry(make_plugin_manager(entry_points=entry_points))
    assert "bowl" in registry.landscapes
    assert any("'broken' failed to load" in p for p in registry.warnings)


def test_a_plugin_that_raises_while_registering_is_reported_not_fatal(tmp_path):
    path = write_source(tmp_path, "raises.py", "import suite\n\n@suite.hookimpl\n"
                        "def register_optimizers(register):\n    raise RuntimeError('boom')\n")
    registry = load_registry(local_files=[path])
    assert "adam" in registry.optimizers
    assert any("raises.py" in p and "boom" in p for p in registry.warnings)


def test_missing_and_broken_plugin_files_are_one_line_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        make_plugin_manager(local_files=[tmp_path / "nope.py"])
    bad = write_source(tmp_path, "bad.py", "import not_a_module_xyz\n")
    with pytest.raises(UsageError, match=r"bad\.py.*failed to import.*not_a_module_xyz"):
        make_plugin_manager(local_files=[bad])


def test_a_third_party_package_is_found_through_its_entry_point(tmp_path):
    # A real install of the example package (the README's tutorial) into its own
    # folder, without the network: it must be found by its entry point alone.
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    listing = suite_cli("list", cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "styblinski_tang" in listing.stdout and "adamax" in listing.stdout
    out = tmp_path / "run"
    done = suite_cli("run", "--landscape", "styblinski_tang:dim=2", "--optimizer", "adamax",
                     "--restarts", "8", "--steps", "200", "--out", str(out), "--quiet",
                     cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    import pandas as pd
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 3 and (cells["status"] == "ok").all()  # the declared default sweep
    assert cells["best_loss"].min() < -78.3  # 2 × −39.166: some restart found the global minimum


def test_installing_puts_no_generic_top_level_modules(tmp_path):
    probe = ("import importlib.util as u; "
             "print([n for n in ('plugins', 'landscapes') if u.find_spec(n)])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == "[]"
    import suite.landscapes.bowl, suite.plugins.adam  # noqa: E401,F401 - the installed names


def test_every_hook_is_documented_with_its_signature():
    readme = (ROOT / "README.md").read_text()
    import inspect
    hooks = [n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, "suite_spec")]
    assert hooks, "no hooks found"
    for name in hooks:
        signature = f"{name}{inspect.signature(getattr(hookspecs, name))}"
        assert signature in readme, f"README does not document the hook {signature}"
    assert suite.hookimpl.project_name == "suite"
