"""The hard-small-networks study's check against tables whose answer is known by hand.

Restarts of two planted instances are written out: how many reached the
target, which end points the Hessian calls minima and at what loss. A
fraction that succeeds with the rest in several minima well above f*
reproduces the claim; a benign landscape, one minimum only, or misses that
never rest in a minimum above the threshold do not; without the end-point
diagnostics the check cannot decide.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.studies import hard_small_networks as hsn
from suite.verdict import StudyData

TOML = Path(hsn.__file__).with_name("hard_small_networks.toml")
HIT = "step_to_target_0.0001"


def study() -> dict:
    return tomllib.loads(TOML.read_text(encoding="utf-8"))["study"]


def instance(cell: str, *, successes: int, minima: dict[float, int], saddles: int = 0,
             restarts: int = 200) -> pd.DataFrame:
    """One instance's restarts: ``successes`` at f = 1e-6, ``minima`` {loss: count} at minima, saddles at 2e-3,
    the rest still moving at 5e-4 (between the target and the threshold)."""
    losses, classes = [1e-6] * successes, ["minimum"] * successes
    for loss, count in minima.items():
        # Each restart in its own basin with a loss within 0.1% of the level: drift along flat directions.
        losses += list(loss * (1 + 1e-3 * np.linspace(0, 1, count)))
        classes += ["minimum"] * count
    losses += [2e-3] * saddles
    classes += ["saddle"] * saddles
    rest = restarts - len(losses)
    losses += [5e-4] * rest
    classes += ["not converged"] * rest
    losses = np.asarray(losses)
    return pd.DataFrame({"cell_id": cell, "restart": np.arange(restarts), "final_loss": losses,
                         HIT: np.where(losses <= 1e-4, 50.0, np.nan), "diagnosed": True,
                         "end_class": classes, "basin": pd.array(np.arange(restarts), dtype="Int64")})


def verdict(*instances: pd.DataFrame, drop: tuple = ()):
    restarts = pd.concat(instances, ignore_index=True).drop(columns=list(drop))
    ids = list(dict.fromkeys(restarts["cell_id"]))
    cells = pd.DataFrame({"cell_id": ids, "status": "ok", "instance": range(len(ids)), "landscape": "three_node",
                          "landscape_label": [f"three_node(dim=16)#{i}" if i else "three_node(dim=16)"
                                              for i in range(len(ids))],
                          "p_landscape_dim": 16, "optimizer": "adam", "optimizer_label": "adam(learning_rate=0.05)",
                          "p_opt_learning_rate": 0.05, "minima_found": 150, "basins_found": 200,
                          "best_basin_share": 0.005})
    return hsn.check(StudyData(cells=cells, restarts=restarts, curves=pd.DataFrame(), tables={}, study=study()))


def failed(v) -> set[str]:
    return {c.quantity.split(",")[0].split(" (")[0] for c in v.comparisons if not c.passed}


def test_distinct_levels_merge_chains_within_the_tolerance():
    assert hsn.distinct_levels([1.0, 1.01, 1.2, 1.21, 2.0], 0.05) == 3
    assert hsn.distinct_levels([1.0, 1.04, 1.08, 1.12], 0.05) == 1  # a chain is one: a lower bound
    assert hsn.distinct_levels([np.nan, 3e-3], 0.05) == 1 and hsn.distinct_levels([], 0.05) == 0


def test_a_fraction_found_and_several_minima_above_f_star_reproduce():
    v = verdict(instance("a", successes=140, minima={2e-3: 20, 5e-3: 10, 1e-2: 10}, saddles=10),
                instance("b", successes=120, minima={3e-3: 30, 8e-3: 20}))
    assert v.status == "reproduced", failed(v)
    row = [r for r in v.numbers if r["instance"] == "all"][0]
    assert (row["successes"], row["stuck"], row["minima"]) == (260, 90, 2.5)  # median of 3 and 2 minima
    assert row["success_low"] < 0.65 < row["success_high"]
    per = {r["instance"]: r for r in v.numbers if r["instance"] != "all"}
    assert per[0]["stuck_basins"] == 40 and per[0]["minima"] == 3  # 40 basins, 3 losses
    assert per[0]["unresolved"] == 20  # 10 saddles and 10 still moving
    assert {s.kind for s in v.plots[0].series} == {"measured", "theory"} and v.plots[0].y_log


def test_a_benign_landscape_where_every_restart_succeeds_does_not():
    v = verdict(instance("a", successes=200, minima={}), instance("b", successes=200, minima={}))
    assert v.status == "not reproduced"
    assert failed(v) == {"success share", "share ending in a non-global minimum",
                         "distinct non-global minima per instance"}


def test_one_minimum_seen_twice_by_the_unit_swap_is_one():
    # Every miss at one loss (two basins each: the swapped copy): one minimum per instance, not several.
    v = verdict(instance("a", successes=120, minima={4e-3: 80}), instance("b", successes=120, minima={4e-3: 80}))
    assert v.status == "not reproduced" and failed(v) == {"distinct non-global minima per instance"}


def test_misses_below_the_threshold_are_not_counted_as_minima():
    # The misses rest at 5e-4: above the target but below 1e-3, so they may still be creeping to f*.
    v = verdict(instance("a", successes=100, minima={5e-4 / 1.001: 100}), instance("b", successes=100, minima={}))
    assert v.status == "not reproduced"
    assert "share ending in a non-global minimum" in failed(v)


def test_without_the_end_point_diagnostics_it_cannot_decide():
    v = verdict(instance("a", successes=140, minima={2e-3: 60}), drop=("end_class",))
    assert v.status == "inconclusive" and "hessian" in v.notes[0]


@pytest.mark.parametrize("size", ["tiny", "small", "full"])
def test_the_config_parses_with_both_diagnostics(size):
    from suite import study as study_files
    from suite.registry import load_registry

    run = study_files.config(load_registry().study("hard_small_networks"), size)
    assert set(run.diagnostics) == {"minima", "hessian"} and not run.stop_at_target
