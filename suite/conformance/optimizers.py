"""The conformance checks for optimizers and wrappers, run on a small convex quadratic."""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from suite.conformance._battery import Failed, Result, Skipped, _check_params, _require, _run, _same_trees
from suite.specs import OptimizerSpec, WrapperSpec


# --- optimizers ----------------------------------------------------------------------


def _quadratic(x, key=None):
    # optax's line searches pass the update's extra arguments that value_fn
    # names on to it and reject the rest: name `key`, as the runner's value_fn does.
    del key
    return 0.5 * jnp.sum(jnp.array([1.0, 4.0, 9.0]) * x * x)


_START = (1.0, -2.0, 0.5)


def run_on_quadratic(tx, steps: int = 5, x=_START, key=None):
    """``steps`` updates of ``tx`` on a small convex quadratic, passing every extra argument.

    Step t gets ``key=fold_in(key, t)`` as the runner passes a restart's key.
    """
    key = jax.random.key(0) if key is None else key

    def step(carry, t):
        x, state = carry
        value, grad = jax.value_and_grad(_quadratic)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=_quadratic,
                                   key=jax.random.fold_in(key, t))
        return (optax.apply_updates(x, updates), state), None

    # A scan, not a Python loop: one compilation of the step, however many steps.
    x = jnp.asarray(x, jnp.float32)
    return jax.lax.scan(step, (x, tx.init(x)), jnp.arange(steps))[0][0]


# A default learning-rate sweep is log-spaced and at least this long, so that
# the leaderboard's selection has a range on both sides of a typical optimum.
MIN_SWEEP = 3


def _traced_matches_plain(make_tx: Callable[[dict], optax.GradientTransformation], spec, values: dict) -> None:
    """The runner builds transformations with float hyperparameters as traced arrays: same updates."""
    floats = {p.name for p in spec.params if p.traced}
    plain = run_on_quadratic(make_tx(values))

    @jax.jit
    def with_arrays(arrays):
        return run_on_quadratic(make_tx(values | arrays))

    arrays = with_arrays({k: jnp.float32(v) for k, v in values.items() if k in floats})
    _same_trees(arrays, plain, rtol=1e-5, atol=1e-7, what="traced versus Python-float hyperparameters")


class _Hashable(dict):
    """A dict that jit can take as a static argument (hashed by its items)."""

    def __hash__(self):
        return hash(tuple(sorted(self.items())))


class _OptimizerChecks:
    def __init__(self, spec: OptimizerSpec, values: dict):
        self.spec, self.values = spec, values

    def checks(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("parameters are documented and defaults valid", self.params),
            ("factory builds an optax.GradientTransformation", self.builds),
            ("traced hyperparameters give the same updates", self.traced),
            ("works under optax.inject_hyperparams", self.injected),
            ("vmap over restarts gives the per-restart updates", self.vmapped),
            ("some default-sweep setting halves a convex quadratic in 50 steps", self.decreases),
            (f"declares a log-spaced learning-rate sweep of at least {MIN_SWEEP} values", self.swept),
        ]

    def params(self) -> None:
        _check_params(self.spec)
        names = [p.name for p in self.spec.params]
        for name, values in self.spec.sweep.items():
            _require(len(values) >= 1, f"the sweep of {name!r} is empty")
            for value in values:
                self.spec.params[names.index(name)].check(value, f"{self.spec.name!r} (its sweep)")

    def builds(self) -> None:
        tx = self.spec.factory(**self.values)
        _require(isinstance(tx, optax.GradientTransformation),
                 f"factory returned {type(tx).__name__}, not optax.GradientTransformation")

    def traced(self) -> None:
        _traced_matches_plain(lambda values: self.spec.transformation(**values), self.spec, self.values)

    def injected(self) -> None:
        static = tuple(p.name for p in self.spec.params if not p.traced)
        injected = optax.inject_hyperparams(self.spec.factory, static_args=static)(**self.values)
        _same_trees(run_on_quadratic(optax.with_extra_args_support(injected)),
                    run_on_quadratic(self.spec.transformation(**self.values)),
                    rtol=1e-5, atol=1e-7, what="inject_hyperparams versus plain")

    def vmapped(self) -> None:
        tx = self.spec.transformation(**self.values)
        xs = jnp.array([_START, [0.3, 0.1, -1.0]])

        def one(x):
            state = tx.init(x)
            grad = jax.grad(_quadratic)(x)
            return tx.update(grad, state, x, value=_quadratic(x), grad=grad, value_fn=_quadratic)[0]

        _same_trees(jax.vmap(one)(xs), jnp.stack([one(x) for x in xs]), rtol=1e-5, atol=1e-7,
                    what="vmapped versus per-restart updates")

    def decreases(self) -> None:
        settings = [self.values | {k: v} for k, vs in self.spec.sweep.items() for v in vs] or [self.values]
        floats = {p.name for p in self.spec.params if p.traced}

        @functools.partial(jax.jit, static_argnums=1)
        def final_loss(arrays, static):  # one compilation per static setting, not per value
            return _quadratic(run_on_quadratic(self.spec.transformation(**arrays, **dict(static)), steps=50))

        start = float(_quadratic(jnp.array(_START)))
        best = min(float(final_loss({k: jnp.float32(v) for k, v in h.items() if k in floats},
                                    _Hashable({k: v for k, v in h.items() if k not in floats})))
                   for h in settings)
        _require(best < 0.5 * start, f"best loss {best:.4g} from {start:.4g} over {len(settings)} settings")

    def swept(self) -> None:
        if "learning_rate" not in {p.name for p in self.spec.params}:
            raise Skipped("no learning_rate parameter")
        rates = np.asarray(self.spec.sweep.get("learning_rate", ()), dtype=np.float64)
        _require(rates.size >= MIN_SWEEP, f"the default sweep has {rates.size} learning rates")
        ratios = rates[1:] / rates[:-1]
        # Round half-decade grids (1, 3, 10, ...) alternate factors 3 and 3.33: equal within 15% in log.
        logs = np.log(np.maximum(ratios, 1e-300))
        _require(np.all(rates > 0) and np.all(ratios > 1) and np.allclose(logs, logs.mean(), rtol=0.15),
                 f"learning rates {rates.tolist()} are not increasing by a constant factor")


