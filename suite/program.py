"""The compiled program: jit(vmap over settings(vmap over restarts(lax.scan over steps))).

Everything here is pure JAX. The runner (``suite.runner``) decides batches and
chunks and moves summaries to the host; this module only defines what one
chunk of steps does on the device.

Step semantics. At step ``t`` the loss and gradient are evaluated at x_t, the
summaries record f(x_t), and the optimizer maps x_t to x_{t+1}. On a
stochastic landscape the optimizer gets the mini-batch loss and gradient of
step t while the summaries record the exact loss. The optimizer's ``update``
receives the extra arguments ``value`` and ``grad`` (at x_t), ``value_fn``
(the loss of step t, for line searches and Hessians) and ``key`` (this
restart's key for step t, for wrappers that draw noise). The step key
``fold_in(restart key, t)`` is split by ``fold_in`` into the mini-batch key
(0) and the optimizer's key (1), so gradient noise never correlates with the
batch drawn. Steps run for t = 0..T, so f is evaluated T + 1 times and T updates are
applied: the update of step T is computed but not applied, so a restart that
runs every step ends at x_T, the point whose loss is its final loss (the
diagnostics examine it); a frozen one ends as said below.

What the summaries mean. ``loss`` at the end is the final loss f(x_T): a restart
runs every step, whatever targets it reached on the way, so an optimizer that
passes near x* and then leaves (or diverges) is recorded where it ended. The
first step at which each target was reached keeps COCO's anytime meaning, and
``held`` counts the targets the current loss still satisfies: a restart that
reached a target and ended above it has *relapsed*. A restart is frozen only
when its loss is not finite (it diverged: nothing after that is meaningful),
or, in the explicit fixed-target mode (``Context.stop_at_target``), when it
reaches the last target; frozen summaries do not depend on when the host
checks for early stopping. A frozen restart's point stops too, one update
after its last evaluation (freezing it at that evaluation would make every
update wait for the loss). So results do not depend on chunk sizes, which the
runner picks by elapsed time (nor, but for the rounding of batched matrix
products, on batch sizes).

Precision. Losses, targets and summaries take the float dtype of
``Context.targets``: float32, or float64 when the run is traced under JAX's x64
mode (``precision = "float64"``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.extend.core import jaxprs_in_params

from suite.diagnostics import flatten
from suite.specs import Landscape, layer_norms

NOT_REACHED = -1  # step sentinel: target never reached / never diverged
BATCH_KEY, OPTIMIZER_KEY = 0, 1  # fold_in tags of the two uses of a step's key


class Summary(NamedTuple):
    """What the scan keeps per restart instead of the whole trajectory."""

    loss: jax.Array  # f at the last evaluated point: f(x_T) at the end
    best: jax.Array  # lowest finite loss seen; +inf until one is seen
    steps: jax.Array  # int32: updates applied before the last evaluation
    reached: jax.Array  # int32: how many targets (a prefix, they are nested) were reached
    held: jax.Array  # int32: how many targets the last evaluated loss satisfies (0 once diverged)
    hit: jax.Array  # int32[n_targets]: step at which target j was reached; see below
    diverged: jax.Array  # int32: first step with a non-finite loss, or -1
    ckpt_loss: jax.Array  # [n_ckpt]: f at the checkpoint steps
    ckpt_best: jax.Array  # [n_ckpt]: best-so-far at the checkpoint steps
    # Diagnostics, None unless asked for (then the program is the plain one):
    ckpt_layers: Any = None  # [n_ckpt, n_layers]: ‖∂f/∂θ_l‖ at the checkpoint steps
    ckpt_x: Any = None  # [n_ckpt, n_coordinates]: the point itself (2-D landscapes' pictures)

    # ``hit`` is written sparsely: when a step takes ``reached`` from a to b,
    # only hit[b − 1] is set. Targets are nested (descending), so targets a..b−1
    # were all reached at that step; ``suite.runner.complete_hits`` fills them
    # in on the host. Writing one entry instead of all of them keeps per-step memory
    # traffic independent of the number of targets.


class RestartState(NamedTuple):
    """The scan carry of one restart."""

    x: Any  # the point being optimized (a pytree)
    opt_state: Any
    key: jax.Array  # this restart's noise stream; step t uses fold_in(key, t)
    summary: Summary


class Context(NamedTuple):
    """Per-run inputs that are arrays, so changing them compiles nothing."""

    steps: jax.Array  # int32 scalar T
    targets: jax.Array  # float[n_targets], descending; its dtype is the run's precision
    ckpt_steps: jax.Array  # int32[n_ckpt], ascending, within [0, T]
    f_opt: jax.Array  # float scalar (0 when unknown: targets are then absolute)
    # bool scalar: fixed-target mode, a restart stops at the last target. An
    # array, not a compile key: both modes run the same executable.
    stop_at_target: jax.Array


@dataclasses.dataclass(frozen=True)
class Static:
    """What shapes the program besides array shapes; hashable, a compile key.

    Attributes:
      factory: the optimizer factory (hyperparameters -> GradientTransformation).
      static_hparams: (name, value) pairs of non-float hyperparameters.
      wrappers: ``(name, wrap, static pairs)`` per wrapper, innermost first.
      layers: record per-layer gradient norms at the checkpoints (layered landscapes).
      trace: record the point at the checkpoints (for pictures of 2-D landscapes).
      matmul_precision: float32 matrix multiplies as JAX's ``default`` (TF32 on
        recent GPUs), ``float32`` (exact), or ``bfloat16`` (fastest, least precise).
      chunk: steps per chunk, fixed at compile time (``lax.scan``), or 0: any
        length, from the chunk's bounds (``lax.fori_loop``). XLA:GPU runs a
        loop of unknown trip count by copying its predicate to the host at
        every step, so the runner compiles a fixed length on accelerators and
        keeps one executable for every length on CPUs.
      grad_once: materialise each step's loss and gradient once (see
        :func:`_value_and_grad`). The runner asks for it on CPUs for
        landscapes whose gradient is elementwise (:func:`elementwise_gradient`),
        where it pays (1.3× for Adam on Rastrigin); not for matrix products,
        whose gradient XLA materialises anyway (there it costs ~4% on
        ``deep_net``), nor on accelerators, where recomputing is cheaper than
        writing the gradient to memory and reading it back.
    """

    factory: Callable[..., optax.GradientTransformation]
    static_hparams: tuple
    wrappers: tuple = ()
    layers: bool = False
    trace: bool = False
    matmul_precision: str = "default"
    grad_once: bool = False
    chunk: int = 0

    def transformation(self, traced: dict) -> optax.GradientTransformationExtraArgs:
        """The optimizer inside its wrappers; ``traced`` holds ``name`` and ``wrapper.name`` keys."""
        own = {k: v for k, v in traced.items() if "." not in k}
        tx = optax.with_extra_args_support(self.factory(**own, **dict(self.static_hparams)))
        for name, wrap, static in self.wrappers:
            mine = {k.split(".", 1)[1]: v for k, v in traced.items() if k.startswith(name + ".")}
            tx = optax.with_extra_args_support(wrap(tx, **mine, **dict(static)))
        return tx


def _finished(summary: Summary, stop_at_target: jax.Array) -> jax.Array:
    """Restarts whose summaries are frozen: diverged, or at the last target in fixed-target mode."""
    return (summary.diverged >= 0) | (stop_at_target & (summary.reached == summary.hit.shape[-1]))


def _layer_norms(grad) -> jax.Array:
    """‖g_l‖ per layer of a layered landscape's gradient (a list, input layer first)."""
    return layer_norms(grad).astype(jnp.float32)


