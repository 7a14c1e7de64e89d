"""What honest verdicts cost: the default mode against fixed-target mode, float64 against float32.

Since issue 13 every restart runs every step by default, so that the final loss
is f(x_T) and a restart that leaves its target is seen to (*relapsed*); the
old behaviour, where a restart stops at the last target, is the explicit
fixed-target mode (``stop_at_target``). And a run can compute in float64. This
script runs the same workloads in the three modes with ``suite.run``, in one
process, and prints run seconds (compile excluded: the runner times them apart,
and each mode runs once untimed first) as ratios to fixed-target float32, the
old default:

* the built-in default benchmark (``suite/configs/default.toml``);
* a 200-cell run: 5 bowls of growing condition number × 40 optimizer settings.

Modes alternate within each round, and each figure is the median over rounds,
so the machine's drift hits all alike. Usage::

    python benchmarks/verdicts.py                  # this machine, default sizes
    python benchmarks/verdicts.py --rounds 3
    python benchmarks/verdicts.py --small          # seconds; what the test suite runs
    python benchmarks/verdicts.py --gpu            # larger restarts, for a GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import jax
import pandas as pd

import suite
import suite.api
from suite import config as cfg
from suite import compiler, environment
from suite.api import default_config_text
from suite.registry import load_registry

MODES = {  # name: (precision, stop_at_target)
    "fixed-target float32 (old default)": ("float32", True),
    "default float32": ("float32", False),
    "default float64": ("float64", False),
}


def workloads(small: bool, gpu: bool) -> dict[str, cfg.RunConfig]:
    default = cfg.from_toml(tomllib.loads(default_config_text()), "the default benchmark")
    bowls = [cfg.Component("bowl", {"dim": [10], "condition": [10.0, 100.0, 1e3, 1e4, 1e5]})]
    # 40 settings: each optimizer's declared learning-rate sweep, cut to 10.
    registry = load_registry()
    optimizers = [cfg.Component(n, sweep={"learning_rate": list(registry.optimizer(n).sweep["learning_rate"][:10])})
                  for n in ("sgd", "momentum", "nesterov", "adam")]
    wide = cfg.RunConfig(landscapes=bowls, optimizers=optimizers, restarts=64, steps=1000, seed=0)
    if small:  # for the test suite: every mode and workload runs, on fewer landscapes
        default = dataclasses.replace(default, restarts=8, steps=50, landscapes=default.landscapes[:2])
        wide = dataclasses.replace(wide, restarts=4, steps=50, landscapes=wide.landscapes[:2])
    if gpu:
        default = dataclasses.replace(default, restarts=4096)
        wide = dataclasses.replace(wide, restarts=4096)
    return {"default benchmark": default, "200-cell run": wide}


# Programs compile once per process, in the untimed first pass, and are reused by every round.
CACHE = compiler.ProgramCache()


def run_once(config: cfg.RunConfig, folder: Path) -> dict:
    start = time.perf_counter()
    cells = suite.api.run_config(config, out=folder, progress=False, cache=CACHE).cells
    wall = time.perf_counter() - start
    # The cells of one group ran as one program: its seconds once.
    groups = cells[cells["status"] == "ok"].drop_duplicates("group")
    return {"cells": len(cells), "wall s": wall, "run s": groups["run_seconds"].sum(),
            "compile s": groups["compile_seconds"].sum(), "failed": int((cells["status"] != "ok").sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per mode (median reported)")
    parser.add_argument("--small", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--gpu", action="store_true", help="4096 restarts per cell")
    args = parser.parse_args()
    cache_dir = environment.enable_compile_cache()  # as suite.run does: $SUITE_COMPILE_CACHE, else the default
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} × {len(jax.devices())}; jax {jax.__version__}; "
          f"compilation cache {cache_dir or 'off'}")
    print(f"run seconds, median of {args.rounds} rounds (compile excluded; compile s from the untimed pass, "
          f"0 where this process already compiled the program: both float32 modes run one executable)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, base in workloads(args.small, args.gpu).items():
            rows = []
            configs = {mode: dataclasses.replace(base, precision=p, stop_at_target=s)
                       for mode, (p, s) in MODES.items()}
            compile_s = {mode: run_once(c, Path(tmp) / f"{name}-{mode}-warm")["compile s"]
                         for mode, c in configs.items()}
            timed: dict[str, list[dict]] = {mode: [] for mode in MODES}
            for r in range(args.rounds):
                for mode, config in configs.items():
                    timed[mode].append(run_once(config, Path(tmp) / f"{name}-{mode}-{r}"))
            base_run = statistics.median(t["run s"] for t in timed[next(iter(MODES))])
            for mode, results in timed.items():
                run_s = [t["run s"] for t in results]
                rows.append({"workload": name, "cells": results[0]["cells"], "mode": mode,
                             "run s": statistics.median(run_s), "spread s": max(run_s) - min(run_s),
                             "× fixed-target": statistics.median(run_s) / base_run,
                             "compile s": compile_s[mode], "failed": results[0]["failed"]})
            # Each workload's table as soon as it is done: a time-limited run still reports.
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"), flush=True)

if __name__ == "__main__":
    main()
