"""Wrappers: stale gradients, annealed noise, clipping, penalties; chained from flags and configs."""

from __future__ import annotations

import dataclasses
import tomllib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

import suite
from suite import config as cfg
from suite import plan, streams
from suite.plugins.noise import add_annealed_noise
from conftest import count_compiles, small_config
from test_runner import _run


def _f(x, key=None):
    del key
    return 0.5 * jnp.sum(jnp.array([1.0, 4.0, 9.0]) * x**2) + jnp.sum(jnp.sin(x))


X0 = jnp.array([1.0, -2.0, 0.5])


def _trajectory(tx, steps, x=X0):
    """Points x_0..x_steps of ``tx`` on ``_f``, passing the extra arguments as the runner does."""
    key, state, points = jax.random.key(0), tx.init(x), [x]
    for t in range(steps):
        value, grad = jax.value_and_grad(_f)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=_f,
                                   key=jax.random.fold_in(key, t))
        x = optax.apply_updates(x, updates)
        points.append(x)
    return jnp.stack(points)


def _wrapped(registry, name, inner, **values):
    spec = registry.wrappers[name]
    return spec.transformation(inner, **(spec.defaults | values))


# --- stale --------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [1, 3, 7])
def test_stale_equals_a_hand_written_delayed_gradient_loop(registry, tau):
    steps = 20
    got = _trajectory(_wrapped(registry, "stale", optax.adam(0.1), tau=tau), steps)
    # The semantics, written out: the update at step k uses ∇f at x_{max(k − τ, 0)}.
    adam = optax.adam(0.1)
    state, xs = adam.init(X0), [X0]
    for k in range(steps):
        grad = jax.grad(_f)(xs[max(k - tau, 0)])
        updates, state = adam.update(grad, state, xs[k])
        xs.append(optax.apply_updates(xs[k], updates))
    np.testing.assert_array_equal(got, jnp.stack(xs))


def test_round_robin_with_m_workers_is_stale_with_tau_m_minus_1(registry):
    np.testing.assert_array_equal(
        _trajectory(_wrapped(registry, "round_robin", optax.sgd(0.05, momentum=0.9), workers=4), 15),
        _trajectory(_wrapped(registry, "stale", optax.sgd(0.05, momentum=0.9), tau=3), 15))


def test_stale_tau_0_is_the_plain_optimizer_bit_for_bit_through_the_runner(registry, tmp_path):
    config = small_config(restarts=5, steps=50)
    _, plain = _run(config, registry, tmp_path / "plain")
    stale = dataclasses.replace(config, optimizers=[cfg.parse_optimizer("adam:learning_rate=0.01,0.1+stale:tau=0")])
    _, wrapped = _run(stale, registry, tmp_path / "stale")
    results = ["final_loss", "best_loss", "steps", "diverged_step",
               *[c for c in plain["restarts"] if c.startswith("step_to_target_")]]
    pd.testing.assert_frame_equal(plain["restarts"][results], wrapped["restarts"][results], check_exact=True)
    assert (wrapped["restarts"]["p_wrap_stale_tau"] == 0).all()


def test_stale_through_the_runner_equals_a_delayed_loop_per_restart(registry, tmp_path):
    # The whole vmapped program, not just the transformation: every restart of
    # adam+stale(τ=4) on a bowl follows the hand-written delayed recursion.
    tau, config = 4, small_config(restarts=3, steps=25,
                                  optimizers=[cfg.parse_optimizer("adam:learning_rate=0.05+stale:tau=4")])
    final = _run(config, registry, tmp_path)[1]["restarts"].set_index("restart")["final_loss"]
    draw = streams.draw(plan.resolve(config, registry)[0][0], config.seed)  # the instance the run drew
    instance = draw.instance
    for i in range(config.restarts):
        xs = [instance.init(jax.random.fold_in(draw.init, i))]
        adam = optax.adam(0.05)
        state = adam.init(xs[0])
        for k in range(config.steps):
            updates, state = adam.update(jax.grad(instance.loss)(xs[max(k - tau, 0)]), state, xs[k])
            xs.append(optax.apply_updates(xs[k], updates))
        np.testing.assert_allclose(final[i], instance.loss(xs[-1]), rtol=1e-4)


# --- noise --------------------------------------------------------------------------


FIXED_START = '''
import jax.numpy as jnp, suite

def _ones(data, key):
    del data, key
    return jnp.ones(3)

def _bowl(data, x, key):
    del data, key
    return 0.5 * jnp.sum(x**2)

def build(params, *, key):
    return suite.Landscape(data={}, init_fn=_ones, loss_fn=_bowl, f_opt=0.0)

@suite.hookimpl
def register_landscapes(register):
    register("fixed_start", build, params=[], doc="A bowl every restart starts on at the same point.")
'''