def _flat(x) -> jax.Array:
    return flatten(x)[0]  # float32


_PRODUCTS = {"dot_general", "conv_general_dilated", "custom_call"}


def elementwise_gradient(landscape: Landscape, x) -> bool:
    """Whether the loss's gradient has no matrix product: XLA then fuses it into each consumer.

    Read off the jaxpr of ``value_and_grad`` at ``x``, a start point
    (sub-jaxprs included); a landscape that cannot be traced this way counts
    as not elementwise, which only forgoes a speed-up.
    """
    def products(jaxpr) -> bool:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in _PRODUCTS:
                return True
            for sub in jaxprs_in_params(eqn.params):
                if products(sub):
                    return True
        return False

    try:
        closed = jax.make_jaxpr(jax.value_and_grad(lambda p: landscape.loss(p)))(x)
    except Exception:  # noqa: BLE001 - a plugin's loss; only the speed-up is at stake
        return False
    return not products(closed.jaxpr)


def _value_and_grad(loss_fn, x, t: jax.Array, ctx: Context, once: bool):
    """The loss and gradient at ``x``; with ``once``, computed exactly once.

    XLA fuses an elementwise gradient into each of its consumers and so
    computes it once per consumer: three times a step for Adam (the loss, the
    first- and the second-moment updates), which on a CPU means three scalar
    ``sincosf`` per coordinate on Rastrigin. ``lax.optimization_barrier`` does
    not stop it on XLA:CPU, but the outputs of a conditional are materialised:
    the gradient is computed in one kernel and read by the others. The
    predicate holds at every step the runner runs (t ≤ T) and is not batched
    (``t`` is the same for every restart), so it stays one branch under vmap.
    1.3× faster for Adam on Rastrigin on a CPU. The same numbers to float32
    rounding: bit for bit without FMA instructions; with them, LLVM contracts
    the optimizer's multiply-adds differently around a gradient it loads and
    one it computes in place (``tests/test_program_steps.py``).
    """
    evaluate = jax.value_and_grad(loss_fn)
    if not once:
        return evaluate(x)

    def never(x):  # past the last step, which the runner never runs
        return jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(evaluate, x))

    return jax.lax.cond(t <= ctx.steps, evaluate, never, x)


