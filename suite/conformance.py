"""The conformance battery: what every landscape, optimizer and wrapper must do, checked.

``suite check NAME`` runs it on one registered plugin and prints each check
with the reason it failed; the test suite runs it on every installed plugin.
Checks are small functions that raise :class:`Failed` (or any exception) to
fail and :class:`Skipped` when they do not apply; each runs on its own, so one
failure never hides the others.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Callable

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from suite import metrics
from suite.errors import one_line
from suite.specs import F_OPT_KINDS, KNOWN_TAGS, Landscape, LandscapeSpec, OptimizerSpec, WrapperSpec

N_STARTS = 8  # sampled starting points per check
N_BOUND = 64  # points at which f* ≤ f is checked
# f* is checked to this many ulps of the loss's dtype at max(|f*|, |f|): as
# fine as the runner's resolution, which marks targets finer than 4 ulps of
# |f*| as below resolution, so a declared f* that passes decides every target
# the runner counts.
ULPS = metrics.RESOLUTION_ULPS  # the runner's "below resolution" cut-off, so check and run agree
PROBE_SCALES = (1e-3, 1e-2, 1e-1)  # perturbations of x* and gradient step lengths
N_PROBES = 8  # random perturbations of x* per scale
PROBE_STEPS = 10  # normalized gradient-descent steps from x* per step length


class Failed(Exception):
    """A check found the plugin at fault; the message says how."""


class Skipped(Exception):
    """A check does not apply (no projection, no known minimiser, ...)."""


@dataclasses.dataclass(frozen=True)
class Result:
    """One check's outcome: ``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``."""

    check: str
    status: str
    detail: str = ""


def _run(checks: list[tuple[str, Callable[[], None]]]) -> list[Result]:
    results = []
    for name, check in checks:
        try:
            check()
        except Skipped as exc:
            results.append(Result(name, "skipped", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failing plugin is the finding
            results.append(Result(name, "failed", str(exc) if isinstance(exc, Failed) else one_line(exc)))
        else:
            results.append(Result(name, "passed"))
    return results


def _require(condition, message: str) -> None:
    if not condition:
        raise Failed(message)


def _same_trees(a, b, *, rtol: float, atol: float, what: str) -> None:
    a_leaves, a_def = jax.tree.flatten(a)
    b_leaves, b_def = jax.tree.flatten(b)
    _require(a_def == b_def, f"{what}: tree structures differ ({a_def} vs {b_def})")
    for i, (x, y) in enumerate(zip(a_leaves, b_leaves)):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        _require(x.shape == y.shape, f"{what}: leaf {i} has shape {x.shape} vs {y.shape}")
        if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            raise Failed(f"{what}: leaf {i} differs by up to {np.max(np.abs(x - y)):.3g}")


def _index(tree, i: int):
    return jax.tree.map(lambda a: a[i], tree)


def _all_finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree))


def resolution(*values, dtype) -> float:
    """What a loss of ``dtype`` can resolve at max(|values|): :func:`suite.metrics.resolution` there."""
    dtype = np.dtype(dtype) if np.issubdtype(np.dtype(dtype), np.floating) else np.dtype(np.float32)
    scale = max((abs(float(v)) for v in values if np.isfinite(float(v))), default=0.0)
    return metrics.resolution(scale, dtype.name)


# --- landscapes ----------------------------------------------------------------------


def _check_params(spec) -> None:
    _require(spec.doc, "no doc line: give register(..., doc=) or a docstring")
    names = [p.name for p in spec.params]
    for param in spec.params:
        _require(param.doc, f"parameter {param.name!r} has no doc line")
        param.check(param.default, f"{spec.name!r} (its default)")
    for name, value in spec.test_config.items():
        _require(name in names, f"test_config names {name!r}, not a parameter ({', '.join(names)})")
        spec.params[names.index(name)].check(value, f"{spec.name!r} (its test_config)")