def _final_losses(out, optimizer: str, seed: int) -> np.ndarray:
    # Every restart starts at the same point: only gradient noise tells them apart.
    plugin = out.parent / "fixed_start.py"
    plugin.write_text(FIXED_START)
    run = suite.run(landscapes=["fixed_start"], optimizers=[optimizer], plugins=[str(plugin)], restarts=6,
                    steps=10, seed=seed, out=out, progress=False)
    return run.restarts.sort_values("restart")["final_loss"].to_numpy()


def test_noise_streams_differ_between_restarts_and_repeat_under_the_same_seed(tmp_path):
    noisy = "sgd:learning_rate=0.1+noise:eta=0.3"
    first = _final_losses(tmp_path / "first", noisy, seed=0)
    assert len(set(first.tolist())) == len(first), "two restarts drew the same noise"
    np.testing.assert_array_equal(first, _final_losses(tmp_path / "again", noisy, seed=0))
    assert not np.any(np.isin(first, _final_losses(tmp_path / "seed-1", noisy, seed=1)))
    # Without the wrapper every restart follows one path: the differences above are the noise.
    plain = _final_losses(tmp_path / "plain", "sgd:learning_rate=0.1", seed=0)
    assert len(set(plain.tolist())) == 1


@pytest.mark.parametrize("step", [0, 9, 99])
def test_noise_variance_follows_the_annealing_schedule(step):
    eta, gamma, n = 0.3, 0.55, 20_000
    tx = add_annealed_noise(eta, gamma)
    state = tx.init(jnp.zeros(2))._replace(count=jnp.int32(step))
    keys = jax.random.split(jax.random.key(3), n)
    draws = jax.vmap(lambda k: tx.update(jnp.zeros(2), state, key=k)[0])(keys)
    expected = eta / (1 + step) ** gamma  # Neelakantan et al. 2015, eq. 1
    # The sample variance of 2n normal draws has relative standard error √(1/n) ≈ 0.7%.
    assert float(jnp.var(draws)) == pytest.approx(expected, rel=0.04)


def test_noise_without_a_key_says_how_to_pass_one():
    tx = add_annealed_noise(0.1, 0.55)
    with pytest.raises(ValueError, match="noise needs a random key per step"):
        tx.update(jnp.zeros(2), tx.init(jnp.zeros(2)))


# --- clip and penalty ---------------------------------------------------------------


def _one_update(tx, grad, params):
    return tx.update(grad, tx.init(params), params, value=0.0, grad=grad, value_fn=_f,
                     key=jax.random.key(0))[0]


def test_clip_by_norm_and_by_value(registry):
    params = jnp.zeros(2)
    by_norm = _wrapped(registry, "clip", optax.sgd(1.0), threshold=0.5, by="norm")
    np.testing.assert_allclose(_one_update(by_norm, jnp.array([3.0, 4.0]), params), [-0.3, -0.4], rtol=1e-6)
    np.testing.assert_allclose(_one_update(by_norm, jnp.array([0.3, 0.0]), params), [-0.3, 0.0])
    by_value = _wrapped(registry, "clip", optax.sgd(1.0), threshold=0.5, by="value")
    np.testing.assert_allclose(_one_update(by_value, jnp.array([3.0, -0.2]), params), [-0.5, 0.2])


def test_penalty_adds_the_l1_and_l2_gradients(registry):
    params, grad = jnp.array([2.0, -1.0, 0.0]), jnp.array([0.5, 0.5, 0.5])
    tx = _wrapped(registry, "penalty", optax.sgd(0.1), l1=0.01, l2=0.2)
    expected = -0.1 * (grad + 0.01 * jnp.sign(params) + 0.2 * params)
    np.testing.assert_allclose(_one_update(tx, grad, params), expected, rtol=1e-6)


@pytest.mark.parametrize("x_star, expected", [(0.3, 0.0), (-0.3, 0.0), (0.8, 0.3), (-1.5, -1.0)])
def test_orthant_l1_steps_land_on_the_lasso_minimizer_exactly(registry, x_star, expected):
    """½(x − x*)² + λ|x| with λ = 0.5 is minimized at the soft threshold sign(x*)·max(|x*| − λ, 0) (by hand)."""
    tx = _wrapped(registry, "penalty", optax.sgd(0.1), l1=0.5, l2=0.0, l1_mode="orthant")
    x = jnp.array([2.0])
    state = tx.init(x)
    for _ in range(400):
        grad = x - x_star
        step, state = tx.update(grad, state, x, value=0.0, grad=grad, value_fn=_f, key=jax.random.key(0))
        x = optax.apply_updates(x, step)
    if expected == 0.0:
        assert float(x[0]) == 0.0  # exactly: the step that would cross zero stops on it, and stays
    else:
        assert float(x[0]) == pytest.approx(expected, abs=1e-6)


