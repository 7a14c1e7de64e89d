"""The persistent compilation cache: on by default, a second run loads instead of compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

from suite.environment import compile_cache_dir

# A run in a fresh process that counts, through JAX's own monitoring events, the
# compilations that asked the persistent cache (requests), found their program in
# it (hits), or compiled it and wrote it there (misses); printed as the last line.
COUNTING_RUN = """
import collections, json, sys
from jax import monitoring

counts = collections.Counter()
names = {"/jax/compilation_cache/compile_requests_use_cache": "requests",
         "/jax/compilation_cache/cache_hits": "hits", "/jax/compilation_cache/cache_misses": "misses"}
monitoring.register_event_listener(lambda event, **_: counts.update([names.get(event, "other")]))

from suite.cli import main

code = main(sys.argv[1:])
print(json.dumps({"code": code, **{k: counts[k] for k in ("requests", "hits", "misses")}}))
"""


def _run(out, env) -> tuple[dict, str | None]:
    done = subprocess.run([sys.executable, "-c", COUNTING_RUN, "run", "--landscape", "bowl:dim=7",
                           "--optimizer", "adam:learning_rate=0.01,0.1", "--optimizer", "nesterov",
                           "--restarts", "4", "--steps", "50", "--quiet", "--no-report", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts.pop("code") == 0, done.stderr
    metadata = json.loads((out / "metadata.json").read_text())
    return counts, metadata["compile_cache"]


def test_a_second_run_loads_its_programs_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    env = os.environ | {"SUITE_COMPILE_CACHE": str(cache)}
    cold, used = _run(tmp_path / "first", env)
    assert any(cache.iterdir()) and used == str(cache)
    # The first run compiles every program (at least adam's and nesterov's init and
    # chunk) and writes each to the cache: every request a miss.
    assert cold["requests"] >= 4 and cold["misses"] == cold["requests"] and cold["hits"] == 0, cold
    # The second, in a new process, finds every one of them: no compilation at all.
    warm, _ = _run(tmp_path / "second", env)
    assert warm == {"requests": cold["requests"], "hits": cold["misses"], "misses": 0}, (cold, warm)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "first" / "restarts.parquet"),
                                  pd.read_parquet(tmp_path / "second" / "restarts.parquet"), check_exact=True)
    # Turned off, nothing is read from a cache or written to one: every program is
    # compiled again. (JAX still counts requests: its cache is enabled, with no folder.)
    off, used = _run(tmp_path / "third", os.environ | {"SUITE_COMPILE_CACHE": "off"})
    assert used is None and off["hits"] == 0 and off["misses"] == 0, off


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv("SUITE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_dir() == tmp_path / "suite" / "jax"
    assert compile_cache_dir("off") is None and compile_cache_dir("~/x").name == "x"
    monkeypatch.setenv("SUITE_COMPILE_CACHE", "none")
    assert compile_cache_dir() is None
    assert compile_cache_dir(str(tmp_path / "here")) == tmp_path / "here"  # the flag wins
