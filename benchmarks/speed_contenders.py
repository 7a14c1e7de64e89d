"""The contenders ``speed.py`` times against the suite: bare JAX, a Python loop, PyTorch eager and compiled.

Every contender runs the same work as the suite's cell: Adam (learning rate
0.01, b1 0.9, b2 0.999, eps 1e-8) for ``steps`` steps from the **same starts**
x0 (the suite's own: restart i from ``instance.init(fold_in(draw.init, i))``),
each step evaluating the loss and its gradient and keeping each restart's best
loss, then the final loss f(x_T). Each call of a contender's ``run()`` starts
again from x0 with a fresh optimizer state, so every repeat does identical
work (an optimizer that kept going would reach other, slower numbers:
denormals, or PyTorch's compiled graph after a few hundred steps), and
returns ``(seconds, median final loss)``. Compilation happens before the
first timed call.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from suite_cell import LEARNING_RATE


def _restart(loss, steps: int, once: bool = False):
    """One restart from its start x: ``steps`` Adam steps; returns (f(x_T), best loss).

    ``once``: the loss and gradient inside a ``lax.cond`` on the (unbatched)
    step, which makes XLA compute them once a step, as the suite's runner does
    on a CPU for elementwise gradients (``suite.program._value_and_grad``).
    """
    tx = optax.adam(LEARNING_RATE)

    def one(x):
        def step(carry, t):
            x, state, best = carry
            evaluate = jax.value_and_grad(loss)
            if once:
                value, grad = jax.lax.cond(t >= 0, evaluate, lambda x: jax.tree.map(
                    lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(evaluate, x)), x)
            else:
                value, grad = evaluate(x)
            updates, state = tx.update(grad, state, x)
            return (optax.apply_updates(x, updates), state, jnp.minimum(best, value)), None

        (x, _, best), _ = jax.lax.scan(step, (x, tx.init(x), jnp.asarray(jnp.inf, jnp.float32)),
                                       jnp.arange(steps, dtype=jnp.int32))
        return loss(x), best

    return one


def jax_bare(loss, x0, steps: int, once: bool = False):
    """A hand-written ``jit(vmap(lax.scan))`` over the restarts of x0 (a batched pytree)."""
    compiled = jax.jit(jax.vmap(_restart(loss, steps, once))).lower(x0).compile()

    def run():
        start = time.perf_counter()
        final, best = jax.block_until_ready(compiled(x0))
        return time.perf_counter() - start, float(np.median(np.asarray(final)))

    run()  # warm up
    return run


def jax_loop(loss, x0, steps: int, n: int):
    """A Python loop over restarts, each one call of a jitted scan; timed on the first ``n`` restarts.

    Its seconds are scaled to all restarts (×R/n): a rate needs no more. Its
    final loss is that of n restarts only, so it reports none.
    """
    one = jax.jit(_restart(loss, steps))
    restarts = jax.tree.leaves(x0)[0].shape[0]
    starts = [jax.tree.map(lambda a, i=i: a[i], x0) for i in range(min(n, restarts))]
    jax.block_until_ready(one(starts[0]))  # compile

    def run():
        start = time.perf_counter()
        for x in starts:
            jax.block_until_ready(one(x))
        return (time.perf_counter() - start) * restarts / len(starts), None

    return run


# --- PyTorch -----------------------------------------------------------------------------


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _adam(torch, params):
    try:
        return torch.optim.Adam(params, lr=LEARNING_RATE, fused=True)
    except (RuntimeError, TypeError):  # fused Adam missing on this build or device
        return torch.optim.Adam(params, lr=LEARNING_RATE, foreach=True)


def torch_contender(starts: list, make_loss, steps: int, compiled: bool):
    """Batched PyTorch Adam (``fused=True``) from ``starts`` (NumPy arrays, restarts first).

    ``make_loss(params, device)`` returns a function of no arguments giving
    the [R] per-restart losses of the tensors ``params``. Compiled, the step
    is ``torch.compile(step)``: Dynamo compiles the loss and its backward and
    leaves the fused Adam kernel as it is (it does not trace fused optimizers). Each ``run()`` copies the
    starts into the parameters and zeroes the optimizer state in place (Adam's
    fresh state: step 0, zero moments), so the tensors keep their identity and
    ``torch.compile``'s guards hold: the compiled step is compiled once.
    """
    import torch

    device = "cuda" if torch.cuda.is_available() and jax.devices()[0].platform == "gpu" else "cpu"
    firsts = [torch.from_numpy(np.array(a, np.float32)).to(device) for a in starts]
    params = [a.clone().requires_grad_(True) for a in firsts]
    loss = make_loss(params, device)
    opt = _adam(torch, params)
    restarts = firsts[0].shape[0]

    def step():
        opt.zero_grad(set_to_none=True)
        value = loss()
        value.sum().backward()
        opt.step()
        return value.detach()

    if compiled:
        # Dynamo caches by code object: every contender's `step` shares one, and an
        # earlier workload's entries would be guarded on each call, then hit the recompile limit.
        torch._dynamo.reset()
    step_fn = torch.compile(step, dynamic=False) if compiled else step

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def run():
        with torch.no_grad():
            for p, first in zip(params, firsts, strict=True):
                p.copy_(first)
            for state in opt.state.values():
                for value in state.values():
                    value.zero_()
        best = torch.full((restarts,), math.inf, device=device)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            best = torch.minimum(best, step_fn())
        with torch.no_grad():
            final = loss()
        sync()
        seconds = time.perf_counter() - start
        return seconds, float(np.median(final.cpu().numpy()))

    run()  # warm up: compiles, and creates the optimizer state
    run()  # a second time: any recompilation on the now-existing state happens here
    return run


def torch_rastrigin(params, device):
    import torch

    (x,) = params

    def loss():
        return (x * x + 20.0 * torch.sin(torch.pi * x) ** 2).sum(-1)

    return loss


def torch_bowl(data: dict):
    """½ (x − x*)ᵀ Qᵀ diag(λ) Q (x − x*), the bowl landscape's loss, batched over restarts."""

    def make(params, device):
        import torch

        (x,) = params
        eig = torch.from_numpy(np.array(data["eigenvalues"])).to(device)
        x_opt = torch.from_numpy(np.array(data["x_opt"])).to(device)
        rotation = torch.from_numpy(np.array(data["rotation"])).to(device) if "rotation" in data else None

        def loss():
            z = x - x_opt
            if rotation is not None:
                z = z @ rotation.T
            return 0.5 * (eig * z * z).sum(-1)

        return loss

    return make