def check_optimizer(spec: OptimizerSpec, values: dict | None = None) -> list[Result]:
    """Runs the battery on ``spec`` at ``values`` (default: defaults with its test_config)."""
    values = spec.defaults | spec.test_config if values is None else values
    return _run(_OptimizerChecks(spec, values).checks())


# --- wrappers ------------------------------------------------------------------------


def _probe():
    """An inner optimizer (plain GD) that fails unless every extra argument reaches it."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, key=None,
                  **extra_args):
        del params, extra_args
        missing = [n for n, v in (("value", value), ("grad", grad), ("value_fn", value_fn), ("key", key))
                   if v is None]
        if missing:
            raise Failed(f"the wrapped optimizer did not receive {', '.join(missing)}: pass extra "
                         f"arguments on to the inner transformation (optax.chain does)")
        return jax.tree.map(lambda g: -0.05 * g, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


_WRAPPED_RATES = (0.01, 0.03, 0.1)  # plain GD inside the wrapper, as the descent check sweeps


class _WrapperChecks:
    def __init__(self, spec: WrapperSpec, values: dict):
        self.spec, self.values = spec, values

    def checks(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("parameters are documented and defaults valid", self.params),
            ("wrap(optimizer) builds an optax.GradientTransformation", self.builds),
            ("passes value, grad, value_fn and key on to the optimizer", self.passes_extra_args),
            ("traced hyperparameters give the same updates", self.traced),
            ("works under optax.inject_hyperparams", self.injected),
            ("vmap over restarts gives the per-restart updates", self.vmapped),
            ("wrapped gradient descent still halves a convex quadratic in 50 steps", self.decreases),
        ]

    def _tx(self, values=None, inner=None):
        inner = optax.sgd(0.05) if inner is None else inner
        return self.spec.transformation(inner, **(self.values if values is None else values))

    def params(self) -> None:
        _check_params(self.spec)

    def builds(self) -> None:
        tx = self.spec.wrap(optax.with_extra_args_support(optax.sgd(0.05)), **self.values)
        _require(isinstance(tx, optax.GradientTransformation),
                 f"wrap returned {type(tx).__name__}, not optax.GradientTransformation")

    def passes_extra_args(self) -> None:
        run_on_quadratic(self._tx(inner=_probe()), steps=3)

    def traced(self) -> None:
        _traced_matches_plain(self._tx, self.spec, self.values)

    def injected(self) -> None:
        static = tuple(p.name for p in self.spec.params if not p.traced)

        def factory(**values):
            return self._tx(values)

        # inject_hyperparams reads the factory's parameter names from its signature.
        factory.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in self.values])
        injected = optax.inject_hyperparams(factory, static_args=static)(**self.values)
        _same_trees(run_on_quadratic(optax.with_extra_args_support(injected)), run_on_quadratic(self._tx()),
                    rtol=1e-5, atol=1e-7, what="inject_hyperparams versus plain")

    def vmapped(self) -> None:
        tx = self._tx()
        xs = jnp.array([_START, [0.3, 0.1, -1.0]])
        keys = jax.random.split(jax.random.key(1), 2)
        run = lambda x, k: run_on_quadratic(tx, steps=3, x=x, key=k)  # noqa: E731
        _same_trees(jax.vmap(run)(xs, keys), jnp.stack([run(x, k) for x, k in zip(xs, keys, strict=True)]),
                    rtol=1e-5, atol=1e-6, what="vmapped versus per-restart updates")

    def decreases(self) -> None:
        start = float(_quadratic(jnp.array(_START)))
        best = min(float(_quadratic(run_on_quadratic(self._tx(inner=optax.sgd(lr)), steps=50)))
                   for lr in _WRAPPED_RATES)
        _require(best < 0.5 * start, f"best loss {best:.4g} from {start:.4g} with gradient descent at "
                                     f"learning rates {list(_WRAPPED_RATES)}")


def check_wrapper(spec: WrapperSpec, values: dict | None = None) -> list[Result]:
    """Runs the battery on ``spec`` at ``values`` (default: defaults with its test_config)."""
    values = spec.defaults | spec.test_config if values is None else values
    return _run(_WrapperChecks(spec, values).checks())
