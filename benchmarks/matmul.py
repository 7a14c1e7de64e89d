"""The deep net's batched matrix multiplies on XLA:CPU: layouts, kernels and runtime options against ``torch.bmm``.

``deep_net`` (depth 8, width 256, 256 samples, sigmoid, teacher–student) runs
under ``vmap`` over restarts, so each of its layers is a batched
``dot_general`` [R, S, w] × [R, w, w], three times per step: the forward
product Z = H W, the input gradient dH = dZ Wᵀ and the weight gradient
dW = Hᵀ dZ (which contracts over samples). This script times, interleaved
(every contender once per round, ``--rounds`` rounds, in one process), and
prints each one's rate against a reference row as a ratio with its min–max
over rounds (above 1: faster than the reference). The notes say where XLA:CPU
sent the dots, read from the optimized HLO: ``ynn:n``, n dots in fusions
handed to YNNPACK (the default for row-major products); ``dot:n``, n plain
dots (Eigen):

1. **one layer**, the three shapes of product a layer needs, written as
   einsums (NN: H W, NT: dZ Wᵀ, TN: Hᵀ dZ), each compiled with XLA:CPU's
   default kernels and with the Eigen fallback (the compile option
   ``xla_cpu_experimental_ynn_fusion_type=""``); the reference is ``torch.bmm``
   (NN).
2. **the whole net** under ``vmap`` over restarts, forward and
   ``value_and_grad``: the suite's own loss, and the same net written other
   ways (features-major activations; weights stored transposed; the input
   layer batched per restart instead of one matrix multiply shared by all
   restarts; ``preferred_element_type``; vmapped over two settings as the
   suite's program is; each compile option of XLA:CPU that reaches the dots).
   The reference is the suite's loss; PyTorch eager (``torch.bmm``, samples
   major) is a row. ``max |Δf|`` is each row's largest difference from the
   suite's losses (the same net, so float32 rounding only).
3. **Adam steps**: the suite's runner on the cell (``suite_cell.py``, the
   runner's own run seconds) against PyTorch eager with fused Adam from the
   same starts (``speed_contenders.py``), the issue-18 bar (≥ 0.8×).

PyTorch runs with denormals flushed, as XLA does. ``--small`` is tiny, for a
quick check. Usage::

    python benchmarks/matmul.py                # depth 8, width 256, 256 samples, 64 restarts
    python benchmarks/matmul.py --small
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from suite.registry import load_registry

EIGEN = {"xla_cpu_experimental_ynn_fusion_type": ""}  # YNNPACK off: dots go to Eigen
_FUSION = "LIBRARY_FUSION_TYPE_"
# Compile options of the installed jaxlib about the dots' kernels (listed with
# ``strings libjax_common.so | grep xla_cpu_``), each set per program
# (``compile(compiler_options=...)``). With jaxlib 0.10.2 the xnn and onednn
# fusion types leave the HLO as plain dots (their rows show where the dots went).
OPTIONS = {
    "eigen": EIGEN,
    "ynn dot fusion": {"xla_cpu_experimental_ynn_fusion_type": _FUSION + "DOT"},
    "ynn dot+eltwise": {"xla_cpu_experimental_ynn_fusion_type": f"{_FUSION}DOT,{_FUSION}ELTWISE"},
    "xnn dot": EIGEN | {"xla_cpu_experimental_xnn_fusion_type": _FUSION + "DOT"},
    "xnn graph greedy": {"xla_cpu_experimental_xnn_graph_fusion_mode": "XNN_GRAPH_FUSION_MODE_GREEDY"},
    "onednn dot": EIGEN | {"xla_cpu_experimental_onednn_fusion_type": _FUSION + "DOT"},
    "eigen 1 thread": EIGEN | {"xla_cpu_multi_thread_eigen": False},
}


def kernels(compiled) -> str:
    """Where XLA:CPU sent the dots: how many a library fusion took (ynn, onednn, xnn), how many stayed plain (Eigen)."""
    text = compiled.as_text()
    library = {}  # fused computation -> the library that runs it
    for called, kind in re.findall(r'calls=%(\S+?),.*?"kind":"__(\w+?)_fusion"', text):
        library[called] = kind
    counts = {}
    for name, body in re.findall(r"^%(\S+) \(.*?\n(.*?)^}", text, re.S | re.M):
        dots = len(re.findall(r" dot\(", body))
        if dots:
            where = library.get(name, "dot")
            counts[where] = counts.get(where, 0) + dots
    entry = text.split("ENTRY", 1)[1]
    counts["dot"] = counts.get("dot", 0) + len(re.findall(r" dot\(", entry))
    return " ".join(f"{where}:{n}" for where, n in sorted(counts.items()) if n)


def interleaved(contenders: dict, rounds: int, reference: str, self_timed: bool = False) -> dict:
    """Runs every contender once per round, in turn; returns (median seconds, median, min, max of ratios).

    A ratio is the reference's seconds over the contender's in the same round.
    With ``self_timed`` each contender returns its own seconds (the suite's
    runner reports its run seconds), else the call is timed around.
    """
    for run in contenders.values():
        run()  # warm up
    seconds = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            own = run()
            seconds[name].append(own if self_timed else time.perf_counter() - start)
    ratios = {}
    for name, own in seconds.items():
        each = [ref / s for ref, s in zip(seconds[reference], own, strict=True)]
        ratios[name] = (statistics.median(own), statistics.median(each), min(each), max(each))
    return ratios


def print_rows(title: str, ratios: dict, notes: dict) -> None:
    print(f"\n{title}")
    print(f"{'contender':<34} {'ms':>9} {'× ref':>6} {'min–max':>11}  notes")
    for name, (sec, mid, low, high) in ratios.items():
        print(f"{name:<34} {sec * 1e3:>9.2f} {mid:>6.2f} {low:>5.2f}–{high:<5.2f}  {notes.get(name, '')}", flush=True)


# --- one layer -----------------------------------------------------------------------------

PRODUCTS = {"NN  H W   ": "rsi,rio->rso", "NT  dZ Wᵀ ": "rso,rio->rsi", "TN  Hᵀ dZ ": "rsi,rso->rio"}


def one_layer(restarts: int, samples: int, width: int, rounds: int) -> None:
    import torch

    keys = jax.random.split(jax.random.key(0), 3)
    h = jax.random.normal(keys[0], (restarts, samples, width))
    w = jax.random.normal(keys[1], (restarts, width, width)) / np.sqrt(width)
    dz = jax.random.normal(keys[2], (restarts, samples, width))
    operands = {"rsi,rio->rso": (h, w), "rso,rio->rsi": (dz, w), "rsi,rso->rio": (h, dz)}
    th, tw = torch.from_numpy(np.array(h)), torch.from_numpy(np.array(w))
    td = torch.from_numpy(np.array(dz))
    contenders = {"torch.bmm NN": lambda: torch.bmm(th, tw), "torch.bmm NT": lambda: torch.bmm(td, tw.mT),
                  "torch.bmm TN": lambda: torch.bmm(th.mT, td)}
    notes = {name: f"{torch.get_num_threads()} threads" for name in contenders}
    for label, spec in PRODUCTS.items():
        a, b = operands[spec]
        for backend, options in (("default", {}), ("eigen", EIGEN)):
            compiled = jax.jit(lambda a, b, spec=spec: jnp.einsum(spec, a, b)).lower(a, b).compile(
                compiler_options=options)
            name = f"{label} {backend}"
            contenders[name] = lambda c=compiled, a=a, b=b: c(a, b).block_until_ready()
            notes[name] = kernels(compiled)
    print_rows(f"one layer: [{restarts}, {samples}, {width}] × [{restarts}, {width}, {width}], float32; "
               f"reference torch.bmm", interleaved(contenders, rounds, "torch.bmm NN"), notes)


# --- the whole net -------------------------------------------------------------------------


def _net(layers, x, dot, transposed_weights=False):
    """The deep_net forward pass (sigmoid, linear output) with ``dot(h, w)`` for h @ W."""
    h = x
    for layer in layers[:-1]:
        h = jax.nn.sigmoid(dot(h, layer["w"], transposed_weights) + layer["b"])
    return (dot(h, layers[-1]["w"], transposed_weights) + layers[-1]["b"])[..., 0]


def _matmul(h, w, transposed):
    return h @ (w.T if transposed else w)


def _preferred(h, w, transposed):
    dims = (((1,), (1 if transposed else 0,)), ((), ()))
    return jax.lax.dot_general(h, w, dims, preferred_element_type=jnp.float32)


def _features_major(layers, x):
    """Activations stored [width, samples]: each layer is Wᵀ hᵀ, i.e. (Wᵀ Hᵀ)ᵀ."""
    h = x.T
    for layer in layers[:-1]:
        h = jax.nn.sigmoid(layer["w"].T @ h + layer["b"][:, None])
    return (layers[-1]["w"].T @ h + layers[-1]["b"][:, None])[0]


def net_variants(instance, restarts: int) -> tuple[dict, dict]:
    """Losses of one restart (same net, other layouts) and the points they take, batched over restarts."""
    x, y = instance.data["x"], instance.data["y"]
    layers = jax.vmap(instance.init)(jax.random.split(jax.random.key(1), restarts))
    transposed = [{"w": jnp.swapaxes(layer["w"], -1, -2), "b": layer["b"]} for layer in layers]

    def mse(out):
        residual = out - y
        return 0.5 * jnp.mean(residual * residual)

    losses = {
        "suite deep_net (x @ W)": (instance.loss, layers, False),
        "features-major (Wᵀ xᵀ)ᵀ": (lambda p: mse(_features_major(p, x)), layers, False),
        "weights stored transposed (x @ Vᵀ)": (lambda p: mse(_net(p, x, _matmul, True)), transposed, False),
        "dot_general preferred float32": (lambda p: mse(_net(p, x, _preferred)), layers, False),
        # x broadcast per restart: the input layer becomes a batched dot like the others.
        "input layer batched per restart": (lambda p, xb: mse(_net(p, xb, _matmul)), layers, True),
    }
    return losses, {"x": x}


def whole_net(instance, restarts: int, rounds: int, with_options: bool) -> None:
    import torch

    losses, data = net_variants(instance, restarts)
    x_batched = jnp.broadcast_to(data["x"], (restarts, *data["x"].shape))
    reference = "suite deep_net (x @ W)"
    for kind in ("forward", "value_and_grad"):
        contenders, notes, values = {}, {}, {}

        def add(name, fn, args, options=None, batched=(0,)):
            mapped = jax.vmap(fn if kind == "forward" else jax.value_and_grad(fn), in_axes=batched)
            compiled = jax.jit(mapped).lower(*args).compile(compiler_options=options or {})
            contenders[name] = lambda: jax.block_until_ready(compiled(*args))
            out = compiled(*args)
            values[name] = np.asarray(out if kind == "forward" else out[0])
            notes[name] = kernels(compiled)

        for name, (fn, params, needs_x) in losses.items():
            if needs_x:
                add(name, fn, (params, x_batched), batched=(0, 0))
            else:
                add(name, fn, (params,))
        suite_loss, params, _ = losses[reference]
        if restarts % 2 == 0:
            # As in the suite's program: vmap over settings (2) of vmap over restarts (half each).
            half = jax.tree.map(lambda a: a.reshape(2, restarts // 2, *a.shape[1:]), params)
            nested = jax.vmap(jax.vmap(suite_loss if kind == "forward" else jax.value_and_grad(suite_loss)))
            compiled_nested = jax.jit(nested).lower(half).compile()
            name = "suite, vmap over 2 settings"
            contenders[name] = lambda: jax.block_until_ready(compiled_nested(half))
            out = compiled_nested(half)
            values[name] = np.asarray(out if kind == "forward" else out[0]).reshape(-1)
            notes[name] = kernels(compiled_nested)
        if with_options:
            for option, flags in OPTIONS.items():
                add(f"suite, {option}", suite_loss, (params,), flags)
        tloss, tparams = _torch_net(instance, params)

        def torch_run():
            if kind == "forward":
                with torch.no_grad():
                    return tloss()
            for p in tparams:
                p.grad = None
            value = tloss()
            value.sum().backward()
            return value

        contenders["torch eager (bmm)"] = torch_run
        values["torch eager (bmm)"] = torch_run().detach().numpy()
        notes["torch eager (bmm)"] = f"{torch.get_num_threads()} threads"
        ratios = interleaved(contenders, rounds, reference)
        for name in notes:
            notes[name] = f"max |Δf| {np.max(np.abs(values[name] - values[reference])):.1e}  {notes[name]}"
        print_rows(f"whole net, {kind}, vmap over {restarts} restarts; reference: the suite's loss", ratios, notes)


def _torch_net(instance, layers):
    import torch

    x = torch.from_numpy(np.array(instance.data["x"]))
    y = torch.from_numpy(np.array(instance.data["y"]))
    weights = [torch.from_numpy(np.array(layer["w"])).requires_grad_(True) for layer in layers]
    biases = [torch.from_numpy(np.array(layer["b"]))[:, None, :].requires_grad_(True) for layer in layers]
    inputs = x.expand(weights[0].shape[0], *x.shape)

    def loss():
        h = inputs
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            h = torch.sigmoid(torch.baddbmm(b, h, w))
        out = torch.baddbmm(biases[-1], h, weights[-1])[..., 0]
        return 0.5 * ((out - y) ** 2).mean(-1)

    return loss, weights + biases


# --- Adam steps: the suite against PyTorch eager -------------------------------------------


def adam_steps(values: dict, restarts: int, steps: int, rounds: int) -> None:
    from speed_contenders import torch_contender, torch_net
    from suite_cell import suite_cell

    suite_run, draw = suite_cell("deep_net", values, restarts, steps)
    starts = jax.vmap(lambda i: draw.instance.init(jax.random.fold_in(draw.init, i)))(jnp.arange(restarts))
    flat = [np.asarray(layer["w"]) for layer in starts] + [np.asarray(layer["b"]) for layer in starts]
    torch_run = torch_contender(flat, torch_net(draw.instance.data, values["depth"]), steps, compiled=False)
    finals = {}

    def timed(name, run):
        def go():
            seconds, finals[name] = run()
            return seconds
        return go

    names = ("suite (runner)", "torch eager (bmm, fused Adam)")
    contenders = {names[0]: timed(names[0], suite_run), names[1]: timed(names[1], torch_run)}
    ratios = interleaved(contenders, rounds, names[1], self_timed=True)
    notes = {name: f"median final loss {finals[name]:.6g}" for name in contenders}
    print_rows(f"Adam, {steps} steps × {restarts} restarts; reference: torch eager (bar: suite ≥ 0.8×)",
               ratios, notes)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--restarts", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="Adam steps of the last table")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", nargs="+", default=["layer", "net", "options", "adam"],
                        choices=["layer", "net", "options", "adam"])
    parser.add_argument("--small", action="store_true", help="tiny sizes, for a quick check")
    args = parser.parse_args(argv)
    if args.small:
        args.depth, args.width, args.samples, args.restarts, args.steps, args.rounds = 3, 8, 16, 4, 2, 1
    import torch

    torch.set_flush_denormal(True)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; depth {args.depth}, width {args.width}, "
          f"{args.samples} samples, {args.restarts} restarts; {args.rounds} interleaved rounds. "
          f"'× ref': reference seconds / own seconds, median over rounds (min–max).")
    if "layer" in args.parts:
        one_layer(args.restarts, args.samples, args.width, args.rounds)
    values = {"depth": args.depth, "width": args.width, "samples": args.samples}
    if "net" in args.parts or "options" in args.parts:
        spec = load_registry().landscape("deep_net")
        instance = spec.build(spec.defaults | values, key=jax.random.key(0))
        whole_net(instance, args.restarts, args.rounds, "options" in args.parts)
    if "adam" in args.parts:
        adam_steps(values, args.restarts, args.steps, args.rounds)


if __name__ == "__main__":
    main()
