"""One cell of the suite, compiled once and run again and again: the runner's own run seconds.

Shared by ``speed.py`` (the suite of this checkout) and ``speed_worker.py``
(the suite of another checkout, ``speed.py --against DIR``), so both suites
are timed by the same code: ``runner.run_group`` on one draw with its program
cache kept, as ``suite run`` runs a group, and its ``run_seconds`` (compile
excluded; steps + 1 loss evaluations for ``steps`` updates, summaries, one
target, checkpoints and chunks included). Only the names every version of the
suite has are used (config, plan, streams, compiler, runner, registry).
"""

from __future__ import annotations

import numpy as np

from suite import compiler, plan, runner, streams
from suite import config as cfg
from suite.registry import load_registry

LEARNING_RATE = 0.01  # every contender of speed.py uses this Adam learning rate
TARGET = 1e-30  # one target no restart reaches: every restart runs every step


def suite_cell(landscape: str, values: dict, restarts: int, steps: int, *, precision: str = "default",
               registry=None):
    """Builds and compiles one cell of Adam on ``landscape`` with parameter ``values``.

    Args:
      landscape: a registered landscape name (``rastrigin``).
      values: its parameter values, one each (``{"dim": 1000}``).
      restarts: restarts of the cell.
      steps: Adam steps of each restart.
      precision: the run's ``matmul_precision`` (``default`` or ``bfloat16``).
      registry: a loaded registry (loaded here when None).

    Returns:
      ``(run, draw)``: ``run()`` runs the cell once more and returns its run
      seconds and the median over restarts of the final loss f(x_T); ``draw``
      is the drawn instance with its start streams (restart i starts at
      ``draw.instance.init(fold_in(draw.init, i))``).
    """
    registry = registry or load_registry()
    config = cfg.RunConfig(landscapes=[cfg.Component(landscape, {k: [v] for k, v in values.items()})],
                           optimizers=[cfg.Component("adam", {"learning_rate": [LEARNING_RATE]})],
                           restarts=restarts, steps=steps, targets=(TARGET,), matmul_precision=precision)
    landscapes, optimizers = plan.resolve(config, registry)
    draw = streams.draw(landscapes[0], config.seed)
    cache = compiler.ProgramCache(compiler.local_mesh())

    def run() -> tuple[float, float]:
        result = runner.run_group(draw, optimizers, config, cache=cache)
        return result.run_seconds, float(np.median(result.summary["loss"]))

    run()  # compiles, and runs once untimed
    return run, draw
