"""The compiled step loop: the gradient once per step, chunks of any length, and where a restart ends."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from suite import batching, compiler, plan, program, runner, streams
from suite import config as cfg
from conftest import small_config

ROOT = Path(__file__).resolve().parents[1]

# Small instances of every kind of landscape the step loop meets: elementwise
# with sines, a rotated quadratic, matrix products, a sphere constraint, and
# mini-batches (a stochastic loss).
ADAM = ("adam", {"learning_rate": [0.01, 0.1]})
CASES = [
    ("rastrigin", {"dim": [5]}, ADAM),
    ("rastrigin_rotated", {"dim": [4]}, ADAM),
    ("bowl", {"dim": [4], "condition": [10.0]}, ("sgd", {"learning_rate": [0.01]})),
    ("deep_net", {"depth": [3], "width": [6], "samples": [16]}, ADAM),
    ("pspin", {"n": [8]}, ADAM),
    ("logistic", {"dim": [3], "samples": [32], "batch": [8]}, ADAM),
    ("bowl", {"dim": [3], "condition": [10.0]}, ("lbfgs", {})),
]


def _setup(registry, landscape, params, optimizer, **overrides):
    config = small_config(**{"landscapes": [cfg.Component(landscape, params)],
                             "optimizers": [cfg.Component(*optimizer)], "restarts": 4, "steps": 10, **overrides})
    landscapes, settings = plan.resolve(config, registry)
    draw = streams.draw(landscapes[0], config.seed)
    hparams = {n: jnp.asarray([s.traced[n] for s in settings], jnp.float32) for n in settings[0].traced}
    return config, draw, settings, hparams


def _run(static, config, draw, hparams, bounds):
    """Runs the program over chunks [bounds[i], bounds[i + 1]); the final states on the host."""
    ctx = runner.context(config, draw.instance.f_opt)
    ids = jnp.arange(config.restarts, dtype=jnp.int32)
    states = jax.jit(program.init, static_argnums=0)(static, draw.instance, hparams, ids, draw.init, draw.noise, ctx)
    chunk = jax.jit(program.run_chunk, static_argnums=0)
    for t0, t1 in zip(bounds, bounds[1:]):
        states, _ = chunk(static, draw.instance, hparams, states, jnp.int32(t0), jnp.int32(t1), ctx)
    return jax.tree.map(np.asarray, states._replace(key=jax.random.key_data(states.key)))


def _assert_same_bits(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _compare_paths(registry, landscape, params, optimizer, exact: bool):
    config, draw, settings, hparams = _setup(registry, landscape, params, optimizer)
    plain = runner.program_static(settings[0])  # the gradient fused into its consumers
    once = runner.program_static(settings[0], grad_once=True)
    assert not plain.grad_once and once.grad_once
    end = config.steps + 1
    reference = _run(plain, config, draw, hparams, [0, end])
    # Chunk lengths change no bit, whatever the CPU; nor does a length fixed at
    # compile time (accelerators), whose last chunk runs past T and moves nothing.
    whole = _run(once, config, draw, hparams, [0, end])
    _assert_same_bits(_run(once, config, draw, hparams, [0, 1, 2, 7, end]), whole)
    fixed = _run(dataclasses.replace(once, chunk=3), config, draw, hparams, list(range(0, end + 3, 3)))
    _assert_same_bits((fixed.x, fixed.summary), (whole.x, whole.summary))  # the optimizer's state is not observed
    materialised = _run(once, config, draw, hparams, [0, end])
    if exact:
        _assert_same_bits(materialised, reference)
    else:
        for a, b in zip(jax.tree.leaves(materialised), jax.tree.leaves(reference), strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("landscape,params,optimizer", CASES, ids=[f"{c[0]}-{c[2][0]}" for c in CASES])
def test_gradient_once_and_chunk_lengths_change_nothing_but_fma_rounding(registry, landscape, params, optimizer):
    # On a CPU with FMA, LLVM contracts the optimizer's multiply-adds
    # differently around a gradient it loads and one it computes in place: the
    # same numbers to float32 rounding (bit for bit in the test below).
    _compare_paths(registry, landscape, params, optimizer, exact=False)


def test_gradient_once_changes_no_bit_without_fma():
    # Without FMA instructions (XLA's SSE4.2 code) there is no contraction to
    # differ: materialising the gradient changes no bit of any state.
    code = ("import sys; sys.path.insert(0, 'tests'); import test_program_steps as t; "
            "from suite.registry import load_registry, make_plugin_manager; "
            "[t._compare_paths(load_registry(make_plugin_manager()), *c, exact=True) for c in t.CASES]; print('ok')")
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_max_isa=SSE4_2", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_a_restart_ends_at_x_T_and_a_frozen_one_one_update_after_its_last_evaluation(registry):
    # Fixed-target mode on a bowl with a loose last target: some restarts freeze early.
    config, draw, settings, hparams = _setup(
        registry, "bowl", {"dim": [3], "condition": [10.0]}, ("adam", {"learning_rate": [0.3]}),
        targets=(30.0, 3.0), stop_at_target=True, restarts=6, steps=12)
    states = _run(runner.program_static(settings[0]), config, draw, hparams, [0, 4, config.steps + 1])
    landscape, tx = draw.instance, optax.adam(0.3)
    frozen = 0
    for i in range(config.restarts):  # a plain loop: x_0, x_1, ... and the step each restart stops at
        x = landscape.init(jax.random.fold_in(draw.init, i))
        state, points, stop = tx.init(x), [x], None
        for t in range(config.steps + 1):
            value, grad = jax.value_and_grad(landscape.loss)(x)
            updates, state = tx.update(grad, state, x)
            x = optax.apply_updates(x, updates)
            points.append(x)
            if stop is None and value - landscape.f_opt <= 3.0:
                stop = t
        end = config.steps if stop is None else stop + 1  # x_T, or one update after the last evaluation
        frozen += stop is not None and stop < config.steps - 1
        np.testing.assert_allclose(states.x[0, i], points[end], rtol=1e-4, atol=1e-6)
        for other in (end - 1, end + 1):  # and not a neighbour: the tolerance tells them apart
            assert np.abs(states.x[0, i] - points[other]).max() > 1e-2
    assert 0 < frozen < config.restarts  # both kinds of restart were checked


def test_chunks_grow_to_about_a_second_and_never_pass_the_last_step():
    chunks = batching.Chunks(steps=99_999)
    sizes, t0 = [], 0
    while t0 < chunks.end:
        t1 = chunks.next(t0)
        sizes.append(t1 - t0)
        chunks.took(t1 - t0, (t1 - t0) * 1e-4)  # 0.1 ms a step: 10,000 steps a second
        t0 = t1
    assert sizes[:6] == [1, 8, 64, 512, 4096, 10_000]  # ×8 at most, then a second's worth
    assert t0 == 100_000 and sum(sizes) == 100_000  # steps 0..T, each once
    slow = batching.Chunks(steps=50)
    slow.took(1, 3.0)  # one step takes 3 s: one step a chunk, never less
    assert slow.next(0) == 1
    agreed = batching.Chunks(steps=99, timed=False)  # processes of one run: by count, never by time
    agreed.took(5, 100.0)
    assert [agreed.next(0), agreed.next(95)] == [5, 100]
    fixed = batching.Chunks(steps=50, fixed=7)
    fixed.took(7, 100.0)
    assert [fixed.next(0), fixed.next(49)] == [7, 51]


def test_the_chunk_length_is_not_part_of_the_compiled_program(registry, tmp_path):
    # Two chunk policies, one compilation of the step loop each run would share.
    config = small_config(steps=30)
    draw, settings = streams.draw(plan.resolve(config, registry)[0][0], config.seed), plan.resolve(config, registry)[1]
    cache = compiler.ProgramCache()
    runner.run_group(draw, settings, config, cache=cache)
    before = cache.compilations
    runner.run_group(draw, settings, dataclasses.replace(config, chunk=3), cache=cache)
    assert cache.compilations == before


def test_the_gradient_is_materialised_only_where_xla_would_recompute_it(registry):
    # Elementwise gradients (Rastrigin's, the saddle's) are recomputed in each
    # consumer; a matrix product's is written to memory by the dot anyway.
    found = {}
    for name, params in [("rastrigin", {"dim": [4]}), ("saddle", {}), ("bowl", {"dim": [3]}),
                         ("rastrigin_rotated", {"dim": [3]}), ("deep_net", {"depth": [2], "width": [4], "samples": [8]})]:
        config = small_config(landscapes=[cfg.Component(name, params)])
        instance = streams.draw(plan.resolve(config, registry)[0][0], 0).instance
        found[name] = program.elementwise_gradient(instance, instance.init(jax.random.key(0)))
    assert found == {"rastrigin": True, "saddle": True, "bowl": False, "rastrigin_rotated": False, "deep_net": False}


class _Accelerator:
    """The CPU device under another platform's name: the runner's accelerator path, run here."""

    def __init__(self, device):
        self._device = device
        self.platform = "gpu"

    def __getattr__(self, name):
        return getattr(self._device, name)

    def memory_stats(self):
        return {"bytes_limit": 1 << 30, "bytes_in_use": 0}


def test_accelerators_run_a_compiled_chunk_length_and_give_the_same_results(registry):
    # No gradient materialised and a fixed length per chunk (XLA:GPU would sync
    # on every step of an unknown trip count); 61 steps in chunks of 4 overshoot T.
    config = small_config(landscapes=[cfg.Component("rastrigin", {"dim": [4]})], steps=60)
    draw, settings = streams.draw(plan.resolve(config, registry)[0][0], config.seed), plan.resolve(config, registry)[1]
    here = runner.run_group(draw, settings, config, cache=compiler.ProgramCache())
    cache = compiler.ProgramCache()
    there = runner.run_group(draw, settings, dataclasses.replace(config, chunk=4), cache=cache,
                             device=_Accelerator(jax.devices()[0]))
    assert there.steps_run == config.steps  # counted to T, not to the chunk's overshoot
    for name, value in here.summary.items():
        np.testing.assert_allclose(there.summary[name], value, rtol=1e-5, err_msg=name)
    (static, *_), = cache._programs  # one program: a fixed chunk of 4, no materialised gradient
    assert (static.chunk, static.grad_once) == (4, False)
