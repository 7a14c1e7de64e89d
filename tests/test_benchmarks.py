"""The benchmarks run, in tiny CPU configurations, so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_speed_benchmark_runs_and_prints_its_tables():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--small", "--no-compile"],
                          capture_output=True, text=True, timeout=600,
                          env={"SUITE_COMPILE_CACHE": "off", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "copy GB/s" in out and "GFLOP/s" in out
    for impl in ("suite", "jax bare", "python loop"):
        assert f" {impl} " in out
    rastrigin = [line for line in out.splitlines() if line.strip().startswith("16 ")]
    assert len(rastrigin) >= 3 and all("%" in line for line in rastrigin)


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
