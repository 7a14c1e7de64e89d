"""The runner: what the vmapped program computes, and what it must not depend on."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import optax
import pandas as pd

import suite.api
from suite import config as cfg
from suite import batching, compiler, plan, runner, streams
from suite.metrics import target_label
from suite.tables import EXECUTION_COLUMNS
from conftest import count_compiles, small_config


def _run(config, registry, path):
    """Runs ``config`` into ``path`` through the API, resolved against ``registry``: its cell counts and tables."""
    run = suite.api.run_config(config, out=path, progress=False, registry=registry)
    return run.counts, run.tables


def _draw(config, registry):
    """The first landscape setting of ``config`` drawn under its seed, and its optimizer settings."""
    landscapes, optimizers = plan.resolve(config, registry)
    return streams.draw(landscapes[0], config.seed), optimizers


def _group(config, registry, cache=None):
    """``config``'s first landscape with every optimizer setting as one program (the runner's unit)."""
    draw, optimizers = _draw(config, registry)
    result = runner.run_group(draw, optimizers, config, cache=cache or compiler.ProgramCache())
    return draw, optimizers, result


def test_vmapped_program_equals_a_plain_loop_over_restarts(registry, tmp_path):
    config = small_config(steps=30)
    restarts = _run(config, registry, tmp_path / "run")[1]["restarts"]
    draw, settings = _draw(config, registry)  # the instance and start stream the run drew
    landscape = draw.instance
    targets = np.asarray(config.targets)
    hit_columns = [f"step_to_target_{target_label(t)}" for t in config.targets]

    @jax.jit
    def step(x, state, lr):
        value, grad = jax.value_and_grad(landscape.loss)(x)
        updates, state = optax.adam(lr).update(grad, state, x)
        return value, optax.apply_updates(x, updates), state

    for setting in settings:
        lr = setting.values["learning_rate"]
        rows = restarts[restarts["p_opt_learning_rate"] == lr].set_index("restart").sort_index()
        assert list(rows.index) == list(range(config.restarts))
        hits = rows[hit_columns].fillna(-1).to_numpy(np.int64)  # "never" is missing in the table
        for i in range(config.restarts):
            x = landscape.init(jax.random.fold_in(draw.init, i))
            state = optax.adam(lr).init(x)
            losses = []
            for _ in range(config.steps + 1):
                value, x, state = step(x, state, lr)
                losses.append(float(value))
            losses = np.array(losses)
            np.testing.assert_allclose(rows.loc[i, "final_loss"], losses[-1], rtol=1e-4)
            np.testing.assert_allclose(rows.loc[i, "best_loss"], losses.min(), rtol=1e-4)
            reached = (losses[:, None] <= targets[None, :])
            first = np.where(reached.any(0), reached.argmax(0), -1)
            np.testing.assert_array_equal(hits[i], first)


def test_results_do_not_depend_on_chunk_size_and_on_batch_size_only_by_rounding(registry, tmp_path):
    config = small_config(restarts=7, steps=60)
    _, whole = _run(config, registry, tmp_path / "whole")
    _, chunked = _run(dataclasses.replace(config, chunk=7), registry, tmp_path / "chunked")
    for name in ("restarts", "curves"):  # chunks change no bit
        pd.testing.assert_frame_equal(whole[name], chunked[name], check_exact=True)
    # A batch of 3 multiplies by the bowl's rotation with other kernels than a
    # batch of 7: the same numbers to float32 rounding, and every count equal.
    _, split = _run(dataclasses.replace(config, batch=3, chunk=7), registry, tmp_path / "split")
    pd.testing.assert_frame_equal(whole["restarts"], split["restarts"], rtol=1e-5, atol=0)
    pd.testing.assert_frame_equal(whole["curves"], split["curves"], rtol=1e-5, atol=0)
    pd.testing.assert_frame_equal(whole["cells"].drop(columns=list(EXECUTION_COLUMNS)),
                                  split["cells"].drop(columns=list(EXECUTION_COLUMNS)), rtol=1e-5, atol=0)


def test_same_seed_gives_identical_tables_and_another_seed_does_not(registry, tmp_path):
    config = small_config()
    _, first = _run(config, registry, tmp_path / "a")
    _, second = _run(config, registry, tmp_path / "b")
    pd.testing.assert_frame_equal(first["restarts"], second["restarts"], check_exact=True)
    _, other = _run(dataclasses.replace(config, seed=1), registry, tmp_path / "c")
    assert not np.allclose(first["restarts"]["final_loss"], other["restarts"]["final_loss"])


def test_restart_starts_from_the_same_point_for_every_optimizer(registry):
    config = small_config(steps=1, optimizers=[cfg.Component("sgd", {"learning_rate": [0.1]}),
                                               cfg.Component("adam", {"learning_rate": [0.1]})])
    draw, optimizers = _draw(config, registry)
    losses = [runner.run_group(draw, [o], config, cache=compiler.ProgramCache())
              .summary["ckpt_loss"][0, :, 0] for o in optimizers]  # f at step 0
    np.testing.assert_array_equal(losses[0], losses[1])
    assert len(set(losses[0].tolist())) == config.restarts  # restarts differ from each other
    # ... and that point is restart i's start, as the streams define it.
    starts = np.array([float(draw.instance.loss(streams.start(draw, i))) for i in range(config.restarts)])
    np.testing.assert_allclose(losses[0], starts, rtol=1e-5)


def test_a_second_learning_rate_compiles_nothing_new(registry):
    # count_compiles clears JAX's in-memory caches first: the counts do not depend on other tests.
    def bowl(**values):
        return [cfg.Component("bowl", {"dim": [11]} | {k: [v] for k, v in values.items()})]

    cache = compiler.ProgramCache()
    with count_compiles() as compiles:
        adam = cfg.Component("adam", {"learning_rate": [0.01, 0.1]})
        _group(small_config(landscapes=bowl(), optimizers=[adam]), registry, cache)
        first, programs = sum(compiles.values()), cache.compilations
        assert first > 0 and programs > 0
        adam = cfg.Component("adam", {"learning_rate": [0.003, 0.3]})
        _group(small_config(landscapes=bowl(), optimizers=[adam]), registry, cache)
        assert sum(compiles.values()) == first, "a new learning rate recompiled the program"
        # Another landscape instance of the same structure reuses it too.
        _group(small_config(landscapes=bowl(condition=1e3), optimizers=[adam]), registry, cache)
        assert sum(compiles.values()) == first and cache.compilations == programs
        # Wrapper floats are traced too: new noise levels and clip thresholds compile nothing.
        wrapped = cfg.parse_optimizer("adam:learning_rate=0.01,0.1+noise:eta=0.01,0.3+clip:threshold=1.0")
        _group(small_config(landscapes=bowl(), optimizers=[wrapped]), registry, cache)
        second, programs = sum(compiles.values()), cache.compilations
        assert second > first  # wrappers make another program
        wrapped = cfg.parse_optimizer("adam:learning_rate=0.03,0.3+noise:eta=1.0,0.1+clip:threshold=5.0")
        _group(small_config(landscapes=bowl(), optimizers=[wrapped]), registry, cache)
        assert sum(compiles.values()) == second, "a new wrapper value recompiled the program"
        assert cache.compilations == programs
        # A new shape does compile: the counter is live.
        _group(small_config(landscapes=[cfg.Component("bowl", {"dim": [12]})], optimizers=[adam]),
               registry, cache)
        assert sum(compiles.values()) > second and cache.compilations > programs


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
    # The summary the program leaves, before it becomes tables: run_group itself.
    _, _, result = _group(config, registry)
    hit = result.summary["hit"][0]
    assert np.all(hit[:, -1] >= 0)
    np.testing.assert_array_equal(result.summary["steps"][0], hit[:, -1])
    assert np.all(result.summary["loss"][0] <= 1e-3)
    assert result.steps_run < config.steps  # every restart finished: no need to go on
    # Checkpoints after a restart finished hold its final value.
    assert np.all(result.summary["ckpt_loss"][0][:, -1] == result.summary["loss"][0])


def test_memory_budget_splits_restarts_into_batches(registry, monkeypatch, tmp_path):
    monkeypatch.setattr(batching, "memory_budget", lambda device: 40_000)
    config = small_config(restarts=50)
    _, tables = _run(config, registry, tmp_path / "run")
    cells, restarts = tables["cells"], tables["restarts"]
    assert len(cells) == 2 and (cells["batch"] < 50).all()
    # Every restart of both settings, once: the batches add up to the 50.
    assert restarts.groupby("cell_id")["restart"].apply(sorted).tolist() == [list(range(50))] * 2


def test_a_stochastic_landscape_is_scored_on_its_exact_loss(registry, tmp_path):
    # With one-sample mini-batches the batch loss often falls below the full-data
    # minimum f*; recorded losses never may, because the runner scores the exact loss.
    config = small_config(
        landscapes=[cfg.Component("logistic", {"dim": [3], "samples": [32], "batch": [1]})],
        optimizers=[cfg.Component("sgd", {"learning_rate": [0.3]})], restarts=8, steps=200)
    _, tables = _run(config, registry, tmp_path / "run")
    f_opt = float(tables["cells"]["f_opt"].iloc[0])
    landscape = _draw(config, registry)[0].instance  # the instance the run drew
    assert landscape.stochastic and f_opt == float(landscape.f_opt) > 0
    assert (tables["restarts"]["best_loss"] >= f_opt - 1e-6).all()
    batch_losses = jax.vmap(lambda k: landscape.loss(landscape.x_opt, k))(
        jax.random.split(jax.random.key(0), 64))
    assert float(np.min(batch_losses)) < f_opt  # what the optimizer sees can go below f*


def test_instances_are_distinct_draws_that_share_one_program_and_keep_instance_zero(registry, tmp_path):
    base = dict(landscapes=[cfg.Component("logistic", {"dim": [3], "samples": [32]})],
                optimizers=[cfg.Component("adam", {"learning_rate": [0.1]})], restarts=4, steps=20)
    _, one = _run(small_config(**base), registry, tmp_path / "one")
    _, three = _run(small_config(instances=3, **base), registry, tmp_path / "three")
    # Instances are data: the run compiles one program and the other instances reuse it.
    groups = three["cells"].drop_duplicates("group")
    assert len(groups) == 3 and (groups["compile_seconds"] > 0).sum() == 1
    cells = three["cells"].sort_values("instance")
    assert list(cells["instance"]) == [0, 1, 2]
    assert cells["f_opt"].nunique() == 3  # three different data sets
    # Instance 0 is the same cell as in a one-instance run: growing `instances` reuses it.
    first = cells.iloc[0]
    assert first["cell_id"] == one["cells"]["cell_id"].iloc[0]
    assert first["f_opt"] == one["cells"]["f_opt"].iloc[0]
    pd.testing.assert_series_equal(
        three["restarts"].query("instance == 0")["final_loss"].reset_index(drop=True),
        one["restarts"]["final_loss"].reset_index(drop=True), check_exact=True)
