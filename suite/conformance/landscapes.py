"""The conformance checks for landscapes: what ``suite check`` runs on a registered landscape."""

from __future__ import annotations

from typing import Callable

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from suite import metrics
from suite.conformance._battery import (
    Failed,
    Result,
    Skipped,
    _all_finite,
    _check_params,
    _index,
    _require,
    _run,
    _same_trees,
    resolution,
)
from suite.specs import F_OPT_KINDS, KNOWN_TAGS, Landscape, LandscapeSpec

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
