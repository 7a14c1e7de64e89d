"""The benchmarks run, in tiny CPU configurations, so they cannot rot."""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {"SUITE_COMPILE_CACHE": "off", "PATH": "/usr/bin:/bin"}
TORCH = importlib.util.find_spec("torch") is not None


def _benchmark(name: str):
    """A module of benchmarks/ (not a package, and kept off sys.path)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_speed_benchmark_times_every_contender_on_the_same_work(tmp_path):
    # Another checkout for --against: a copy of this one, which the worker must import, not the installed suite.
    other = tmp_path / "other"
    for part in ("suite", "landscapes", "plugins", "studies"):
        shutil.copytree(ROOT / part, other / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", other)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--small", "--no-compile",
                           "--against", str(other), "--json", str(tmp_path / "speed.json")],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"imported from {other / 'suite' / '__init__.py'}" in done.stdout
    found = json.loads((tmp_path / "speed.json").read_text())
    assert found["denormals_flushed"]["jax"] and found["denormals_flushed"].get("torch", True)
    rows = found["rows"]
    assert not [r for r in rows if r["error"]], rows
    expected = {"suite", f"suite @ {other}", "jax bare", "python loop"} | ({"torch eager"} if TORCH else set())
    workloads = ("rastrigin d 8 × 16 restarts", "bowl d 8 × 16 restarts", "deep_net depth 8 width 8 × 4 restarts")
    for workload in workloads:
        mine = {r["contender"]: r for r in rows if r["workload"] == workload}
        assert expected <= set(mine), (workload, set(mine))
        suite = mine["suite"]
        # The same work from the same starts: every contender that reports a final loss reaches the
        # suite's, PyTorch's Adam included (float32, a few steps); the other checkout's suite exactly.
        assert mine[f"suite @ {other}"]["final_loss"] == suite["final_loss"]
        for name, row in mine.items():
            if row["final_loss"] is not None:
                assert abs(row["final_loss"] - suite["final_loss"]) <= 1e-4 * abs(suite["final_loss"]), name
            # Per round: seconds, and the ratio its seconds over the suite's in that round.
            assert len(row["seconds"]) == found["rounds"] == 2
            ratios = [s / t for s, t in zip(row["seconds"], suite["seconds"])]
            assert row["ratio"]["min"] == min(ratios) and row["ratio"]["max"] == max(ratios)
        work = {"rastrigin": 16 * 8 * 5, "bowl": 16 * 8 * 5, "deep_net": 4 * 2}[suite["landscape"]]
        assert suite["rate"] == pytest.approx(work / statistics.median(suite["seconds"]))
    assert "rastrigin d 8 × 16 restarts" in done.stdout and "bfloat16 matmuls" in done.stdout


def test_the_bars_are_met_by_the_median_and_only_where_the_sizes_match():
    def row(contender, ratio, limit=0.5, restarts=65536):
        return {"workload": "w", "landscape": "rastrigin", "values": {"dim": 1000}, "restarts": restarts,
                "contender": contender, "error": None,
                "ratio": {"median": ratio, "min": ratio - 0.1, "max": ratio + 0.1},
                "limit_fraction": {"median": limit, "min": limit, "max": limit}}

    bars_of = _benchmark("speed_bars").bars_of
    rows = [row("suite", 1.0, limit=0.85), row("jax bare", 0.89), row("torch.compile", 1.3)]
    bars = {b["bar"]: b["met"] for b in bars_of(rows, "gpu", None)}
    assert bars == {"w: suite ÷ bare JAX (same math) ≥ 0.9": False,
                    "w: suite's fraction of the bandwidth floor ≥ 0.8": True,
                    "w: suite ÷ torch.compile ≥ 1.3": True}
    assert bars_of([row("jax bare", 2.0, restarts=1024)], "gpu", None) == []  # not the GPU's size
    cpu = bars_of([row("suite", 1.0, restarts=1024), row("suite @ base", 3.2, restarts=1024)], "cpu", "base")
    assert [(b["bar"], b["met"]) for b in cpu] == [("w: suite ÷ today's suite ≥ 3", True),
                                                   ("w: suite ÷ torch.compile ≥ 1.3", None),
                                                   ("w: suite ÷ bare JAX (same math) ≥ 0.97", None)]


def test_the_gpu_check_runs_every_part_at_tiny_sizes(tmp_path):
    env = ENV | {"OUT": str(tmp_path), "PYTHON": sys.executable, "SUITE_GPU_NO_INSTALL": "1", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--tiny"], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "table.txt").read_text()
    assert "parts failed: 0 of 5" in table and "FAILED" not in table, done.stdout[-5000:]
    for row in ("rastrigin d 8 × 16 restarts: suite ", "rastrigin d 8 × 16 restarts: jax bare ",
                "deep_net depth 2 width 8 × 4 restarts: suite ", "suite run (",
                "compile cache (SUITE_COMPILE_CACHE)", "diagnostics overhead over 5 steps",
                "p-spin N = 12, suite", "p-spin N = 12, plain"):
        assert row in table, (row, table)
    assert "7.68e10 updates/s" in table and "6.02e10" in table and "75 TFLOP/s" in table


def test_the_gpu_table_says_which_parts_failed_and_does_not_crash(tmp_path):
    (tmp_path / "speed_rastrigin.exit").write_text("124 130\n")
    (tmp_path / "speed_nets.exit").write_text("0 12\n")  # exited 0 but left no JSON
    (tmp_path / "pspin.exit").write_text("0 3\n")
    (tmp_path / "pspin.txt").write_text("Traceback: something else entirely\n")
    rows, failures = _benchmark("gpu_table").table(tmp_path)
    text = {row[0]: row[1] for row in rows}
    assert text["speed_rastrigin"].startswith("timed out (exit 124 after 130 s)")
    assert text["speed_nets"].startswith("left no speed_nets.json")
    assert text["default_run"].startswith("did not run")
    assert text["p-spin"] == "output not understood"
    assert failures == 5


def test_the_verdicts_benchmark_runs_every_mode_on_both_workloads():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "verdicts.py"), "--small", "--rounds", "1"],
                          capture_output=True, text=True, timeout=600,
                          env={"SUITE_COMPILE_CACHE": "off", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    for workload in ("default benchmark", "200-cell run"):
        mine = [line for line in done.stdout.splitlines() if line.strip().startswith(workload)]
        assert len(mine) == 3, (workload, done.stdout)
        # Every cell finished in every mode (the last column counts failed cells).
        assert all(line.split()[-1] == "0" for line in mine), done.stdout
