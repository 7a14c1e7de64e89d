"""The default benchmark end to end: wall time, compile time saved by the cache, peak host memory.

Runs ``suite run --quiet`` (the built-in default benchmark, report included)
twice in fresh processes that share one new persistent compilation cache:

* *cold*: the cache is empty, every program compiles;
* *warm*: the same programs again, loaded from the cache;

and prints per run the wall seconds, the compile and run seconds the run
folder records (compile summed once per program), and the process's peak
resident memory. Compile seconds saved = cold − warm.

Usage::

    python benchmarks/default_run.py
    python benchmarks/default_run.py -- --restarts 64     # extra arguments for suite run
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def run(out: Path, cache: Path, extra: list[str]) -> dict:
    env = os.environ | {"SUITE_COMPILE_CACHE": str(cache)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "suite", "run", "--quiet", "--out", str(out), *extra],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"suite run failed: {process.stderr.read().decode()[-2000:]}")
    cells = pd.read_parquet(out / "cells.parquet")
    programs = cells[cells["status"] == "ok"].drop_duplicates("group")
    return {"wall s": wall, "compile s": programs["compile_seconds"].sum(),
            "run s": programs["run_seconds"].sum(), "peak RSS GiB": usage.ru_maxrss / 2**20,
            "cells": len(cells)}


def main() -> None:
    extra = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = {name: run(tmp / name, tmp / "cache", extra) for name in ("cold", "warm")}
    table = pd.DataFrame(rows).T
    print(f"suite run {' '.join(extra) or '(the default benchmark)'}: {int(table['cells'].iloc[0])} cells, "
          f"report included")
    print(table.drop(columns="cells").to_string(float_format=lambda v: f"{v:.2f}"))
    saved = rows["cold"]["compile s"] - rows["warm"]["compile s"]
    print(f"compile seconds saved by the persistent cache: {saved:.1f} "
          f"({saved / rows['cold']['compile s']:.0%} of the cold compile; wall "
          f"{rows['warm']['wall s'] / rows['cold']['wall s']:.2f}× the cold run)")


if __name__ == "__main__":
    main()