def _step(static: Static, landscape: Landscape, tx, ctx: Context, state: RestartState, t: jax.Array):
    s = state.summary
    evaluating = (t <= ctx.steps) & ~_finished(s, ctx.stop_at_target)
    step_key = jax.random.fold_in(state.key, t)
    batch_key = jax.random.fold_in(step_key, BATCH_KEY) if landscape.stochastic else None

    def loss_fn(x, key=None):
        # optax's line searches call value_fn with the update's extra arguments
        # that it names, and reject the others: it names `key` (the optimizer's)
        # and ignores it, since the mini-batch of step t is fixed.
        del key
        return landscape.loss(x, batch_key)

    value, grad = _value_and_grad(loss_fn, state.x, t, ctx, static.grad_once)
    # The optimizer sees the mini-batch loss and gradient; the summaries record
    # the exact loss, so success means the training loss reached the target,
    # not that one lucky mini-batch did. It costs one full forward pass a step.
    f = landscape.loss(state.x) if landscape.stochastic else value
    f = f.astype(ctx.targets.dtype)
    finite = jnp.isfinite(f)
    # NaN and inf never count as best, nor as reaching a target.
    clean = jnp.where(finite, f, jnp.inf)
    loss = jnp.where(evaluating, f, s.loss)
    best = jnp.where(evaluating, jnp.minimum(s.best, clean), s.best)
    count = jnp.sum(clean - ctx.f_opt <= ctx.targets, dtype=jnp.int32)
    reached = jnp.where(evaluating, jnp.maximum(s.reached, count), s.reached)
    held = jnp.where(evaluating, count, s.held)
    last = jnp.maximum(reached - 1, 0)
    hit = s.hit.at[last].set(jnp.where(reached > s.reached, t, s.hit[last]))

    # `t` is the same for every restart, so this predicate is not batched and
    # the cond stays a branch under vmap: checkpoint arrays are touched only
    # at checkpoint steps, not at every step.
    at_ckpt = ctx.ckpt_steps == t

    # Diagnostics ride along in the same branch; without them these are None
    # and the program is exactly the plain one.
    extra = (s.ckpt_layers, s.ckpt_x)

    def record(arrays):
        pos = jnp.argmax(at_ckpt)
        values = (loss, best,
                  None if s.ckpt_layers is None else _layer_norms(grad),
                  None if s.ckpt_x is None else _flat(state.x))
        return tuple(None if a is None else a.at[pos].set(jnp.where(evaluating, v, a[pos]))
                     for a, v in zip(arrays, values, strict=True))

    ckpt_loss, ckpt_best, ckpt_layers, ckpt_x = jax.lax.cond(
        jnp.any(at_ckpt), record, lambda a: a, (s.ckpt_loss, s.ckpt_best, *extra))
    summary = Summary(
        loss=loss,
        best=best,
        steps=jnp.where(evaluating, t, s.steps),
        reached=reached,
        held=held,
        hit=hit,
        diverged=jnp.where(evaluating & ~finite & (s.diverged < 0), t, s.diverged),
        ckpt_loss=ckpt_loss,
        ckpt_best=ckpt_best,
        ckpt_layers=ckpt_layers,
        ckpt_x=ckpt_x,
    )
    # Optimizers that ignore `key` leave its fold_in as dead code; XLA drops it.
    updates, opt_state = tx.update(
        grad, state.opt_state, state.x, value=value, grad=grad, value_fn=loss_fn,
        key=jax.random.fold_in(step_key, OPTIMIZER_KEY),
    )
    x = landscape.project(optax.apply_updates(state.x, updates))
    # The last step's update is not applied (the restart ends at x_T), nor are
    # those of a restart frozen before this step: where a batch stops early
    # then depends on nothing. Freezing at this step's own evaluation would
    # make every update wait for the loss reduction (~30% slower on a CPU).
    moves = (t < ctx.steps) & ~_finished(s, ctx.stop_at_target)
    x = jax.tree.map(lambda new, old: jnp.where(moves, new, old), x, state.x)
    return RestartState(x, opt_state, state.key, summary)


