"""Paths few runs take: a mesh that cannot fit, flags that are zero, the machine's cached bandwidth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import pandas as pd
import pytest

from suite import environment
from suite.cli import EXIT_USAGE, main

SMALL = ["--landscape", "bowl:dim=3", "--optimizer", "sgd:learning_rate=0.1", "--restarts", "8",
         "--steps", "20", "--quiet", "--no-report"]


def test_halving_the_batch_on_a_mesh_stops_at_one_restart_per_device(tmp_path):
    # Four host devices and a memory budget nothing fits in: the batch halves
    # 8 → 4 and stops there (each device holds one restart), instead of rounding
    # 2 back up to 4 forever. The results are those of a one-device run.
    script = textwrap.dedent(f"""
        import json, suite, suite.batching as batching
        batching.memory_budget = lambda device: 1
        run = suite.run(landscapes=["bowl:dim=3"], optimizers=["sgd:learning_rate=0.1"], restarts=8,
                        steps=20, out={str(tmp_path / "mesh")!r}, progress=False, compile_cache="off")
        print(json.dumps({{"batch": run.cells["batch"].tolist(), "status": run.cells["status"].tolist()}}))
    """)
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"batch": [4], "status": ["ok"]}
    assert main(["run", *SMALL, "--out", str(tmp_path / "one"), "--devices", "1"]) == 0
    # Equal to float rounding: a batch split over devices may round its matrix products otherwise.
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "mesh" / "restarts.parquet"),
                                  pd.read_parquet(tmp_path / "one" / "restarts.parquet"), rtol=1e-5, atol=0)


@pytest.mark.parametrize("flag", [["--seed", "0"], ["--batch", "0"], ["--chunk", "0"], ["--devices", "0"],
                                  ["--diagnose-restarts", "0"]])
def test_resume_refuses_a_flag_even_when_its_value_is_zero(tmp_path, capsys, flag):
    run_dir = tmp_path / "run"
    (run_dir / "cells").mkdir(parents=True)
    (run_dir / "config.toml").write_text("")
    assert main(["run", "--resume", str(run_dir), *flag]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == f"suite: error: --resume continues the run with its own config; drop {flag[0]}"


def test_the_copy_bandwidth_is_measured_once_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(environment, "_BANDWIDTH", {})
    calls = []
    monkeypatch.setattr(environment, "measure_copy_bandwidth", lambda device: calls.append(device) or 5e9)
    device = jax.devices()[0]
    assert environment.copy_bandwidth(device) == 5e9
    monkeypatch.setattr(environment, "_BANDWIDTH", {})  # a new process: only the file remembers
    assert environment.copy_bandwidth(device) == 5e9
    assert len(calls) == 1
    cached = json.loads((tmp_path / "suite" / "bandwidth.json").read_text())
    assert list(cached.values()) == [5e9] and device.device_kind in next(iter(cached))


def test_a_corrupt_bandwidth_cache_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(environment, "_BANDWIDTH", {})
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "bandwidth.json").write_text("{not json")
    monkeypatch.setattr(environment, "measure_copy_bandwidth", lambda device: 7e9)
    assert environment.copy_bandwidth(jax.devices()[0]) == 7e9
    assert list(json.loads((tmp_path / "suite" / "bandwidth.json").read_text()).values()) == [7e9]


def test_renamed_names_still_work_for_one_release_and_say_so():
    from suite import plan, types
    from suite.registry import Registry

    with pytest.warns(DeprecationWarning, match="LandscapeSetting"):
        assert plan.LandscapeCell is plan.LandscapeSetting
    with pytest.warns(DeprecationWarning, match="Point"):
        assert types.Params is types.Point
    registry = Registry(warnings=["plugin 'x' failed to load: boom"])
    with pytest.warns(DeprecationWarning, match="Registry.warnings"):
        assert registry.problems == ["plugin 'x' failed to load: boom"]


def test_a_float32_run_stays_float32_when_x64_is_on_globally(tmp_path):
    # Rastrigin's sines round differently in float64: 200 Adam steps end visibly elsewhere.
    argv = [sys.executable, "-m", "suite", "run", "--landscape", "rastrigin:dim=4", "--optimizer",
            "adam:learning_rate=0.1", "--restarts", "4", "--steps", "200", "--quiet", "--no-report",
            "--compile-cache", "off"]
    plain = subprocess.run([*argv, "--out", str(tmp_path / "plain")], capture_output=True, text=True, timeout=300)
    x64 = subprocess.run([*argv, "--out", str(tmp_path / "x64")], capture_output=True, text=True, timeout=300,
                         env=os.environ | {"JAX_ENABLE_X64": "1"})
    assert plain.returncode == 0 and x64.returncode == 0, (plain.stderr, x64.stderr)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "plain" / "restarts.parquet"),
                                  pd.read_parquet(tmp_path / "x64" / "restarts.parquet"), check_exact=True)


def test_each_run_uses_the_compile_cache_it_asks_for(tmp_path):
    import suite

    def run(name, cache, dim):
        return suite.run(landscapes=[f"bowl:dim={dim}"], optimizers=["sgd:learning_rate=0.1"], restarts=4,
                         steps=10, out=tmp_path / name, progress=False, compile_cache=cache)

    run("a", str(tmp_path / "cache_a"), 11)
    second = run("b", str(tmp_path / "cache_b"), 12)
    assert any((tmp_path / "cache_b").iterdir()) and second.metadata["compile_cache"] == str(tmp_path / "cache_b")
    third = run("c", "off", 13)
    assert third.metadata["compile_cache"] is None and jax.config.jax_compilation_cache_dir is None


def test_resuming_a_folder_written_before_the_group_column_keeps_every_row_grouped(tmp_path):
    import shutil

    assert main(["run", "--landscape", "bowl:dim=3", "--optimizer", "sgd:learning_rate=0.03,0.1", "--restarts",
                 "4", "--steps", "20", "--quiet", "--no-report", "--out", str(tmp_path / "old")]) == 0
    parts = sorted((tmp_path / "old" / "cells").iterdir())
    for file in [tmp_path / "old" / "cells.parquet", *(p / "cells.parquet" for p in parts)]:
        pd.read_parquet(file).rename(columns={"group": "program"}).to_parquet(file, index=False)
    shutil.rmtree(parts[0])
    assert main(["run", "--resume", str(tmp_path / "old"), "--quiet", "--no-report"]) == 0
    cells = pd.read_parquet(tmp_path / "old" / "cells.parquet")
    assert "program" not in cells and cells["group"].notna().all() and cells["group"].nunique() == 1
