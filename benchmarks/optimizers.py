"""What each optimizer and wrapper costs per step, relative to plain gradient descent.

Every optimizer runs through ``suite.runner.run_group`` (as ``suite run`` uses
it, one compiled program timed again and again) on the same Rastrigin instance, restarts and steps, in one process; the
table gives seconds per step (compile excluded, median of ``--repeats``
interleaved rounds) and the ratio to ``sgd`` measured in the same run. A
second table gives each wrapper's cost over the optimizer it wraps (``adam``),
and a third the cost of L-BFGS and the dense-Hessian methods against ``adam``
as the dimension grows (a Newton step is O(n³)).

First-order methods run at learning rate 1e-3, where none diverges: non-finite
arithmetic is slower on CPUs and would distort the comparison (the
``diverged`` column shows it stayed at 0). The target is unreachable
(Rastrigin's local minima sit above 1e-30), so no batch stops early. Usage::

    python benchmarks/optimizers.py             # CPU-sized
    python benchmarks/optimizers.py --large     # GPU-sized
"""

from __future__ import annotations

import argparse
import statistics

import jax

from suite import compiler, plan, runner, streams
from suite import config as cfg
from suite.registry import load_registry

WRAPPED = ("adam", "adam+noise:eta=0.01", "adam+stale:tau=1", "adam+stale:tau=8", "adam+stale:tau=32",
           "adam+clip:by=norm", "adam+clip:by=value", "adam+penalty:l1=0.001",
           "adam+noise+stale:tau=8+clip")
SECOND_ORDER = ("adam", "lbfgs", "newton", "saddle_free_newton")
FIRST_ORDER_RATE = 1e-3


def program(registry, cache, landscape: str, optimizer: str, restarts: int, steps: int):
    """A compiled run of one setting (the learning rate is its default): call it for seconds per step."""
    component = cfg.parse_optimizer(optimizer)
    first_order = component.name not in SECOND_ORDER[1:]
    default = registry.optimizer(component.name).defaults["learning_rate"]
    component.values.setdefault("learning_rate", [FIRST_ORDER_RATE if first_order else default])
    config = cfg.RunConfig(landscapes=[cfg.Component(*cfg.parse_component(landscape, "landscape"))],
                           optimizers=[component], restarts=restarts, steps=steps,
                           targets=(1e-30,))  # never reached: every run does all its steps
    landscapes, settings = plan.resolve(config, registry)
    draw = streams.draw(landscapes[0], config.seed)

    def run():
        result = runner.run_group(draw, settings, config, cache=cache)
        assert result.steps_run == steps, "a batch stopped early: the timing would not be per step"
        return result.run_seconds / (steps + 1), float((result.summary["diverged"] >= 0).mean())

    run()  # compile
    return run


def measure(programs: dict, repeats: int) -> list[tuple[str, float, float]]:
    """Median seconds per step of each program, timed in interleaved rounds so drift hits all alike."""
    times, diverged = {name: [] for name in programs}, {}
    for _ in range(repeats):
        for name, run in programs.items():
            seconds, diverged[name] = run()
            times[name].append(seconds)
    return [(name, statistics.median(t), diverged[name]) for name, t in times.items()]


def table(title: str, rows: list[tuple[str, float, float]], baseline: str) -> None:
    base = next(seconds for name, seconds, _ in rows if name == baseline)
    print(f"\n{title}")
    header = f"{'optimizer':<34} {'ms/step':>9} {'× ' + baseline:>10} {'diverged':>9}"
    print(header)
    print("-" * len(header))
    for name, seconds, diverged in rows:
        print(f"{name:<34} {seconds * 1e3:>9.3f} {seconds / base:>10.2f} {diverged:>9.0%}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="GPU-sized problems")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    restarts, steps, dim = (16384, 500, 1000) if args.large else (1024, 400, 100)
    dims = (10, 100, 1000) if args.large else (10, 50, 100)
    registry = load_registry()
    cache = compiler.ProgramCache()
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind}; jax {jax.__version__}; "
          f"{restarts} restarts, {steps} steps, median of {args.repeats}")

    landscape = f"rastrigin:dim={dim}"
    first_order = sorted(n for n in registry.optimizers if n not in SECOND_ORDER[1:])
    first_order.remove("sgd")
    rows = measure({name: program(registry, cache, landscape, name, restarts, steps)
                    for name in ["sgd", *first_order]}, args.repeats)
    table(f"First-order optimizers on {landscape}", rows, "sgd")

    rows = measure({name: program(registry, cache, landscape, name, restarts, steps) for name in WRAPPED},
                   args.repeats)
    table(f"Wrappers around adam on {landscape}", rows, "adam")

    small = max(64, restarts // 16)
    for n in dims:
        rows = measure({name: program(registry, cache, f"rastrigin:dim={n}", name, small, steps // 4)
                        for name in SECOND_ORDER}, args.repeats)
        table(f"Second-order methods on rastrigin:dim={n}, {small} restarts", rows, "adam")


if __name__ == "__main__":
    main()
