"""The default benchmark cold and warm, as JSON: its wall time and what the compile cache saves (for gpu.sh).

Runs ``suite run --quiet`` twice in fresh processes with ``default_run.py``'s
own measurement (wall seconds, compile and run seconds from the run folder,
peak resident memory), sharing one new persistent compilation cache
(``SUITE_COMPILE_CACHE``): *cold* compiles every program and writes it to the
cache, *warm* loads them. Writes both to ``--json``. Usage::

    python benchmarks/gpu_default_run.py --json out.json                     # the built-in default benchmark
    python benchmarks/gpu_default_run.py --json out.json -- --restarts 64    # extra arguments for suite run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from default_run import run


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", required=True, metavar="PATH")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = {name: run(tmp / name, tmp / "cache", extra) for name in ("cold", "warm")}
    rows = {name: {k: float(v) for k, v in row.items()} for name, row in rows.items()}
    for name, row in rows.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    Path(args.json).write_text(json.dumps({"extra": extra, **rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
