"""What the landscape diagnostics cost, against a default-length run of `deep_net`.

Runs Adam on ``deep_net`` (depth 8, width 64, 256 samples) with 1,024 restarts
twice per round, with every diagnostic off and on (``hessian, layers, path,
minima, pictures``, 64 restarts examined), interleaved over ``--rounds``, and
prints per mode the training seconds (compile excluded), the diagnostics'
extra pass, and the overhead:

* *measured*: (on − off) / off over the steps actually run;
* *at the default length*: the same extra seconds over the cost of a
  ``--default-steps`` run (1,000, `suite run`'s default), from the measured
  seconds per step. The diagnostics cost a fixed amount per run (48
  checkpoints and one end-point pass, whatever the number of steps), so a
  short run on a slow CPU measures them and the seconds per step scale the
  rest. On a GPU run the full length: ``--steps 1000``.

Usage::

    python benchmarks/diagnostics.py                     # CPU: 1,024 restarts × 40 steps
    python benchmarks/diagnostics.py --steps 1000        # a GPU: the default length itself
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile

import pandas as pd

import suite
from suite import config as cfg


def run_once(config: cfg.RunConfig) -> dict:
    # A run of its own (its programs compile afresh); JAX's persistent cache off, so compile s is a compile.
    with tempfile.TemporaryDirectory() as tmp:
        cells = suite.run(config, out=tmp, progress=False, compile_cache="off").cells
    row = cells.iloc[0]
    return {"train": float(row["run_seconds"]), "compile": float(row["compile_seconds"]),
            "extra": float(row.get("diagnostics_seconds", 0.0) or 0.0), "steps": int(row["steps_run"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restarts", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--default-steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=64, help="smaller for a quick check (gpu.sh --tiny)")
    args = parser.parse_args()
    base = cfg.RunConfig(
        landscapes=[cfg.Component("deep_net", {"depth": [args.depth], "width": [args.width], "samples": [256]})],
        optimizers=[cfg.Component("adam", {"learning_rate": [1e-3]})],
        restarts=args.restarts, steps=args.steps, targets=(1e-12,))
    modes = {"off": base,
             "on": dataclasses.replace(base, diagnostics=list(cfg.DIAGNOSTICS), diagnose_restarts=64)}
    found = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode, config in modes.items():
            found[mode].append(run_once(config))
    med = {mode: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for mode, rows in found.items()}
    off, on = med["off"], med["on"]
    per_step = off["train"] / max(off["steps"], 1)
    extra = (on["train"] - off["train"]) + on["extra"]
    print(f"deep_net depth {args.depth} width {args.width}, adam, {args.restarts} restarts × {args.steps} steps, "
          f"median of {args.rounds} interleaved rounds (seconds; compile excluded)")
    table = pd.DataFrame([
        {"mode": "off", "train s": off["train"], "extra pass s": 0.0, "compile s": off["compile"]},
        {"mode": "on", "train s": on["train"], "extra pass s": on["extra"], "compile s": on["compile"]},
    ])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"overhead measured over {args.steps} steps: {extra / off['train']:.1%}")
    print(f"overhead at the default length ({args.default_steps} steps, {per_step:.3f} s/step): "
          f"{extra / (per_step * args.default_steps):.1%}  (budget: 10%)")


if __name__ == "__main__":
    main()
