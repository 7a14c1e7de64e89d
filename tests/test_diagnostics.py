"""Diagnostics: Hessian index and end-point classes, Lanczos, straight paths, layer norms, cost when off."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import suite
import suite.api
from conftest import small_config
from suite import compiler, diagnostics, plan, runner, streams
from suite import config as cfg


def _landscape(loss, dim):
    return suite.Landscape(data={}, init_fn=lambda data, key: jnp.zeros(dim),
                           loss_fn=lambda data, x, key: loss(x))


def _end_point(landscape, point, which=("hessian",), exact=True):
    points = jnp.asarray([point], jnp.float32)
    out = diagnostics.end_points(landscape, points, points, jax.random.key(0), which=which, exact=exact)
    return jax.tree.map(lambda a: np.asarray(a)[0], out)


def test_the_index_of_known_critical_points():
    bowl = _landscape(lambda x: 0.5 * jnp.sum(jnp.array([1.0, 10.0]) * x**2), 2)
    found = _end_point(bowl, [0.0, 0.0])
    assert found["index"] == 0 and found["lambda_min"] == pytest.approx(1) and found["lambda_max"] == pytest.approx(10)
    saddle = _landscape(lambda x: x[0] ** 2 - x[1] ** 2, 2)  # a strict saddle
    found = _end_point(saddle, [0.0, 0.0])
    assert found["index"] == 0.5 and found["lambda_min"] == pytest.approx(-2)
    # The origin of a deep linear chain: with two layers, ½(1 − w₁w₂)² has eigenvalues ±1, a
    # strict saddle; with three, the Hessian vanishes (a saddle with no negative eigenvalue,
    # Kawaguchi 2016), which no quadratic test can see: "flat", not a minimum.
    chain2 = _landscape(lambda w: 0.5 * (1 - w[0] * w[1]) ** 2, 2)
    found = _end_point(chain2, [0.0, 0.0])
    assert found["index"] == 0.5 and found["lambda_min"] == pytest.approx(-1)
    chain3 = _landscape(lambda w: 0.5 * (1 - w[0] * w[1] * w[2]) ** 2, 3)
    found = _end_point(chain3, [0.0, 0.0, 0.0])
    assert found["index"] == 0 and found["lambda_min"] == found["lambda_max"] == 0
    assert diagnostics.classify(found["grad_norm"], found["index"], found["lambda_min"],
                                found["lambda_max"]).tolist() == "flat"
    classes = diagnostics.classify(np.array([0.0, 0.0, 0.5, 0.0]), np.array([0.0, 0.5, 0.0, 0.0]),
                                   np.array([1.0, -1.0, 1.0, 0.0]), np.array([2.0, 1.0, 2.0, 0.0]))
    assert classes.tolist() == ["minimum", "saddle", "not converged", "flat"]


def test_saddle_landscape_end_points_are_classified_through_the_runner(tmp_path):
    config = small_config(landscapes=[cfg.Component("saddle", {"order": [1]})],
                          optimizers=[cfg.Component("sgd", {"learning_rate": [0.2]})],
                          restarts=8, steps=300, diagnostics=["hessian", "minima"])  # 2-D: all examined
    rows, cells = _run(config, tmp_path / "whole")
    assert rows["diagnosed"].all()
    assert (rows["end_class"] == "minimum").all()  # sgd escapes the strict saddle to y = ±1
    assert (rows["hessian_index"] == 0).all()
    assert cells.loc[0, "minimum_rate"] == 1.0
    assert cells.loc[0, "basins_found"] == cells.loc[0, "minima_found"] == 2  # y = +1 and y = −1
    # Restarts split into batches of 3: the diagnostics see the same end points and basins.
    batched, _ = _run(dataclasses.replace(config, batch=3), tmp_path / "batched")
    columns = ["end_class", "hessian_index", "basin", "end_grad_norm"]
    pd.testing.assert_frame_equal(batched[columns], rows[columns], rtol=1e-5, atol=1e-5)


def test_sparsity_counts_the_exact_zeros_of_the_lasso_end_points(tmp_path):
    """A diagonal bowl with L1 orthant steps: coordinate i ends at 0 iff |x*ᵢ| ≤ λ/aᵢ; by hand from x*."""
    config = small_config(landscapes=[cfg.Component("bowl", {"dim": [6], "condition": [10.0], "rotate": [False]})],
                          optimizers=[cfg.Component("sgd", {"learning_rate": [0.05]},
                                                    wrappers=[cfg.Component("penalty", {"l1": [0.6], "l2": [0.0],
                                                                                         "l1_mode": ["orthant"]})])],
                          restarts=3, steps=1500, diagnostics=["sparsity"])
    rows, _ = _run(config, tmp_path / "run")
    # The instance the run drew, rebuilt from its seed: its minimizer and eigenvalues give the count.
    landscapes, _ = plan.resolve(config, suite.registry.load_registry())
    instance = streams.draw(landscapes[0], config.seed).instance
    a, x_star = np.asarray(instance.data["eigenvalues"]), np.asarray(instance.data["x_opt"])
    expected = int(np.sum(np.abs(x_star) <= 0.6 / a))
    assert 0 < expected < 6  # the case is not trivial
    assert rows["end_zeros"].tolist() == [expected] * 3


def test_lanczos_agrees_with_the_exact_spectrum():
    n = 300
    key_a, key_b = jax.random.split(jax.random.key(1))
    a = jax.random.normal(key_a, (n, n)) / np.sqrt(n)
    matrix = (a + a.T) / 2 + 0.3 * jnp.eye(n)
    offset = jax.random.normal(key_b, (n,)) * 0.1

    def loss(x):
        return 0.5 * x @ matrix @ x + 0.05 * jnp.sum((x - offset) ** 4)

    point = jnp.zeros(n)
    exact = diagnostics.spectrum(loss, point, jax.random.key(2), exact=True)
    approx = diagnostics.spectrum(loss, point, jax.random.key(2), exact=False, steps=120)
    assert float(approx["lambda_min"]) == pytest.approx(float(exact["lambda_min"]), rel=1e-3)
    assert float(approx["lambda_max"]) == pytest.approx(float(exact["lambda_max"]), rel=1e-3)
    assert 0.05 < float(exact["index"]) < 0.5  # a real mix of signs
    assert float(approx["index"]) == pytest.approx(float(exact["index"]), abs=0.06)


def test_the_straight_path_between_the_two_minima_of_a_chain_peaks_at_one_half():
    chain = _landscape(lambda w: 0.5 * (1 - w[0] * w[1]) ** 2, 2)
    start, end = jnp.asarray([[1.0, 1.0]]), jnp.asarray([[-1.0, -1.0]])
    out = diagnostics.end_points(chain, start, end, jax.random.key(0), which=("path",), exact=True)
    path = np.asarray(out["path"])[0]
    alphas = np.asarray(diagnostics.ALPHAS)
    middle = int(np.argmin(np.abs(alphas - 0.5)))
    assert alphas[middle] == pytest.approx(0.5) and path[middle] == pytest.approx(0.5)
    inside = (alphas >= 0) & (alphas <= 1)
    assert path[inside].max() == pytest.approx(0.5)
    assert diagnostics.barriers(path[None])[0]
    assert not diagnostics.barriers(np.asarray(ALPHA_LINE)[None])[0]


ALPHA_LINE = [1.0 - a for a in diagnostics.ALPHAS]  # a descending line crosses no barrier


def test_clustering_counts_minima_up_to_symmetry():
    points = np.array([[1.0, 0.0], [1.0, 0.001], [-1.0, 0.0], [0.0, 3.0], [np.nan, 0.0]])
    losses = np.array([0.1, 0.1, 0.1, 0.0, 0.0])
    assert diagnostics.cluster(points, losses).tolist() == [1, 1, 2, 0, -1]
    # σ ↦ −σ, as a landscape would declare it: the two minima at ±1 are one.
    assert diagnostics.cluster(np.abs(points), losses).tolist() == [1, 1, 1, 0, -1]


def test_pspin_with_even_p_declares_its_sign_symmetry_and_its_index_curve(registry):
    from suite.landscapes import pspin

    even = pspin.build({"n": 8, "p": 2}, key=jax.random.key(0))
    sigma = even.init(jax.random.key(1))
    assert np.allclose(even.symmetry_fn(even.data, sigma), even.symmetry_fn(even.data, -sigma))
    assert pspin.build({"n": 8, "p": 3}, key=jax.random.key(0)).symmetry_fn is None
    curve = dict(even.index_curve)
    assert min(curve.values()) == 0 and max(curve.values()) == 1
    assert pspin.index_at(0.0, 3) == pytest.approx(0.5) and pspin.index_at(pspin.threshold_energy(3), 3) < 1e-6


def _run(config, path):
    """The restarts and cells tables of ``config`` run into ``path`` through the API."""
    run = suite.api.run_config(config, out=path, progress=False)
    return run.restarts, run.cells


def test_per_layer_norms_equal_a_direct_per_layer_gradient():
    config = small_config(landscapes=[cfg.Component("deep_linear", {"depth": [3], "width": [4]})],
                          optimizers=[cfg.Component("sgd", {"learning_rate": [0.05]})],
                          restarts=4, steps=10, checkpoints=11, diagnostics=["layers"])
    # Per restart and checkpoint (the tables keep quantiles over restarts): run_group itself.
    landscapes, optimizers = plan.resolve(config, suite.registry.load_registry())
    draw = streams.draw(landscapes[0], config.seed)
    instance = draw.instance
    result = runner.run_group(draw, optimizers, config, cache=compiler.ProgramCache())
    norms = result.diagnostics[0]["layers"]  # [restarts, checkpoints, layers]
    ckpts = list(plan.checkpoint_steps(config.steps, config.checkpoints))
    assert len(ckpts) >= 8
    for restart in range(4):
        params = instance.init(jax.random.fold_in(draw.init, restart))
        for step in range(config.steps + 1):  # plain SGD by hand, compared at every checkpoint
            if step in ckpts:
                expected = np.asarray(instance.layer_gradient_norms(params))
                np.testing.assert_allclose(norms[restart, ckpts.index(step)], expected, rtol=1e-5)
            grads = jax.grad(instance.loss)(params)
            params = [p - 0.05 * g for p, g in zip(params, grads, strict=True)]


def test_diagnostics_off_leave_results_and_compilations_unchanged(tmp_path, monkeypatch):
    base = small_config(landscapes=[cfg.Component("deep_linear", {"depth": [2], "width": [3]})],
                        optimizers=[cfg.Component("adam", {"learning_rate": [0.01, 0.1]})], restarts=6, steps=30)
    caches = []  # the program cache of each run (a run makes its own): kept to count and inspect

    class Kept(compiler.ProgramCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            caches.append(self)

    monkeypatch.setattr(compiler, "ProgramCache", Kept)
    plain = _run(base, tmp_path / "plain")
    on = _run(dataclasses.replace(base, diagnostics=list(cfg.DIAGNOSTICS)), tmp_path / "on")
    again = _run(base, tmp_path / "again")
    assert len(caches) == 3
    plain_cache, _, again_cache = caches
    # Off twice: the same program count, and the program is the plain one (no diagnostic fields).
    assert plain_cache.compilations == again_cache.compilations == 2
    pd.testing.assert_frame_equal(plain[0], again[0], check_exact=True)
    assert all(not key[0].layers and not key[0].trace for key in plain_cache._programs)
    # On: the training results are those of the plain run, bit for bit.
    shared = [c for c in plain[0].columns if c in on[0].columns]
    pd.testing.assert_frame_equal(plain[0][shared], on[0][shared], check_exact=True)
    assert "end_class" in on[0] and "end_class" not in plain[0]
    assert not (tmp_path / "plain" / "layers.parquet").exists() and (tmp_path / "on" / "layers.parquet").exists()


def test_a_diagnosed_run_reports_every_diagnostic(tmp_path, capsys):
    import re

    from suite.cli import main

    out = tmp_path / "run"
    assert main(["run", "--landscape", "saddle", "--landscape", "deep_linear:depth=3:width=3",
                 "--optimizer", "sgd:learning_rate=0.05,0.2", "--restarts", "8", "--steps", "150",
                 "--diagnose", "all", "--diagnose-restarts", "6", "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    titles = re.findall(r"<h4>(.*?)</h4>", html)
    assert titles.count("End points: minima, saddles, basins") == 2
    assert titles.count("The straight path from start to end") == 2
    assert titles.count("Pictures of the landscape") == 2  # contours on saddle (2-D), a plane on deep_linear
    assert titles.count("Per-layer gradient norms") == 1  # only deep_linear is layered
    assert "Section &#39;" not in html
    restarts = pd.read_parquet(out / "restarts.parquet")
    assert restarts.groupby("cell_id")["diagnosed"].sum().eq(6).all()
    pictures = pd.read_parquet(out / "pictures.parquet")
    assert {"contour", "trajectory", "plane", "plane_points"} <= set(pictures["kind"])


CUSTOM_VJP = '''
import jax, jax.numpy as jnp, suite

@jax.custom_vjp
def square(x):
    return jnp.sum(x ** 2)

square.defvjp(lambda x: (square(x), x), lambda x, g: (2 * g * x,))  # no forward mode: no Hessian

def _init(data, key):
    return jax.random.normal(key, (3,))

def _loss(data, x, key):
    return square(x)

def build(params, *, key):
    return suite.Landscape(data={}, init_fn=_init, loss_fn=_loss, f_opt=0.0)

@suite.hookimpl
def register_landscapes(register):
    register("vjp_only", build, params=[], doc="A bowl whose gradient is a custom VJP.")
'''


def test_failing_diagnostics_keep_the_training_results(tmp_path, capsys):
    from suite.cli import main

    plugin = tmp_path / "vjp_only.py"
    plugin.write_text(CUSTOM_VJP)
    out = tmp_path / "run"
    assert main(["run", "--plugin", str(plugin), "--landscape", "vjp_only", "--optimizer", "sgd:learning_rate=0.1",
                 "--restarts", "4", "--steps", "50", "--diagnose", "hessian", "--out", str(out), "--quiet"]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert (cells["status"] == "ok").all() and cells["success_1e-08"].notna().all()
    assert "custom_vjp" in cells.loc[0, "diagnostics_error"]
    html = (out / "report.html").read_text()
    assert "Diagnostics of sgd(learning_rate=0.1) failed (its training results are kept)" in html
