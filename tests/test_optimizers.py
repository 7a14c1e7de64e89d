"""Optimizers beyond the battery: Newton versus saddle-free Newton, L-BFGS, and fair sweeps."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from suite import config as cfg
from suite import plan, streams
from suite.metrics import leaderboard
from conftest import hand_tables, small_config
from test_runner import _run


def _saddle(theta, key=None):
    del key
    x, y = theta
    return x**2 - y**2


@pytest.mark.parametrize("start", [(0.7, 0.3), (-1.5, -0.02), (2.0, 5.0)])
def test_newton_jumps_to_the_saddle_and_saddle_free_newton_away_from_it(registry, start):
    # REFERENCES.md (Dauphin et al. 2014): on f = x² − y² from (x₀, y₀), Newton
    # goes to the saddle (0, 0) and saddle-free Newton to (0, 2y₀).
    theta = jnp.array(start)
    grad = jax.grad(_saddle)(theta)

    def step(name):
        spec = registry.optimizers[name]
        tx = spec.transformation(**(spec.defaults | {"learning_rate": 1.0, "damping": 0.0}))
        updates, _ = tx.update(grad, tx.init(theta), theta, value=_saddle(theta), grad=grad,
                               value_fn=_saddle, key=jax.random.key(0))
        return optax.apply_updates(theta, updates)

    np.testing.assert_allclose(step("newton"), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(step("saddle_free_newton"), [0.0, 2 * start[1]], rtol=1e-6, atol=1e-6)


def test_on_the_saddle_landscape_newton_stalls_where_saddle_free_newton_escapes(registry, tmp_path):
    # Starts spread 0.01 around the strict saddle of ½x² − y²/2 + y⁴/4, measured
    # from its minima (saddle at loss 1/4, minima at 0, y = ±1): Newton converges
    # to the saddle, SFN leaves it.
    config = small_config(landscapes=[cfg.Component("saddle", {"order": [1]})], restarts=16, steps=60,
                          optimizers=[cfg.parse_optimizer("newton:learning_rate=1.0"),
                                      cfg.parse_optimizer("saddle_free_newton:learning_rate=1.0")])
    cells = _run(config, registry, tmp_path)[1]["cells"].set_index("optimizer")
    assert cells.loc["saddle_free_newton", "success_1e-08"] == 1.0
    assert cells.loc["newton", "success_1e-08"] == 0.0
    assert abs(cells.loc["newton", "median_final_loss"] - 0.25) < 1e-6  # at the saddle's value, 1/4


def test_newton_on_too_large_a_landscape_fails_its_cell_in_one_line(registry, tmp_path):
    config = small_config(landscapes=[cfg.Component("bowl", {"dim": [5]})],
                          optimizers=[cfg.parse_optimizer("newton:learning_rate=1.0:max_params=4"),
                                      cfg.parse_optimizer("sgd:learning_rate=0.1")])
    cells = _run(config, registry, tmp_path)[1]["cells"].set_index("optimizer")
    assert cells.loc["newton", "status"] == "failed"
    assert "builds a dense Hessian: 5 parameters exceed max_params=4" in cells.loc["newton", "error"]
    assert cells.loc["sgd", "status"] == "ok"  # the rest of the run is kept


def test_lbfgs_line_search_runs_on_a_mini_batch_landscape(registry, tmp_path):
    # The line search calls value_fn, which must see the step's mini-batch and
    # accept the optimizer's key: the runner passes both. (L-BFGS is not made
    # for noisy gradients: some restarts stall, which is the finding, not a bug.)
    config = small_config(landscapes=[cfg.Component("logistic", {"dim": [4], "samples": [64], "batch": [16]})],
                          optimizers=[cfg.parse_optimizer("lbfgs:learning_rate=1.0")], steps=20)
    restarts = _run(config, registry, tmp_path)[1]["restarts"]
    start = _run(dataclasses.replace(config, steps=1), registry, tmp_path / "start")[1]["restarts"]
    assert np.isfinite(restarts["final_loss"]).all()
    assert restarts["final_loss"].median() < 0.8 * start["final_loss"].median()


def test_lbfgs_in_the_runner_follows_optax_lbfgs(registry, tmp_path):
    # The runner's extra arguments (value, grad, value_fn, key) drive optax's
    # own L-BFGS exactly as a hand-written loop does.
    config = small_config(landscapes=[cfg.Component("bowl", {"dim": [10], "condition": [100.0]})],
                          optimizers=[cfg.parse_optimizer("lbfgs:learning_rate=1.0")], steps=30, restarts=4)
    final = _run(config, registry, tmp_path)[1]["restarts"].sort_values("restart")["final_loss"]
    draw = streams.draw(plan.resolve(config, registry)[0][0], config.seed)  # the instance the run drew
    instance = draw.instance
    tx = optax.lbfgs(1.0)

    def run(x):
        def step(carry, _):
            x, state = carry
            value, grad = jax.value_and_grad(instance.loss)(x)
            updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=instance.loss)
            return (optax.apply_updates(x, updates), state), None
        return instance.loss(jax.lax.scan(step, (x, tx.init(x)), None, length=config.steps)[0][0])

    starts = jnp.stack([instance.init(jax.random.fold_in(draw.init, i)) for i in range(config.restarts)])
    expected = jax.jit(jax.vmap(run))(starts)
    assert float(expected.max()) < 1e-5  # L-BFGS on a 10-dimensional quadratic: nearly solved
    np.testing.assert_allclose(final.to_numpy(), expected, rtol=0.05, atol=1e-9)


def test_every_optimizer_sweeps_exactly_its_declared_grid(registry):
    # The fair-comparison rule: with nothing given, an optimizer runs its own
    # declared sweep, the same on every landscape, and nothing beyond it.
    for name, spec in registry.optimizers.items():
        _, settings = plan.resolve(small_config(optimizers=[cfg.Component(name)]), registry)
        swept = {k: sorted({s.values[k] for s in settings}) for k in spec.sweep}
        assert swept == {k: sorted(v) for k, v in spec.sweep.items()}, name
        assert len(settings) == int(np.prod([len(v) for v in spec.sweep.values()])), name


def test_leaderboard_ranks_entries_at_their_best_setting_and_flags_the_sweep_edge():
    cells, restarts = hand_tables([
        {"optimizer": "adam", "entry": "adam", "p_opt_learning_rate": lr, "success": s}
        for lr, s in ((0.001, 0.2), (0.01, 0.9), (0.1, 0.5))
    ] + [
        {"optimizer": "adam", "entry": "adam+stale(tau=8)", "p_opt_learning_rate": lr, "success": s}
        for lr, s in ((0.001, 0.6), (0.01, 0.4), (0.1, 0.1))
    ])
    board = leaderboard(cells, restarts).set_index("entry")
    # Staleness is a condition, not a knob: each entry is ranked on its own.
    assert list(board.index) == ["adam", "adam+stale(tau=8)"]
    assert board.loc["adam", "p_opt_learning_rate"] == 0.01 and board.loc["adam", "at_edge"] == ""
    assert board.loc["adam+stale(tau=8)", "p_opt_learning_rate"] == 0.001
    assert board.loc["adam+stale(tau=8)", "at_edge"] == "learning_rate"