def init(static: Static, landscape: Landscape, hparams: dict, restart_ids: jax.Array,
         init_stream: jax.Array, noise_stream: jax.Array, ctx: Context) -> RestartState:
    """States of shape [settings, restarts]; restart i starts at the same point in every setting."""
    n_targets, n_ckpt = ctx.targets.shape[0], ctx.ckpt_steps.shape[0]
    dtype = ctx.targets.dtype

    def start(rid):
        return landscape.init(jax.random.fold_in(init_stream, rid))

    starts = jax.vmap(start)(restart_ids)
    keys = jax.vmap(lambda rid: jax.random.fold_in(noise_stream, rid))(restart_ids)

    def per_setting(hp):
        tx = static.transformation(hp)
        opt_state = jax.vmap(tx.init)(starts)
        n = restart_ids.shape[0]
        summary = Summary(
            loss=jnp.full((n,), jnp.nan, dtype),
            best=jnp.full((n,), jnp.inf, dtype),
            steps=jnp.zeros((n,), jnp.int32),
            reached=jnp.zeros((n,), jnp.int32),
            held=jnp.zeros((n,), jnp.int32),
            hit=jnp.full((n, n_targets), NOT_REACHED, jnp.int32),
            diverged=jnp.full((n,), NOT_REACHED, jnp.int32),
            ckpt_loss=jnp.full((n, n_ckpt), jnp.nan, dtype),
            ckpt_best=jnp.full((n, n_ckpt), jnp.inf, dtype),
            ckpt_layers=jnp.full((n, n_ckpt, len(starts)), jnp.nan, jnp.float32) if static.layers else None,
            ckpt_x=(jnp.full((n, n_ckpt, _flat(jax.tree.map(lambda x: x[0], starts)).size), jnp.nan,
                                  jnp.float32) if static.trace else None),
        )
        return RestartState(starts, opt_state, keys, summary)

    return jax.vmap(per_setting)(hparams)


def run_chunk(static: Static, landscape: Landscape, hparams: dict, states: RestartState,
              t0: jax.Array, t1: jax.Array, ctx: Context) -> tuple[RestartState, jax.Array]:
    """Runs steps t0 .. t1 − 1 (t1 ≤ T + 1) for every setting and restart.

    The bounds are arrays, so one executable runs chunks of any length: the
    runner sizes them by elapsed time without compiling again. With a fixed
    ``static.chunk`` it runs steps t0 .. t0 + chunk − 1 whatever t1 says; steps
    past T evaluate nothing and move no point.

    Returns the new states and whether every restart is frozen or has run out
    of steps (the host then stops early).
    """

    def per_setting(hp, st):
        tx = static.transformation(hp)

        def per_restart(state):
            step = lambda t, carry: _step(static, landscape, tx, ctx, carry, t)  # noqa: E731
            if static.chunk:
                ts = t0 + jnp.arange(static.chunk, dtype=jnp.int32)
                return jax.lax.scan(lambda carry, t: (step(t, carry), None), state, ts)[0]
            return jax.lax.fori_loop(t0, t1, step, state)

        return jax.vmap(per_restart)(st)

    states = jax.vmap(per_setting)(hparams, states)
    end = t0 + static.chunk if static.chunk else t1
    done = jnp.all(_finished(states.summary, ctx.stop_at_target)) | (end > ctx.steps)
    return states, done
