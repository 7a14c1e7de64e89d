"""How long ``suite report`` takes on a large run folder, against the 30-second budget.

The run has 200 cells × 1,024 restarts (5 landscapes × 4 optimizers × a
10-point learning-rate sweep, 500 steps): 204,800 restart rows. It is made
once with ``suite run`` (a couple of minutes on a 2-core CPU) and kept in
``--run-dir``; the benchmark then times, in the same session:

* ``suite report RUN --quiet`` end to end in a fresh process, as a user runs
  it (interpreter start, imports, reading the tables, metrics, figures and
  HTML), median of ``--repeats``, against the issue's 30 s budget (benchopt
  users report 15-minute renders for their HTML reports: the ratio to that is
  printed too);
* the same on a run 4× smaller (``--restarts 256``) to show how the time
  scales with restarts;
* one in-process render split into phases: loading the tables, the metrics
  (selection, ranking stability bootstrap, profile), and the sections
  (figures and HTML).

Usage::

    python benchmarks/report.py                      # makes /tmp/suite-report-bench/* once
    python benchmarks/report.py --run-dir DIR        # keep the runs elsewhere
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET = 30.0
BENCHOPT = 15 * 60.0
CONFIG = """\
seed = 0
restarts = {restarts}
steps = 500
[[landscape]]
name = "bowl"
dim = 20
[[landscape]]
name = "rastrigin"
dim = 10
[[landscape]]
name = "saddle"
[[landscape]]
name = "pspin"
n = 32
[[landscape]]
name = "deep_linear"
[[optimizer]]
name = "sgd"
learning_rate = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0]
[[optimizer]]
name = "momentum"
learning_rate = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0]
[[optimizer]]
name = "nesterov"
learning_rate = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0]
[[optimizer]]
name = "adam"
learning_rate = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3]
"""


def _suite(*args: str) -> list[str]:
    return [sys.executable, "-m", "suite", *args]


def ensure_run(root: Path, restarts: int) -> Path:
    """The benchmark run with ``restarts`` restarts per cell, made if missing."""
    run = root / f"cells200-restarts{restarts}"
    if (run / "cells.parquet").is_file():
        return run
    root.mkdir(parents=True, exist_ok=True)
    config = root / f"restarts{restarts}.toml"
    config.write_text(CONFIG.format(restarts=restarts))
    print(f"making {run} (once) ...", file=sys.stderr)
    start = time.perf_counter()
    subprocess.run(_suite("run", str(config), "--out", str(run), "--quiet", "--no-report"),
                   check=True, stdout=subprocess.DEVNULL)
    print(f"  made in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return run


def time_cli(run: Path, repeats: int) -> tuple[float, int]:
    """Median wall seconds of ``suite report`` in a fresh process, and the HTML size."""
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(_suite("report", str(run), "--out", str(out), "--quiet"), check=True,
                           stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - start)
        return statistics.median(seconds), out.stat().st_size


def phases(run: Path) -> dict[str, float]:
    """One in-process render, split into loading, metrics and sections."""
    from suite.registry import load_registry
    from suite.report.data import Report
    from suite.report.render import render

    registry = load_registry()
    start = time.perf_counter()
    report = Report(run)
    loaded = time.perf_counter()
    report.overall  # noqa: B018 - selection, profile and the stability bootstrap, cached
    ranked = time.perf_counter()
    render(report, registry.sections)
    done = time.perf_counter()
    return {"load tables": loaded - start, "metrics": ranked - loaded, "sections + HTML": done - ranked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default=str(Path(tempfile.gettempdir()) / "suite-report-bench"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(args.run_dir)
    runs = [ensure_run(root, 1024), ensure_run(root, 256)]

    import pandas as pd

    print(f"{'run':<26}{'cells':>6}{'restart rows':>14}{'report s':>10}{'/ 30 s budget':>15}"
          f"{'/ benchopt 15 min':>19}{'HTML MB':>9}")
    for run in runs:
        cells = pd.read_parquet(run / "cells.parquet", columns=["cell_id"])
        rows = len(pd.read_parquet(run / "restarts.parquet", columns=["restart"]))
        seconds, size = time_cli(run, args.repeats)
        print(f"{run.name:<26}{len(cells):>6}{rows:>14}{seconds:>10.1f}{seconds / BUDGET:>15.2f}"
              f"{seconds / BENCHOPT:>19.3f}{size / 1e6:>9.1f}")
    print()
    print(f"phases of one in-process render of {runs[0].name} (seconds):")
    for name, seconds in phases(runs[0]).items():
        print(f"  {name:<18}{seconds:>6.1f}")


if __name__ == "__main__":
    main()