def test_orthant_l1_pseudo_gradient_by_hand(registry):
    """OWL-QN's pseudo-gradient: g + λ sign(x) off zero; at zero the smaller |g ± λ|, or 0 inside [−λ, λ]."""
    params, grad = jnp.array([2.0, -1.0, 0.0, 0.0, 0.0]), jnp.array([0.5, 0.5, 0.2, 1.0, -1.0])
    tx = _wrapped(registry, "penalty", optax.sgd(0.1), l1=0.3, l2=0.0, l1_mode="orthant")
    pseudo = jnp.array([0.8, 0.2, 0.0, 0.7, -0.7])
    # x₁ = −1 steps by −0.1·0.2 = −0.02, staying in its orthant; nothing crosses zero here.
    np.testing.assert_allclose(_one_update(tx, grad, params), -0.1 * pseudo, rtol=1e-6, atol=1e-7)
    # A step that would cross zero stops on it: x = 0.01 with pseudo-gradient 0.8 would go to −0.07.
    np.testing.assert_array_equal(_one_update(tx, jnp.array([0.5]), jnp.array([0.01])), -np.float32([0.01]))


def test_wrappers_chain_in_the_order_written(registry):
    # adam+penalty+stale: the landscape gradient is delayed, then the penalty
    # of the current point is added (each wrapper wraps everything before it).
    inner = _wrapped(registry, "penalty", optax.sgd(0.1), l2=1.0)
    outer = _wrapped(registry, "stale", inner, tau=2)
    xs = _trajectory(outer, 6)
    x = [X0]
    for k in range(6):
        g = jax.grad(_f)(x[max(k - 2, 0)]) + 1.0 * x[k]
        x.append(x[k] - 0.1 * g)
    np.testing.assert_allclose(xs, jnp.stack(x), rtol=1e-6)


# --- flags, configs and tables ------------------------------------------------------


def test_wrapper_parameters_get_their_own_columns(registry, tmp_path):
    config = small_config(optimizers=[cfg.parse_optimizer("adam:learning_rate=0.1+stale:tau=2+noise:eta=0.01")])
    _, tables = _run(config, registry, tmp_path)
    for table in (tables["restarts"], tables["cells"]):
        row = table.iloc[0]
        assert row["optimizer"] == "adam" and row["wrappers"] == "stale+noise"
        # The value given is a condition, in the name; wrapper defaults are left out.
        assert row["entry"] == "adam(learning_rate=0.1)+stale(tau=2)+noise"
        assert row["p_wrap_stale_tau"] == 2 and row["p_wrap_noise_eta"] == 0.01
        assert row["p_wrap_noise_gamma"] == 0.55 and row["p_opt_learning_rate"] == 0.1


def test_plus_splits_wrappers_but_not_exponents():
    component = cfg.parse_optimizer("adam:learning_rate=1e+0,3e-1+stale:tau=2,4+clip")
    assert component.values == {"learning_rate": ["1e+0", "3e-1"]}
    assert [(w.name, w.values) for w in component.wrappers] == [("stale", {"tau": ["2", "4"]}), ("clip", {})]


TOML = """
restarts = 3
steps = 5

[[landscape]]
name = "bowl"
dim = 3

[[optimizer]]
name = "adam"
learning_rate = 0.01

[[optimizer.wrap]]
name = "stale"
tau = [0, 8]

[[optimizer]]
name = "sgd"
learning_rate = 0.1

[[wrap]]
name = "clip"
threshold = 2.0
"""


def test_config_wraps_one_optimizer_or_all_and_round_trips(registry):
    config = cfg.from_toml(tomllib.loads(TOML))
    _, settings = plan.resolve(config, registry)
    assert [s.entry for s in settings] == ["adam(learning_rate=0.01)+stale(tau=0)+clip(threshold=2.0)",
                                           "adam(learning_rate=0.01)+stale(tau=8)+clip(threshold=2.0)",
                                           "sgd(learning_rate=0.1)+clip(threshold=2.0)"]
    # Run-wide wrappers sit outside the optimizer's own.
    assert [w.spec.name for w in settings[1].wrappers] == ["stale", "clip"]
    resolved = plan.resolved_config(config, *plan.resolve(config, registry))
    again = cfg.from_toml(tomllib.loads(cfg.to_toml(resolved)))
    assert [s.label for s in plan.resolve(again, registry)[1]] == [s.label for s in settings]


def test_a_wrapper_sweep_compiles_one_program_per_static_value(registry, tmp_path):
    # Compilations of the training program (the chunk of steps), as JAX itself counts them.
    config = small_config(optimizers=[cfg.parse_optimizer("sgd:learning_rate=0.1+noise:eta=0.01,0.1,1.0")])
    with count_compiles() as compiles:
        cells = _run(config, registry, tmp_path / "float")[1]["cells"]
    assert len(cells) == 3 and (cells["status"] == "ok").all()
    assert compiles["jit(run_chunk)"] == 1, compiles  # float values are traced inputs: one compilation
    config = small_config(optimizers=[cfg.parse_optimizer("sgd:learning_rate=0.1+stale:tau=1,2")])
    with count_compiles() as compiles:
        cells = _run(config, registry, tmp_path / "static")[1]["cells"]
    assert len(cells) == 2 and (cells["status"] == "ok").all()
    assert compiles["jit(run_chunk)"] == 2, compiles  # τ shapes the state (τ stored gradients): one each
