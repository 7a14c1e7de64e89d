"""The persistent compilation cache: on by default, a second run loads instead of compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

from suite.environment import compile_cache_dir


def _run(out, env):
    done = subprocess.run([sys.executable, "-m", "suite", "run", "--landscape", "bowl:dim=7",
                           "--optimizer", "adam:learning_rate=0.01,0.1", "--optimizer", "nesterov",
                           "--restarts", "4", "--steps", "50", "--quiet", "--no-report", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    cells = pd.read_parquet(out / "cells.parquet").drop_duplicates("program")
    metadata = json.loads((out / "metadata.json").read_text())
    return float(cells["compile_seconds"].sum()), metadata["compile_cache"]


def test_a_second_run_loads_its_programs_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    env = os.environ | {"SUITE_COMPILE_CACHE": str(cache)}
    cold, used = _run(tmp_path / "first", env)
    assert any(cache.iterdir()) and used == str(cache)
    warm, _ = _run(tmp_path / "second", env)
    assert warm < cold / 2, (cold, warm)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "first" / "restarts.parquet"),
                                  pd.read_parquet(tmp_path / "second" / "restarts.parquet"))
    _, used = _run(tmp_path / "third", os.environ | {"SUITE_COMPILE_CACHE": "off"})
    assert used is None


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv("SUITE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_dir() == tmp_path / "suite" / "jax"
    assert compile_cache_dir("off") is None and compile_cache_dir("~/x").name == "x"
    monkeypatch.setenv("SUITE_COMPILE_CACHE", "none")
    assert compile_cache_dir() is None
    assert compile_cache_dir(str(tmp_path / "here")) == tmp_path / "here"  # the flag wins
