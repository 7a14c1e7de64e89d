"""Studies: the machinery end to end at size tiny, the verdict rule, and what a user can get wrong.

Every built-in study runs at size tiny (seconds: the run, the check, the
report section, publishing), without asserting its scientific verdict; the
small-size verdicts are asserted in ``test_study_verdicts.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from suite import study, study_api
from suite.registry import load_registry, make_plugin_manager
from suite.verdict import STATUSES, Comparison, Plot, Series, StudyData, Verdict

BUILTIN = sorted(load_registry(make_plugin_manager()).studies)
EXPECTED = ["deep_linear_plateaus", "hard_small_networks", "ill_conditioning", "minibatch_noise", "penalties",
            "random_restarts", "saddles", "spin_glass", "stale_gradients", "vanishing_gradients"]


def suite_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "suite", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_every_difficulty_has_a_study():
    assert BUILTIN == EXPECTED


# --- the verdict rule, by hand -------------------------------------------------------------


def test_comparisons_decide_by_the_stated_arithmetic():
    assert Comparison.within("q", 1.1, 1.0, abs=0.15).passed
    assert not Comparison.within("q", 1.2, 1.0, abs=0.15).passed
    assert Comparison.within("q", 105.0, 100.0, rel=0.05).passed  # |5| ≤ 0.05·100
    assert not Comparison.within("q", 105.1, 100.0, rel=0.05).passed
    assert Comparison.within("q", 1.3, 1.0, abs=0.1, rel=0.2).passed  # 0.3 ≤ 0.1 + 0.2
    assert not Comparison.within("q", float("nan"), 1.0, abs=10).passed  # no measurement, no pass
    assert Comparison.bracket("q", 0.9, 1.1, 1.0).passed and not Comparison.bracket("q", 1.01, 1.1, 1.0).passed
    assert Comparison.at_least("q", 3, 3).passed and not Comparison.at_most("q", 3.5, 3).passed
    with pytest.raises(ValueError):
        Comparison.within("q", 1, 1)


def test_the_verdict_follows_the_comparisons():
    good, bad = Comparison.within("a", 1, 1, abs=0.1), Comparison.within("b", 2, 1, abs=0.1)
    assert Verdict.of([good, good], "s").status == "reproduced"
    assert Verdict.of([good, bad], "s").status == "not reproduced"
    assert Verdict.of([], "s").status == "inconclusive"  # nothing compared is not a success
    weak = Verdict.of([good], "s", inconclusive="two points")
    assert weak.status == "inconclusive" and weak.notes[0] == "two points"


def test_plots_take_numpy_arrays_and_pandas_series_and_text_is_bounded():
    import numpy as np

    from suite.verdict import TEXT_LIMIT

    frame = pd.DataFrame({"k": [10.0, 100.0], "steps": [30, np.inf]})
    verdict = Verdict.of([Comparison.at_least("share", np.float32(0.5), 0.25)], "x" * (3 * TEXT_LIMIT),
                         plots=[Plot("t", "x", "y", [Series("m", frame["k"], frame["steps"].to_numpy())])],
                         numbers=frame)
    data = json.loads(json.dumps(verdict.to_json(), allow_nan=False))
    assert data["plots"][0]["series"][0]["x"] == [10.0, 100.0] and data["plots"][0]["series"][0]["y"] == [30.0, None]
    assert len(data["summary"]) == TEXT_LIMIT and data["summary"].endswith("…")
    # A one-sided bound is a tolerance, not a theory value.
    assert data["comparisons"][0]["theory"] is None and data["comparisons"][0]["tolerance"] == "≥ 0.25"


def test_a_verdict_survives_json_with_non_finite_numbers_as_null():
    verdict = Verdict.of([Comparison.within("a", math.inf, 1.0, abs=0.1)], "s",
                         plots=[Plot("t", "x", "y", [Series("m", [1, 2], [3.0, math.nan]),
                                                     Series("th", [1, 2], [3, 4], kind="theory")], x_log=True)],
                         numbers=pd.DataFrame({"k": [1.0], "steps": [math.inf]}))
    data = json.loads(json.dumps(verdict.to_json(), allow_nan=False))
    assert data["comparisons"][0]["measured"] is None and data["numbers"][0]["steps"] is None
    back = Verdict.from_json(data)
    assert back.status == "not reproduced" and back.plots[0].series[1].kind == "theory"
    assert back.plots[0].series[0].y == [3.0, None]


# --- evaluation never fails a run ------------------------------------------------------------


def _tables(status=("ok", "ok")):
    cells = pd.DataFrame({"cell_id": ["a", "b"], "status": list(status), "x": [1.0, 2.0]})
    return {"cells": cells, "restarts": pd.DataFrame(), "curves": pd.DataFrame()}


class _Registry:
    def __init__(self, **checks):
        from suite.specs import StudySpec

        toml = Path(__file__).resolve().parents[1] / "studies" / "ill_conditioning.toml"
        self.studies = {name: StudySpec(name, toml, check) for name, check in checks.items()}


def test_a_check_that_raises_gives_an_error_verdict_not_an_exception():
    def broken(data):
        raise ZeroDivisionError("boom")

    def exits(data):
        raise SystemExit(3)

    record = study.evaluate(_tables(), {"name": "x"}, _Registry(x=exits))
    assert record["verdict"]["status"] == "error" and "SystemExit: 3" in record["verdict"]["summary"]

    record = study.evaluate(_tables(), {"name": "x"}, _Registry(x=broken))
    assert record["verdict"]["status"] == "error" and "ZeroDivisionError: boom" in record["verdict"]["summary"]
    record = study.evaluate(_tables(), {"name": "x"}, _Registry(x=lambda data: "reproduced"))
    assert record["verdict"]["status"] == "error" and "not a suite.verdict.Verdict" in record["verdict"]["summary"]
    record = study.evaluate(_tables(), {"name": "gone"}, _Registry(x=broken))
    assert record["verdict"]["status"] == "error" and "not installed" in record["verdict"]["summary"]


def test_failed_or_missing_cells_make_a_reproduction_inconclusive():
    def passes(data: StudyData):
        assert list(data.ok["cell_id"]) == ["a"]  # the check sees which cells finished
        return Verdict.of([Comparison.within("a", 1, 1, abs=0.1)], "s")

    record = study.evaluate(_tables(("ok", "failed")), {"name": "x"}, _Registry(x=passes), planned=3)
    verdict = record["verdict"]
    assert verdict["status"] == "inconclusive"
    assert verdict["notes"][-1].startswith("1 cell failed and 1 never ran of 3")

    def fails(data):
        return Verdict.of([Comparison.within("a", 2, 1, abs=0.1)], "s")

    record = study.evaluate(_tables(("ok", "failed")), {"name": "x"}, _Registry(x=fails))
    assert record["verdict"]["status"] == "not reproduced"  # a miss stays a miss


# --- every built-in study, end to end at size tiny ----------------------------------------


@pytest.mark.parametrize("name", BUILTIN)
def test_every_study_parses_at_every_size(name):
    spec = load_registry(make_plugin_manager()).study(name)
    table = study.read(spec)["study"]
    assert table["claim"].strip() and table["references"] and table["tolerance"]
    sizes = {size: study.config(spec, size) for size in study.SIZES}
    for size, config in sizes.items():
        assert config.study["name"] == name and config.study["size"] == size
    # The small size is smaller than the full one: no more restarts, steps or cells.
    assert sizes["tiny"].restarts <= sizes["small"].restarts <= sizes["full"].restarts
    assert sizes["tiny"].steps <= sizes["small"].steps <= sizes["full"].steps


@pytest.mark.parametrize("name", BUILTIN)
def test_every_study_runs_checks_and_reports_at_size_tiny(name, tmp_path):
    run = study_api.run_study(name, size="tiny", out=tmp_path / name, progress=False)
    record = run.verdict
    assert record is not None and record["study"] == name and record["size"] == "tiny"
    verdict = Verdict.from_json(record["verdict"])
    assert verdict.status in STATUSES and verdict.status != "error", verdict.summary
    assert verdict.summary
    report = run.report()
    html = report.read_text()
    assert "Study: claim, theory and verdict" in html and "Verdict:" in html
    assert "Size tiny checks the machinery only" in html
    assert "failed: " not in html.split("Study: claim", 1)[1].split("</section>", 1)[0]


def test_a_study_is_an_ordinary_run_folder(tmp_path):
    """suite study run, then suite report, suite run --resume and suite publish on its folder."""
    out, site = tmp_path / "study", tmp_path / "site"
    done = suite_cli("study", "run", "penalties", "--size", "tiny", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("penalties: ") and (out / "study.json").is_file()
    first = json.loads((out / "study.json").read_text())
    (out / "study.json").unlink()  # the report recomputes the verdict from the tables
    done = suite_cli("report", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "study.json").read_text()) == first
    done = suite_cli("run", "--resume", str(out), "--quiet", "--no-report")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "study.json").read_text()) == first
    done = suite_cli("publish", str(out), "--site", str(site))
    assert done.returncode == 0, done.stderr
    index = (site / "index.html").read_text()
    assert "<h2>Studies</h2>" in index and ">penalties</a>" in index
    assert f'class="verdict {first["verdict"]["status"].replace(" ", "-")}"' in index
    assert (site / "runs" / "study" / "study.json").is_file()


def test_a_third_party_study_registers_through_the_same_hook(tmp_path):
    (tmp_path / "claim.toml").write_text(textwrap.dedent("""
        restarts = 4
        steps = 30
        [[landscape]]
        name = "bowl"
        dim = 2
        condition = 1.0
        [[optimizer]]
        name = "sgd"
        learning_rate = 0.5
        [study]
        claim = "Gradient descent at step 1/L solves a round bowl."
        references = ["Cauchy 1847"]
        [study.tolerance]
        success = 1.0
        [study.size.small]
        restarts = 3
        [study.size.tiny]
        restarts = 2
    """))
    (tmp_path / "my_study.py").write_text(textwrap.dedent("""
        from pathlib import Path
        import suite
        from suite.verdict import Comparison, Verdict

        def check(data):
            share = float((data.restarts["final_loss"] < 1e-8).mean())
            return Verdict.of([Comparison.at_least("share of restarts solved", share,
                                                   data.tolerance["success"])], f"share {share}")

        @suite.hookimpl
        def register_studies(register):
            register("round_bowl", Path(__file__).with_name("claim.toml"), check)
    """))
    plugin = str(tmp_path / "my_study.py")
    listed = suite_cli("study", "list", "--plugin", plugin)
    assert listed.returncode == 0 and "round_bowl" in listed.stdout and "Cauchy 1847" in listed.stdout
    done = suite_cli("study", "run", "round_bowl", "--plugin", plugin, "--size", "small", "--out",
                     str(tmp_path / "run"), "--quiet")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "run" / "study.json").read_text())
    # 30 steps at 0.5 on a round bowl: the error halves each step, 2^-60 · 25 < 1e-8. By hand.
    assert record["verdict"]["status"] == "reproduced", record
    assert record["verdict"]["comparisons"][0]["measured"] == 1.0
    # The plugin is recorded with the run: a report without --plugin keeps its verdict, and says why.
    done = suite_cli("report", str(tmp_path / "run"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "study.json").read_text()) == record
    assert "is not installed here" in (tmp_path / "run" / "report.html").read_text()
    done = suite_cli("run", "--resume", str(tmp_path / "run"), "--quiet", "--no-report")  # loads it again
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "study.json").read_text()) == record
    # At size tiny the same measurement is only a test of the machinery.
    done = suite_cli("study", "run", "round_bowl", "--plugin", plugin, "--size", "tiny", "--out",
                     str(tmp_path / "tiny"), "--quiet", "--no-report")
    tiny = json.loads((tmp_path / "tiny" / "study.json").read_text())["verdict"]
    assert tiny["status"] == "inconclusive" and "would have said 'reproduced'" in tiny["notes"][0]


@pytest.mark.parametrize("args, message", [
    (["study", "run", "nope"], "unknown study 'nope'; choose from: deep_linear_plateaus"),
    (["study", "run", "penalties", "--size", "huge"], "unknown study size 'huge'; choose from: tiny, small, full"),
    (["study", "run", "all", "penalties"], "all runs every study: give it alone"),
    (["study", "run", "penalties", "penalties"], "a study is named twice"),
    (["study", "frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_study_commands_fail_in_one_line(args, message, tmp_path):
    done = suite_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "reports").exists()


def test_a_study_file_run_as_a_plain_config_is_refused(tmp_path):
    done = suite_cli("run", str(Path(__file__).resolve().parents[1] / "studies" / "penalties.toml"), "--out",
                     str(tmp_path / "run"))
    assert done.returncode == 2 and "run it with suite study run NAME" in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("out, message", [("", "out is empty"), ("afile", "is a file, not a folder")])
def test_a_bad_out_is_refused_before_any_study_runs(tmp_path, out, message):
    (tmp_path / "afile").write_text("mine")
    done = suite_cli("study", "run", "penalties", "saddles", "--size", "tiny", "--out", out, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_an_interrupted_study_run_continues_with_resume_and_edited_tolerances_do_not_count(tmp_path):
    out = tmp_path / "studies"
    done = suite_cli("study", "run", "penalties", "ill_conditioning", "--size", "tiny", "--out", str(out),
                     "--quiet", "--no-report")
    assert done.returncode == 0, done.stderr
    first = json.loads((out / "penalties" / "study.json").read_text())
    # One study lost its tables (as if interrupted before it finished); the tolerance is edited afterwards.
    (out / "penalties" / "study.json").unlink()
    for table in ("cells.parquet", "restarts.parquet", "curves.parquet"):
        (out / "penalties" / table).unlink()
    config = out / "penalties" / "config.toml"
    config.write_text(config.read_text().replace("z = 3.0", "z = 0.001"))
    again = suite_cli("study", "run", "penalties", "ill_conditioning", "--size", "tiny", "--out", str(out),
                      "--quiet", "--no-report")
    assert again.returncode == 2 and "already holds a run" in again.stderr
    again = suite_cli("study", "run", "penalties", "ill_conditioning", "--size", "tiny", "--out", str(out),
                      "--quiet", "--no-report", "--resume")
    assert again.returncode == 0, again.stderr
    second = json.loads((out / "penalties" / "study.json").read_text())
    assert second["tolerance"] == first["tolerance"] == {"z": 3.0, "relative": 0.02}
    assert second["verdict"]["comparisons"] == first["verdict"]["comparisons"]
    assert second["verdict"]["notes"][-1].startswith("config.toml's [study] table was edited after the run began")
    wrong = suite_cli("study", "run", "saddles", "--size", "tiny", "--out", str(out / "penalties"), "--resume")
    assert wrong.returncode == 2 and "holds study 'penalties' at size tiny, not study 'saddles'" in wrong.stderr


def test_a_broken_check_fails_the_command(tmp_path):
    (tmp_path / "broken.py").write_text(textwrap.dedent(f"""
        import suite

        def check(data):
            return None

        @suite.hookimpl
        def register_studies(register):
            register("broken", {str(Path(__file__).resolve().parents[1] / "studies" / "penalties.toml")!r}, check)
    """))
    done = suite_cli("study", "run", "broken", "--plugin", str(tmp_path / "broken.py"), "--size", "tiny",
                     "--out", str(tmp_path / "run"), "--quiet", "--no-report")
    assert done.returncode == 1 and "broken: error: " in done.stdout


def test_a_study_folder_that_holds_a_run_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / "penalties"  # where `all` would put the study penalties
    out.mkdir()
    (out / "config.toml").write_text("seed = 0\n")
    done = suite_cli("study", "run", "all", "--size", "tiny", "--out", str(tmp_path))
    assert done.returncode == 2 and "already holds a run" in done.stderr
    done = suite_cli("study", "run", "penalties", "--size", "tiny", "--out", str(out))
    assert done.returncode == 2 and "already holds a run" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["penalties"]


@pytest.mark.parametrize("text, message", [
    ("seed = 0\n", "has no [study] table"),
    ("[study]\nreferences = []\n", 'needs claim = "..."'),
    ("[study]\nclaim = 'c'\n[study.size.huge]\nsteps = 1\n", "unknown size 'huge'"),
    ("[study]\nclaim = 'c'\ntolerance = 3\n", "tolerance in"),
    ("[study\n", "cannot read"),
    ("[study]\nclaim = 'c'\n[study.tolerance]\nslope = nan\n", "tolerance slope in"),
    ("[study]\nclaim = 'c'\n[study.tolerance]\nslope = 'tight'\n", "must be a finite number"),
    ("[study]\nclaim = 'c'\nsince = 1979-05-27\n", "date or time"),
    ("[study]\nclaim = 'c'\ntarget = inf\n", "target must be a finite number"),
    ("[study]\nclaim = 'c'\nreferences = [1]\n", "must be a list of strings"),
    ("[study]\nclaim = 'c'\n[study.size.tiny.study]\nclaim = 'd'\n", "run keys only"),
])
def test_a_broken_study_file_is_named_in_one_line(tmp_path, text, message):
    from suite.errors import UsageError
    from suite.specs import StudySpec

    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match="study 'mine'") as caught:
        study.config(StudySpec("mine", path, lambda d: None), "tiny")
    assert message in str(caught.value) and "\n" not in str(caught.value)
