"""What a run records means what its label says: f(x_T), relapses, float resolution, f* checks, entries.

Each test reproduces a way a run used to mislead (issue 13) against an
independent reference: a plain loop, a bound from theory, float spacing.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import suite
from suite import compiler, plan, runner, streams
from suite import config as cfg
from suite.cli import main
from suite.errors import UsageError
from suite.tables import restart_table
from conftest import small_config

STYBLINSKI_TANG = Path(__file__).parent / "plugins" / "styblinski_tang.py"
ST_X = -2.903534  # Styblinski–Tang's minimiser, per coordinate
ST_F = -39.16616570377142  # its minimum per coordinate (½(x⁴ − 16x² + 5x) at ST_X, in float64)


def run_tables(config, path):
    """The tables of ``config`` run into ``path`` through the API (plugins from ``config.plugins``)."""
    return suite.run(config, out=path, progress=False).tables


def test_final_loss_is_the_loss_at_the_last_step_not_where_the_target_was_first_met(registry, tmp_path):
    # Plain gradient descent on a 1-D bowl without rotation: x ← x − η λ (x − x*), a plain loop.
    config = small_config(landscapes=[cfg.Component("bowl", {"dim": [1], "rotate": [False]})],
                          optimizers=[cfg.Component("sgd", {"learning_rate": [0.5]})],
                          restarts=5, steps=60, targets=(1e-2, 1e-6))
    tables = run_tables(config, tmp_path / "run")
    draw = streams.draw(plan.resolve(config, registry)[0][0], config.seed)  # the instance the run drew
    instance, init_stream = draw.instance, draw.init
    lam, x_opt = float(instance.data["eigenvalues"][0]), float(instance.data["x_opt"][0])
    rows = tables["restarts"].sort_values("restart")
    for i, row in enumerate(rows.itertuples()):
        x = float(instance.init(jax.random.fold_in(init_stream, i))[0])
        for _ in range(config.steps):
            x -= 0.5 * lam * (x - x_opt)
        assert row.final_loss == pytest.approx(0.5 * lam * (x - x_opt) ** 2, rel=1e-4, abs=1e-30)
        # It met 1e-6 long before step T and still holds it: every target held, no relapse.
        assert row.steps == config.steps and row.targets_held == 2 and not row.relapsed


def _stale_near_miss(tmp_path, **overrides):
    """SGD with gradients 8 steps stale, 3% above its stability bound, on a 1-D bowl (λ = 1)."""
    tau = 8
    bound = 2 * math.sin(math.pi / (2 * (2 * tau + 1)))  # largest stable η·λ for delay τ
    config = small_config(landscapes=[cfg.Component("bowl", {"dim": [1]})],
                          optimizers=[cfg.parse_optimizer(f"sgd:learning_rate={1.03 * bound!r}+stale:tau={tau}")],
                          restarts=256, steps=40_000, checkpoints=8, targets=(1.0, 1e-8), **overrides)
    return run_tables(config, tmp_path / "run")


def test_an_unstable_optimizer_that_passes_near_the_minimum_is_not_a_success(tmp_path):
    tables = _stale_near_miss(tmp_path)
    cell, rows = tables["cells"].iloc[0], tables["restarts"]
    assert cell["divergence_rate"] == 1.0  # every restart ends non-finite
    assert cell["success_1e-08"] == 0.0  # ... so none succeeds at step T
    near = rows["step_to_target_1e-08"].notna()
    assert 0.01 < near.mean() < 0.1  # a few passed within 1.4e-4 of x* on the way
    assert cell["reached_1e-08"] == pytest.approx(near.mean())  # COCO's anytime record keeps them
    assert rows.loc[near, "relapsed"].all() and (rows["targets_held"] == 0).all()
    assert cell["relapse_rate"] == pytest.approx(rows["step_to_target_1"].notna().mean())


def test_fixed_target_mode_stops_restarts_at_the_target_and_says_so(tmp_path):
    tables = _stale_near_miss(tmp_path, stop_at_target=True)
    cell, rows = tables["cells"].iloc[0], tables["restarts"]
    near = rows["step_to_target_1e-08"].notna()
    # The same near misses, now stopped where they met the target: the mode is recorded with them.
    assert bool(cell["stop_at_target"]) and near.mean() > 0
    assert cell["success_1e-08"] == pytest.approx(near.mean())
    assert (rows.loc[near, "final_loss"] <= 1e-8).all() and not rows.loc[near, "relapsed"].any()
    assert (rows.loc[near, "steps"] == rows.loc[near, "step_to_target_1e-08"]).all()


def _styblinski_tang(tmp_path, precision, shift=0.0, steps=400):
    targets = tuple(10.0 ** k for k in range(0, -9, -1))
    config = small_config(landscapes=[cfg.Component("styblinski_tang", {"dim": [5], "f_shift": [shift]})],
                          optimizers=[cfg.Component("momentum", {"learning_rate": [0.01]})],
                          restarts=64, steps=steps, targets=targets, precision=precision,
                          plugins=[str(STYBLINSKI_TANG)])
    return run_tables(config, tmp_path / f"run-{precision}-{shift}")


def test_float32_marks_targets_finer_than_its_resolution_at_f_star(tmp_path):
    tables = _styblinski_tang(tmp_path, "float32")
    cell = tables["cells"].iloc[0]
    # |f*| = 195.8: float32 spacing there is 2^-16 ≈ 1.5e-5, so Δf ≤ 1e-5 is decided by rounding.
    spacing = float(np.spacing(np.float32(5 * abs(ST_F))))
    assert spacing == 2.0 ** -16 and cell["resolution"] == pytest.approx(4 * spacing)
    for label in ("1e-05", "1e-06", "1e-07", "1e-08"):
        assert math.isnan(cell[f"success_{label}"]), label  # below resolution: never a success
    assert cell["success_0.001"] > 0  # resolvable targets are scored as usual
    assert cell["precision"] == "float32"



def test_losing_a_target_below_resolution_by_an_ulp_is_rounding_not_a_relapse(registry):
    # Targets 1, 1e-4, 1e-8 with a resolution of 1e-6: only the first two can be lost for real.
    config = small_config(targets=(1.0, 1e-4, 1e-8))
    landscapes, optimizers = plan.resolve(config, registry)
    held = np.array([3, 2, 1, 0, 2])  # targets f(x_T) meets at the end
    reached = np.array([3, 3, 3, 3, 2])  # targets met on the way
    summary = {"loss": np.zeros(5), "best": np.zeros(5), "steps": np.full(5, 40), "diverged": np.full(5, -1),
               "hit": np.zeros((5, 3), int), "held": held, "reached": reached}
    table = restart_table(plan.Cell(landscapes[0], optimizers[0]), summary, config, resolution=1e-6)
    # Restart 1 lost only 1e-8, below resolution: an ulp of rounding. Restarts 2 and 3 lost 1e-4 or more.
    assert table["relapsed"].tolist() == [False, False, True, True, False]
    assert table["targets_held"].tolist() == held.tolist()


def test_float64_lets_the_optimizer_decide_success_at_1e_8(tmp_path):
    tables = _styblinski_tang(tmp_path, "float64", steps=600)
    cell, rows = tables["cells"].iloc[0], tables["restarts"]
    assert cell["precision"] == "float64" and cell["resolution"] < 1e-12
    # Each coordinate ends in the global basin (x ≈ −2.90) or the other (x ≈ 2.75, Δf ≈ 28 each):
    # a restart either converged far below 1e-8 or is far above 1e-3. No rounding decides.
    assert cell["success_1e-08"] == cell["success_0.001"] > 0
    delta = rows["final_loss"] - 5 * ST_F
    assert ((delta <= 1e-8) | (delta >= 1.0)).all()
    assert rows["final_loss"].min() >= 5 * ST_F - 1e-9  # nothing below the true f*


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_a_loss_below_an_exact_f_star_is_a_warning_not_a_success(tmp_path, precision):
    tables = _styblinski_tang(tmp_path, precision, shift=1e-4)  # the plugin declares f* 1e-4 too high
    cell = tables["cells"].iloc[0]
    assert cell["f_opt_violation"] == pytest.approx(1e-4, rel=0.3)
    assert "below the exact f*" in cell["warning"]
    right = _styblinski_tang(tmp_path, precision)["cells"].iloc[0]
    assert right["f_opt_violation"] == 0.0 and right["warning"] == ""


def test_float64_runs_trace_in_float64_and_leave_float32_runs_alone(registry, tmp_path):
    config = small_config(precision="float64")
    landscapes, optimizers = plan.resolve(config, registry)
    # The summary's dtype inside the precision scope: run_group itself (the tables are float64 either way).
    with compiler.precision_scope("float64"):
        result = runner.run_group(streams.draw(landscapes[0], 0), optimizers, config,
                                  cache=compiler.ProgramCache())
    assert result.summary["loss"].dtype == np.float64
    assert jnp.zeros(1).dtype == jnp.float32  # the scope ended with the run
    single = run_tables(small_config(), tmp_path / "f32")["restarts"]
    double = run_tables(config, tmp_path / "f64")["restarts"]
    assert jnp.zeros(1).dtype == jnp.float32  # so did a float64 run of the API
    # The same starts and steps: the two precisions agree to float32 rounding.
    np.testing.assert_allclose(double["final_loss"], single["final_loss"], rtol=1e-3, atol=1e-6)


# --- entries: values given are conditions; tuning budgets are equal -------------------------


def test_a_value_the_user_gives_is_its_own_entry_never_merged_into_a_sweep(registry):
    config = small_config(optimizers=[cfg.parse_optimizer("momentum"),
                                      cfg.parse_optimizer("momentum:momentum=0.5"),
                                      cfg.parse_optimizer("sgd:learning_rate=0.01,0.1")])
    _, optimizers = plan.resolve(config, registry)
    entries = {}
    for o in optimizers:
        entries.setdefault(o.entry, []).append(o)
    tuned = registry.optimizer("momentum").sweep["learning_rate"]
    assert len(entries["momentum"]) == len(entries["momentum(momentum=0.5)"]) == len(tuned)
    assert {o.values["momentum"] for o in entries["momentum(momentum=0.5)"]} == {0.5}
    assert [len(entries[e]) for e in ("sgd(learning_rate=0.01)", "sgd(learning_rate=0.1)")] == [1, 1]
    # The default sweep holds momentum 0.9 at lr 0.01 and so may the user: still two cells.
    cells = {plan.Cell(plan.resolve(config, registry)[0][0], o).id for o in optimizers}
    assert len(cells) == len(optimizers)


def test_the_resolved_config_resumes_to_the_same_cells_and_entries(registry):
    config = small_config(optimizers=[cfg.parse_optimizer("momentum:momentum=0.5"),
                                      cfg.parse_optimizer("adam:sweep.learning_rate=0.001,0.1")],
                          tuning="budget:3")
    landscapes, optimizers = plan.resolve(config, registry)
    text = cfg.to_toml(plan.resolved_config(config, landscapes, optimizers))
    import tomllib
    again = plan.resolve(cfg.from_toml(tomllib.loads(text)), registry)[1]
    assert [(o.label, o.entry) for o in again] == [(o.label, o.entry) for o in optimizers]


def test_a_tuning_budget_gives_every_optimizer_exactly_n_settings_from_its_declared_range(registry):
    names = ["sgd", "adam", "lbfgs", "newton"]
    config = small_config(optimizers=[cfg.Component(n) for n in names], tuning="budget:7")
    _, optimizers = plan.resolve(config, registry)
    for name in names:
        mine = [o for o in optimizers if o.spec.name == name]
        grid = registry.optimizer(name).sweep["learning_rate"]
        rates = sorted(o.values["learning_rate"] for o in mine)
        assert len(mine) == 7 and len(set(rates)) == 7, name
        assert min(grid) * 0.999 <= rates[0] and rates[-1] <= max(grid) * 1.001, name
        # Quasi-random log-uniform: 7 points leave no gap wider than a third of the log-range.
        logs = np.log([min(grid), *rates, max(grid)])
        assert np.max(np.diff(logs)) < (logs[-1] - logs[0]) / 3, name


@pytest.mark.parametrize("flags, needle", [
    (["--precision", "float16"], "precision must be one of float32, float64"),
    (["--tuning", "budget:0"], "tuning must be grid or budget:N"),
    (["--tuning", "random"], "tuning must be grid or budget:N"),
    (["--optimizer", "adam:learning_rate=0.1:sweep.learning_rate=0.01,0.1"], "a value and a sweep"),
    (["--optimizer", "adam:sweep.lr=0.1"], "unknown parameter 'lr'"),
    (["--optimizer", "adam", "--optimizer", "adam:sweep.learning_rate=0.01,0.1"],
     "optimizers 1 and 2 both make the entry 'adam'"),
])
def test_bad_precision_tuning_and_sweep_are_one_line_errors(flags, needle, capsys, tmp_path):
    code = main(["run", "--landscape", "bowl:dim=2", "--steps", "5", "--restarts", "2",
                 "--out", str(tmp_path / "run"), "--quiet", "--no-report", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_budget_of_reads_the_tuning_mode():
    assert cfg.budget_of("grid") == 0 and cfg.budget_of("budget:12") == 12
    with pytest.raises(UsageError):
        cfg.budget_of("budget:-1")
