"""The runner: what the vmapped program computes, and what it must not depend on."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import optax
import pandas as pd

from suite import config as cfg
from suite import runner
from suite.config import Cell
from suite.results import RunDir
from conftest import small_config



def _run(config, registry, path, cache=None):
    landscapes, optimizers = cfg.resolve(config, registry)
    config = cfg.resolved_config(config, landscapes, optimizers)
    run_dir = RunDir(path)
    run_dir.create(cfg.to_toml(config))
    counts = runner.execute(config, [Cell(l, o) for l in landscapes for o in optimizers],
                            run_dir, cache=cache)
    return counts, run_dir.gather()


def _group(config, registry, cache=None):
    landscapes, optimizers = cfg.resolve(config, registry)
    cell = landscapes[0]
    instance = runner.build_instance(cell, config.seed)
    result = runner.run_group(instance, optimizers, config, runner.streams(config.seed, cell),
                              cache=cache or runner.ProgramCache())
    return cell, instance, optimizers, result


def test_vmapped_program_equals_a_plain_loop_over_restarts(registry):
    config = small_config(steps=30)
    cell, landscape, settings, result = _group(config, registry)
    _, init_stream, _ = runner.streams(config.seed, cell)
    targets = np.asarray(config.targets)

    @jax.jit
    def step(x, state, lr):
        value, grad = jax.value_and_grad(landscape.loss)(x)
        updates, state = optax.adam(lr).update(grad, state, x)
        return value, optax.apply_updates(x, updates), state

    for h, setting in enumerate(settings):
        lr = setting.values["learning_rate"]
        for i in range(config.restarts):
            x = landscape.init(jax.random.fold_in(init_stream, i))
            state = optax.adam(lr).init(x)
            losses = []
            for _ in range(config.steps + 1):
                value, x, state = step(x, state, lr)
                losses.append(float(value))
            losses = np.array(losses)
            np.testing.assert_allclose(result.summary["loss"][h, i], losses[-1], rtol=1e-4)
            np.testing.assert_allclose(result.summary["best"][h, i], losses.min(), rtol=1e-4)
            reached = (losses[:, None] <= targets[None, :])
            first = np.where(reached.any(0), reached.argmax(0), -1)
            np.testing.assert_array_equal(result.summary["hit"][h, i], first)


def test_results_do_not_depend_on_batch_or_chunk_size(registry, tmp_path):
    config = small_config(restarts=7, steps=60)
    _, whole = _run(config, registry, tmp_path / "whole")
    _, split = _run(dataclasses.replace(config, batch=3, chunk=7), registry, tmp_path / "split")
    pd.testing.assert_frame_equal(whole["restarts"], split["restarts"])
    pd.testing.assert_frame_equal(whole["curves"], split["curves"])
    pd.testing.assert_frame_equal(whole["cells"].drop(columns=list(runner.EXECUTION_COLUMNS)),
                                  split["cells"].drop(columns=list(runner.EXECUTION_COLUMNS)))


def test_same_seed_gives_identical_tables_and_another_seed_does_not(registry, tmp_path):
    config = small_config()
    _, first = _run(config, registry, tmp_path / "a")
    _, second = _run(config, registry, tmp_path / "b")
    pd.testing.assert_frame_equal(first["restarts"], second["restarts"])
    _, other = _run(dataclasses.replace(config, seed=1), registry, tmp_path / "c")
    assert not np.allclose(first["restarts"]["final_loss"], other["restarts"]["final_loss"])


def test_restart_starts_from_the_same_point_for_every_optimizer(registry):
    config = small_config(steps=1, optimizers=[cfg.Component("sgd", {"learning_rate": [0.1]}),
                                               cfg.Component("adam", {"learning_rate": [0.1]})])
    landscapes, optimizers = cfg.resolve(config, registry)
    instance = runner.build_instance(landscapes[0], config.seed)
    streams = runner.streams(config.seed, landscapes[0])
    losses = [runner.run_group(instance, [o], config, streams, cache=runner.ProgramCache())
              .summary["ckpt_loss"][0, :, 0] for o in optimizers]  # f at step 0
    np.testing.assert_array_equal(losses[0], losses[1])
    assert len(set(losses[0].tolist())) == config.restarts  # restarts differ from each other


class _CompileCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


def test_a_second_learning_rate_compiles_nothing_new(registry):
    # Dimensions no other test uses, so JAX's own in-memory cache is cold.
    def bowl(**values):
        return [cfg.Component("bowl", {"dim": [11]} | {k: [v] for k, v in values.items()})]

    counter = _CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    try:
        cache = runner.ProgramCache()
        adam = cfg.Component("adam", {"learning_rate": [0.01, 0.1]})
        _group(small_config(landscapes=bowl(), optimizers=[adam]), registry, cache)
        first = counter.count
        assert first > 0
        adam = cfg.Component("adam", {"learning_rate": [0.003, 0.3]})
        _group(small_config(landscapes=bowl(), optimizers=[adam]), registry, cache)
        assert counter.count == first, "a new learning rate recompiled the program"
        # Another landscape instance of the same structure reuses it too.
        _group(small_config(landscapes=bowl(condition=1e3), optimizers=[adam]), registry, cache)
        assert counter.count == first
        # Wrapper floats are traced too: new noise levels and clip thresholds compile nothing.
        wrapped = cfg.parse_optimizer("adam:learning_rate=0.01,0.1+noise:eta=0.01,0.3+clip:threshold=1.0")
        _group(small_config(landscapes=bowl(), optimizers=[wrapped]), registry, cache)
        second = counter.count
        assert second > first  # wrappers make another program
        wrapped = cfg.parse_optimizer("adam:learning_rate=0.03,0.3+noise:eta=1.0,0.1+clip:threshold=5.0")
        _group(small_config(landscapes=bowl(), optimizers=[wrapped]), registry, cache)
        assert counter.count == second, "a new wrapper value recompiled the program"
        # A new shape does compile: the counter is live.
        _group(small_config(landscapes=[cfg.Component("bowl", {"dim": [12]})], optimizers=[adam]),
               registry, cache)
        assert counter.count > first
    finally:
        jax.monitoring.unregister_event_duration_listener(counter)


def test_divergence_is_recorded_and_nan_never_counts_as_best(registry, tmp_path):
    config = small_config(optimizers=[cfg.Component("sgd", {"learning_rate": [10.0, 0.01]})])
    _, tables = _run(config, registry, tmp_path / "run")
    rows = tables["restarts"]
    blown = rows[rows["p_opt_learning_rate"] == 10.0]
    assert blown["diverged_step"].notna().all()
    assert np.all(~np.isfinite(blown["final_loss"]))
    assert np.all(np.isfinite(blown["best_loss"]))  # the finite start is the best seen
    assert blown["steps"].equals(blown["diverged_step"].astype("int64"))
    calm = rows[rows["p_opt_learning_rate"] == 0.01]
    assert calm["diverged_step"].isna().all()
    cells = tables["cells"].set_index("p_opt_learning_rate")
    assert cells.loc[10.0, "divergence_rate"] == 1.0
    assert cells.loc[0.01, "divergence_rate"] == 0.0


def test_in_fixed_target_mode_a_restart_stops_at_the_last_target_and_the_run_stops_early(registry):
    config = small_config(steps=5000, targets=(1.0, 1e-3), stop_at_target=True,
                          optimizers=[cfg.Component("momentum", {"learning_rate": [0.05]})])
    _, _, _, result = _group(config, registry)
    hit = result.summary["hit"][0]
    assert np.all(hit[:, -1] >= 0)
    np.testing.assert_array_equal(result.summary["steps"][0], hit[:, -1])
    assert np.all(result.summary["loss"][0] <= 1e-3)
    assert result.steps_run < config.steps  # every restart finished: no need to go on
    # Checkpoints after a restart finished hold its final value.
    assert np.all(result.summary["ckpt_loss"][0][:, -1] == result.summary["loss"][0])


def test_memory_budget_splits_restarts_into_batches(registry, monkeypatch):
    monkeypatch.setattr(runner, "memory_budget", lambda device: 40_000)
    config = small_config(restarts=50)
    _, _, _, result = _group(config, registry)
    assert result.batch < 50
    assert result.summary["loss"].shape == (2, 50)


def test_a_stochastic_landscape_is_scored_on_its_exact_loss(registry, tmp_path):
    # With one-sample mini-batches the batch loss often falls below the full-data
    # minimum f*; recorded losses never may, because the runner scores the exact loss.
    config = small_config(
        landscapes=[cfg.Component("logistic", {"dim": [3], "samples": [32], "batch": [1]})],
        optimizers=[cfg.Component("sgd", {"learning_rate": [0.3]})], restarts=8, steps=200)
    _, tables = _run(config, registry, tmp_path / "run")
    f_opt = float(tables["cells"]["f_opt"].iloc[0])
    landscape = runner.build_instance(cfg.resolve(config, registry)[0][0], config.seed)
    assert landscape.stochastic and f_opt == float(landscape.f_opt) > 0
    assert (tables["restarts"]["best_loss"] >= f_opt - 1e-6).all()
    batch_losses = jax.vmap(lambda k: landscape.loss(landscape.x_opt, k))(
        jax.random.split(jax.random.key(0), 64))
    assert float(np.min(batch_losses)) < f_opt  # what the optimizer sees can go below f*


def test_instances_are_distinct_draws_that_share_one_program_and_keep_instance_zero(registry, tmp_path):
    base = dict(landscapes=[cfg.Component("logistic", {"dim": [3], "samples": [32]})],
                optimizers=[cfg.Component("adam", {"learning_rate": [0.1]})], restarts=4, steps=20)
    cache = runner.ProgramCache()
    _, one = _run(small_config(**base), registry, tmp_path / "one", cache)
    compiled = cache.compilations
    _, three = _run(small_config(instances=3, **base), registry, tmp_path / "three", cache)
    assert cache.compilations == compiled  # instances are data: no new program
    cells = three["cells"].sort_values("instance")
    assert list(cells["instance"]) == [0, 1, 2]
    assert cells["f_opt"].nunique() == 3  # three different data sets
    # Instance 0 is the same cell as in a one-instance run: growing `instances` reuses it.
    first = cells.iloc[0]
    assert first["cell_id"] == one["cells"]["cell_id"].iloc[0]
    assert first["f_opt"] == one["cells"]["f_opt"].iloc[0]
    pd.testing.assert_series_equal(
        three["restarts"].query("instance == 0")["final_loss"].reset_index(drop=True),
        one["restarts"]["final_loss"].reset_index(drop=True))