def torch_net(data: dict, depth: int):
    """The deep_net landscape's loss (sigmoid hidden layers, linear output) with ``torch.bmm``.

    ``params`` are the weights of the ``depth`` layers, then their biases.
    """

    def make(params, device):
        import torch

        weights, biases = params[:depth], params[depth:]
        x = torch.from_numpy(np.array(data["x"])).to(device)
        y = torch.from_numpy(np.array(data["y"])).to(device)
        inputs = x.expand(weights[0].shape[0], *x.shape)

        def loss():
            h = inputs
            for w, b in zip(weights[:-1], biases[:-1], strict=True):
                h = torch.sigmoid(torch.bmm(h, w) + b[:, None, :])
            out = (torch.bmm(h, weights[-1]) + biases[-1][:, None, :])[..., 0]
            return 0.5 * ((out - y) ** 2).mean(-1)

        return loss

    return make


# --- the device's limits -------------------------------------------------------------------


def _best_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


class Limits:
    """The device's limits, measured again in every round: copy bandwidth and float32 matmul rate.

    Bandwidth: bytes per second of the fastest copy (read + write) of an array
    of the workload's working set (on a CPU a state that fits in cache streams
    far faster than main memory, and a floor measured on a larger array would
    be one the workload never meets). Matmul rate: FLOP/s of an n × n float32
    matrix multiply at JAX's default precision. Each is the best of three, and
    on a CPU with PyTorch installed the better of XLA's and PyTorch's (XLA:CPU
    runs a simple copy on fewer threads than the memory system can feed).
    Measured within each round, beside the contenders, so a shared machine's
    drift moves the limit and the contenders alike.
    """

    def __init__(self, nbytes: int, matmul_n: int | None):
        on_cpu = jax.devices()[0].platform == "cpu" and torch_available()
        x = jnp.ones(max(nbytes, 1 << 20) // 4, jnp.float32)
        copy = jax.jit(lambda a: a + 1.0)
        self.copies = [(2 * x.nbytes, lambda: copy(x).block_until_ready())]
        self.matmuls = []
        if matmul_n:
            a = jax.random.normal(jax.random.key(0), (matmul_n, matmul_n), jnp.float32)
            mm = jax.jit(lambda m: m @ m)
            self.matmuls.append((2 * matmul_n**3, lambda: mm(a).block_until_ready()))
        if on_cpu:
            import torch

            t = torch.ones(x.size)
            self.copies.append((2 * x.nbytes, lambda: t.add(1.0)))
            if matmul_n:
                b = torch.from_numpy(np.array(a))
                self.matmuls.append((2 * matmul_n**3, lambda: b @ b))
        for _, fn in self.copies + self.matmuls:
            fn()  # compile, warm up

    def measure(self) -> tuple[float, float | None]:
        """(bytes/s, FLOP/s or None when no matmul rate is asked)."""
        bandwidth = max(n / _best_seconds(fn) for n, fn in self.copies)
        rate = max(n / _best_seconds(fn) for n, fn in self.matmuls) if self.matmuls else None
        return bandwidth, rate


def denormals_flushed() -> dict:
    """Whether each framework flushes a float32 result below the normal range (2e-38 × 0.5) to zero."""
    tiny = np.float32(2e-38)
    found = {"jax": float(jax.jit(lambda v: v * 0.5)(jnp.float32(tiny))) == 0.0}
    if torch_available():
        import torch

        found["torch"] = float(torch.tensor([tiny]) * 0.5) == 0.0
    return found