class _LandscapeChecks:
    """The battery for one landscape spec at one set of parameter values."""

    def __init__(self, spec: LandscapeSpec, values: dict):
        self.spec, self.values = spec, values
        self._built: Landscape | None = None  # set by `builds`, the first landscape check

    def build(self, key: int = 0) -> Landscape:
        return self.spec.build(dict(self.values), key=jax.random.key(key))

    @property
    def landscape(self) -> Landscape:
        if self._built is None:
            raise Skipped("the landscape does not build")
        return self._built

    def starts(self, n: int = N_STARTS):
        return jax.vmap(self.landscape.init)(jax.random.split(jax.random.key(1), n))

    def keys(self, n: int = N_STARTS):
        return jax.random.split(jax.random.key(2), n)

    def checks(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("parameters are documented and defaults valid", lambda: _check_params(self.spec)),
            ("builds a suite.Landscape", self.builds),
            ("init is deterministic under a fixed key", self.init_deterministic),
            ("loss is a finite scalar at sampled starts", self.loss_finite),
            ("gradient is finite at sampled starts", self.grad_finite),
            ("jit gives the eager loss", self.jit_compatible),
            ("vmap gives the per-point loss", self.vmap_compatible),
            ("instance is deterministic under a fixed key", self.build_deterministic),
            ("instances from different keys share one compiled program", self.one_program),
            ("projection is idempotent", self.projection_idempotent),
            ("f* ≤ loss at sampled points", self.optimum_bounds),
            ("loss(x*) = f*", self.optimum_attained),
            ("x* is a minimum: no point near it is below f*", self.optimum_is_minimum),
            ("mini-batch loss: fixed key repeats, no key is exact", self.stochastic_loss),
            ("per-layer gradient norms are finite, one per layer", self.layer_norms),
            ("the declared symmetry keeps the loss and is idempotent", self.symmetry),
        ]

    def builds(self) -> None:
        ls = self.build()
        _require(isinstance(ls, Landscape), f"build() returned {type(ls).__name__}, not suite.Landscape")
        self._built = ls
        unknown = set(ls.tags) - set(KNOWN_TAGS)
        _require(not unknown, f"unknown tags {sorted(unknown)}; choose from: {', '.join(KNOWN_TAGS)}")
        _require(ls.f_opt_kind in F_OPT_KINDS,
                 f"f_opt_kind {ls.f_opt_kind!r}; choose from: {', '.join(F_OPT_KINDS)}")

    def init_deterministic(self) -> None:
        ls = self.landscape
        one, two = ls.init(jax.random.key(3)), ls.init(jax.random.key(3))
        _same_trees(one, two, rtol=0, atol=0, what="two inits from one key")
        for leaf in jax.tree.leaves(one):
            _require(jnp.issubdtype(jnp.result_type(leaf), jnp.floating),
                     f"init returned a {jnp.result_type(leaf)} leaf; parameters must be floats")
        _require(_all_finite(one), "init returned a non-finite point")

    def loss_finite(self) -> None:
        values = jax.vmap(self.landscape.loss)(self.starts(), self.keys())
        _require(values.shape == (N_STARTS,), f"loss has shape {values.shape[1:]}, not a scalar")
        bad = np.flatnonzero(~np.isfinite(np.asarray(values)))
        if bad.size:
            raise Failed(f"loss is {float(values[bad[0]])} at start {int(bad[0])}")

    def grad_finite(self) -> None:
        grads = jax.vmap(jax.grad(self.landscape.loss))(self.starts(), self.keys())
        for i, leaf in enumerate(jax.tree.leaves(grads)):
            bad = np.argwhere(~np.isfinite(np.asarray(leaf)))
            if bad.size:
                raise Failed(f"gradient leaf {i} is not finite at start {int(bad[0][0])}")

    def jit_compatible(self) -> None:
        ls, x, key = self.landscape, self.starts(1), self.keys(1)[0]
        x = _index(x, 0)
        eager = ls.loss(x, key)
        jitted = jax.jit(lambda land, p, k: land.loss(p, k))(ls, x, key)
        _same_trees(jitted, eager, rtol=1e-5, atol=1e-6, what="jit versus eager loss")

    def vmap_compatible(self) -> None:
        ls, xs, keys = self.landscape, self.starts(4), self.keys(4)
        batched = jax.vmap(ls.loss)(xs, keys)
        single = jnp.stack([ls.loss(_index(xs, i), keys[i]) for i in range(4)])
        _same_trees(batched, single, rtol=1e-4, atol=1e-6, what="vmapped versus per-point loss")

    def build_deterministic(self) -> None:
        ls = self.landscape
        again = self.build()
        _same_trees(again.data, ls.data, rtol=0, atol=0, what="two builds from one key")

    def one_program(self) -> None:
        traces = []

        @jax.jit
        def loss(land, x):
            traces.append(1)
            return land.loss(x)

        one, two = self.landscape, self.build(key=7)
        loss(one, one.init(jax.random.key(0)))
        loss(two, two.init(jax.random.key(0)))
        _require(len(traces) == 1, "a second instance traced again: keep instance arrays in "
                 "`data` and make init_fn/loss_fn module-level functions or frozen dataclasses")

    def projection_idempotent(self) -> None:
        ls = self.landscape
        if ls.project_fn is None:
            raise Skipped("unconstrained (no projection)")
        points = jax.tree.map(lambda a: 3.0 * a + 0.5, self.starts())
        once = jax.vmap(ls.project)(points)
        _same_trees(jax.vmap(ls.project)(once), once, rtol=1e-5, atol=1e-6,
                    what="project(project(x)) versus project(x)")

    def optimum_bounds(self) -> None:
        ls = self.landscape
        if ls.f_opt is None:
            raise Skipped("no known optimum")
        values = np.asarray(jax.vmap(ls.loss)(self.starts(N_BOUND)))
        f_opt = float(ls.f_opt)
        worst = int(np.argmin(values))
        if ls.f_opt_kind == "exact":
            tolerance = resolution(f_opt, values[worst], dtype=values.dtype)
        else:  # a reference value (p-spin's N → ∞ ground state) a finite instance may beat
            tolerance = 1e-5 * max(1.0, abs(f_opt))
        _require(values[worst] >= f_opt - tolerance,
                 f"loss {values[worst]:.6g} at start {worst} is below f* = {f_opt:.6g}")

    def optimum_attained(self) -> None:
        ls = self.landscape
        if ls.f_opt is None or ls.x_opt is None:
            raise Skipped("no known minimiser x*")
        loss = ls.loss(ls.x_opt)
        value, f_opt, dtype = float(loss), float(ls.f_opt), jnp.result_type(loss)
        tolerance = resolution(f_opt, value, dtype=dtype)
        _require(value >= f_opt - tolerance,
                 f"loss(x*) = {value:.9g} is below f* = {f_opt:.9g} by {f_opt - value:.3g}, more than "
                 f"{ULPS} ulps of {np.dtype(dtype).name} ({tolerance:.3g}): the declared f* is not the minimum")
        # x* is known only to the precision of its dtype: above f*, allow what moving
        # x* by an ulp changes (at a minimum with f* = 0 that is ~eps², not ulp(0)).
        rounding = self._ulp_variation(ls, ls.x_opt, value)
        _require(value <= f_opt + tolerance + rounding,
                 f"loss(x*) = {value:.9g} but f* = {f_opt:.9g}: they differ by {value - f_opt:.3g}, more "
                 f"than {ULPS} ulps of {np.dtype(dtype).name} ({tolerance + rounding:.3g})")

    @staticmethod
    def _ulp_variation(ls: Landscape, x_opt, value: float) -> float:
        flat, unravel = jax.flatten_util.ravel_pytree(x_opt)
        signs = jax.random.rademacher(jax.random.key(4), (4, flat.size), flat.dtype)
        ulp = jnp.asarray(np.spacing(np.abs(np.asarray(flat))), flat.dtype)
        nudged = jax.vmap(lambda s: ls.loss(ls.project(unravel(flat + s * ulp))))(signs)
        return float(np.max(np.abs(np.asarray(nudged, np.float64) - value)))

    def optimum_is_minimum(self) -> None:
        ls = self.landscape
        if ls.f_opt is None or ls.x_opt is None:
            raise Skipped("no known minimiser x*")
        if ls.f_opt_kind != "exact":
            raise Skipped(f"f* is a {ls.f_opt_kind} value, not this instance's minimum")
        flat, unravel = jax.flatten_util.ravel_pytree(ls.x_opt)
        loss = jax.jit(lambda v: ls.loss(ls.project(unravel(v))))
        f_opt = float(ls.f_opt)
        # Random perturbations of x* at each scale (relative to x*'s size when it is large).
        size = max(1.0, float(jnp.sqrt(jnp.mean(flat * flat))))
        directions = jax.random.normal(jax.random.key(6), (len(PROBE_SCALES), N_PROBES, flat.size), flat.dtype)
        scales = jnp.asarray(PROBE_SCALES, flat.dtype)[:, None, None] * size
        near = (flat + scales * directions).reshape(-1, flat.size)
        values = np.asarray(jax.vmap(loss)(near), np.float64)
        where = [f"a random perturbation of x* of size {s:g}" for s in PROBE_SCALES for _ in range(N_PROBES)]

        # A few normalized gradient-descent steps from x* at each step length: at a
        # minimum they go nowhere lower; next to one they find the way down.
        def descend(step):
            def one(v, _):
                g = jax.grad(loss)(v)
                v = v - step * g / jnp.maximum(jnp.linalg.norm(g), jnp.finfo(flat.dtype).tiny)
                return v, loss(v)
            return jax.lax.scan(one, flat, None, length=PROBE_STEPS)[1]

        steps = np.asarray(jax.jit(jax.vmap(descend))(jnp.asarray(PROBE_SCALES, flat.dtype) * size), np.float64)
        values = np.concatenate([values, steps.reshape(-1)])
        where += [f"{t + 1} gradient steps of length {s:g} from x*" for s in PROBE_SCALES
                  for t in range(PROBE_STEPS)]
        finite = np.isfinite(values)
        _require(finite.any(), "the loss is not finite at any point near x*")
        worst = int(np.argmin(np.where(finite, values, np.inf)))
        dtype = jnp.result_type(loss(flat))
        tolerance = resolution(f_opt, values[worst], dtype=dtype)
        _require(values[worst] >= f_opt - tolerance,
                 f"loss {values[worst]:.9g} at a point near x* ({where[worst]}) is below f* = {f_opt:.9g}: "
                 f"the declared f* is not the minimum")

    def stochastic_loss(self) -> None:
        ls = self.landscape
        if not ls.stochastic:
            raise Skipped("deterministic loss")
        x = _index(self.starts(1), 0)
        key = jax.random.key(5)
        _same_trees(ls.loss(x, key), ls.loss(x, key), rtol=0, atol=0, what="two losses with one key")
        _same_trees(ls.loss(x), ls.loss(x), rtol=0, atol=0, what="two exact losses")
        _require(np.isfinite(float(ls.loss(x))), "the exact loss (key=None) is not finite")

    def layer_norms(self) -> None:
        ls = self.landscape
        if not ls.layered:
            raise Skipped("not layered")
        x = _index(self.starts(1), 0)
        norms = np.asarray(ls.layer_gradient_norms(x))
        _require(norms.shape == (len(x),), f"{norms.shape} norms for {len(x)} layers")
        _require(np.all(np.isfinite(norms)), f"non-finite layer gradient norms {norms}")


    def symmetry(self) -> None:
        ls = self.landscape
        if ls.symmetry_fn is None:
            raise Skipped("no symmetry declared")
        for i in range(N_STARTS):
            x = _index(self.starts(), i)
            canonical = ls.symmetry_fn(ls.data, x)
            _same_trees(ls.loss(canonical), ls.loss(x), rtol=1e-5, atol=1e-6,
                        what="the loss at the symmetric representative and at the point")
            _same_trees(ls.symmetry_fn(ls.data, canonical), canonical, rtol=0, atol=0,
                        what="the representative of the representative and the representative")


def check_landscape(spec: LandscapeSpec, values: dict | None = None) -> list[Result]:
    """Runs the battery on ``spec`` at ``values`` (default: defaults with its test_config)."""
    values = spec.defaults | spec.test_config if values is None else values
    return _run(_LandscapeChecks(spec, values).checks())


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
