"""The HTML report and the published site, from real (small) run folders."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from suite.cli import main
from suite.registry import load_registry, make_plugin_manager
from suite.report import Report, write_report

SMALL = ["--restarts", "8", "--steps", "60", "--quiet"]

# A landscape whose description, parameter and error message try to inject markup.
HOSTILE = '''
import jax.numpy as jnp, suite

def _init(data, key):
    return jnp.ones(2)

def _loss(data, x, key):
    return jnp.sum(x ** 2)

def build(params, *, key):
    if params["mode"] == "raise":
        raise ValueError("<img src=x onerror=window.pwned=2>")
    return suite.Landscape(data={}, init_fn=_init, loss_fn=_loss, f_opt=0.0)

@suite.hookimpl
def register_landscapes(register):
    register("hostile", build, params=[suite.Param("mode", str, "<b>bold</b>", "free text")],
             doc="<script>window.pwned = 1</script> A sphere.")
'''

SECTIONS = '''
import suite
from suite.report import Figure, Note, Table, Text, figures

def counts(report):
    """Cells per entry."""
    yield Table(report.ok.groupby("entry").size().rename("cells").reset_index(),
                caption="cells per entry (from a plugin)")

def per_landscape(report, landscape):
    yield Text(f"plugin section for {landscape}")

def broken(report):
    raise RuntimeError("section exploded")

def wrong(report):
    return ["<i>raw html</i>"]

def bad_figure(report):
    yield Figure("not a matplotlib figure", caption="never shown")

def divergence(report):  # the README's example
    fig, axes = figures.new()
    for entry, rows in report.board.groupby("entry"):
        axes[0, 0].bar(entry, rows["divergence_rate"].mean(), color=report.colors[entry])
    yield Figure(fig, caption="Mean divergence rate of each entry's selected settings.")

@suite.hookimpl
def register_report_sections(register):
    register("divergence", divergence, title="Divergence", order=71)
    register("cell_counts", counts, title="Cells per entry (plugin)", order=70)
    register("plugin_landscape", per_landscape, title="Plugin per landscape", scope="landscape", order=170)
    register("broken", broken, title="Broken section", order=80)
    register("wrong", wrong, title="Wrong section", order=81)
    register("bad_figure", bad_figure, title="Bad figure", order=82)
'''


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished run with an exact-f* landscape and a reference-f* one, reported at the end."""
    out = tmp_path_factory.mktemp("runs") / "small"
    code = main(["run", "--landscape", "bowl:dim=3:condition=10", "--landscape", "pspin:n=8:p=3",
                 "--optimizer", "sgd:sweep.learning_rate=0.01,0.3", "--optimizer", "adam:sweep.learning_rate=0.01,0.1",
                 "--out", str(out), *SMALL])
    assert code == 0
    return out


def _sections(html: str) -> list[str]:
    return re.findall(r"<h[24]>(.*?)</h[24]>", html)


def test_run_writes_the_report(run_dir):
    html = (run_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    titles = _sections(html)
    for title in ("Summary", "Leaderboard", "Runtime ECDF over all landscapes", "Performance profile",
                  "Pairwise win rates", "Ranking stability", "Convergence", "Runtime ECDF",
                  "Final-loss distributions", "ERT with intervals", "Time versus quality",
                  "Sweep sensitivity", "Run metadata and reproduction"):
        assert title in titles, title
    assert titles.count("Convergence") == 2  # once per landscape
    assert "Section &#39;" not in html  # no built-in section failed
    # The selection rule is written out, and the exact command that reproduces the run.
    assert "Selection rule: each entry" in html
    assert f"suite run {run_dir / 'config.toml'}" in html


def test_the_report_is_self_contained(run_dir):
    html = (run_dir / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "<script src" not in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == html.count("<figure") >= 2 + 2 * 6
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "default-src 'none'" in html  # nothing outside the file may load


def test_every_figure_has_a_caption_and_reference_f_star_is_flagged(run_dir):
    html = (run_dir / "report.html").read_text()
    figures = re.findall(r"<figure.*?</figure>", html, flags=re.S)
    assert all(re.search(r"<figcaption>\w.{40,}</figcaption>", f, flags=re.S) for f in figures)
    pspin = html[html.index("Landscape: pspin"):]
    pspin = pspin[:pspin.index("</section>")]
    pspin_figures = re.findall(r"<figure.*?</figure>", pspin, flags=re.S)
    assert pspin_figures and all("is a reference value" in f for f in pspin_figures)
    bowl = html[html.index("Landscape: bowl"):]
    bowl = bowl[:bowl.index("</section>")]
    assert "is a reference value" not in bowl
    # Cross-landscape figures use p-spin's f* too, so they carry the flag as well.
    ecdf = html[html.index("Runtime ECDF over all landscapes"):]
    assert "pspin(n=8, p=3): f* =" in ecdf[:ecdf.index("</figure>")]


def test_each_entry_keeps_one_colour(run_dir):
    report = Report(run_dir)
    assert sorted(report.colors) == sorted(report.entries) == ["adam", "sgd"]
    assert len(set(report.colors.values())) == len(report.entries)
    assert report.colors == Report(run_dir).colors  # the same in every report of the run


def test_a_run_where_every_cell_failed_still_reports(tmp_path, capsys):
    plugin = tmp_path / "hostile.py"
    plugin.write_text(HOSTILE)
    out = tmp_path / "run"
    assert main(["run", "--plugin", str(plugin), "--landscape", "hostile:mode=raise",
                 "--optimizer", "sgd:learning_rate=0.1", "--out", str(out), *SMALL]) == 1
    html = (out / "report.html").read_text()
    assert "No cell finished, so there is nothing to rank." in html
    assert "0 of 1 planned cells finished, 1 failed" in html
    assert "ValueError: &lt;img src=x" in html


def test_report_rebuilds_from_the_folder_alone_and_is_deterministic(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("cells", "report.html"))
    first = write_report(copy, tmp_path / "a.html").read_bytes()
    # Again in a fresh process with another string-hash seed: set and dict orders,
    # matplotlib's ids and anything else one process fixes may differ there.
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = os.environ | {"PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-m", "suite", "report", str(copy), "--out", str(tmp_path / "b.html"),
                           "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.html").read_bytes() == first
    text = first.decode()
    assert "4 of 8 planned cells" not in text and "8 of 8 planned cells finished" in text


def test_suite_report_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(run_dir), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.stat().st_size > 10_000
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_plugin_strings_config_strings_and_results_strings_are_escaped(tmp_path, capsys):
    plugin = tmp_path / "hostile.py"
    plugin.write_text(HOSTILE)
    out = tmp_path / "run"
    code = main(["run", "--plugin", str(plugin), "--landscape", "hostile",
                 "--landscape", "hostile:mode=raise", "--optimizer", "sgd:learning_rate=0.1",
                 "--out", str(out), *SMALL])
    assert code == 1  # the raising instance failed; the other cell is kept
    stdout = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in stdout and "ranking stability: top entry sgd" in stdout
    html = (out / "report.html").read_text()
    assert "window.pwned" in html  # the text is shown...
    assert "<script>window.pwned" not in html and "<img src=x" not in html  # ...never run
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt; A sphere." in html
    assert "&lt;img src=x onerror=window.pwned=2&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "No cell finished on this landscape; see &#39;Failures&#39; for why." in html


def test_plugin_sections_are_laid_out_and_a_broken_one_is_contained(run_dir, tmp_path):
    plugin = tmp_path / "sections.py"
    plugin.write_text(SECTIONS)
    registry = load_registry(make_plugin_manager(local_files=[plugin]))
    html = write_report(run_dir, tmp_path / "r.html", registry=registry).read_text()
    titles = _sections(html)
    assert titles.index("Ranking stability") < titles.index("Cells per entry (plugin)") \
        < titles.index("Landscape: bowl(condition=10.0, dim=3, rotate=True, spectrum=&#39;log&#39;)")
    assert titles.count("Plugin per landscape") == 2
    assert "cells per entry (from a plugin)" in html
    divergence = html[html.index("<h2>Divergence</h2>"):]
    assert divergence.index("<img") < divergence.index("</section>")
    assert "Mean divergence rate of each entry" in divergence
    assert "Section &#39;broken&#39; (plugin" in html and "RuntimeError: section exploded" in html
    assert "returned str, not a suite.report block" in html and "<i>raw html</i>" not in html
    assert "Section &#39;bad_figure&#39; (plugin" in html and "never shown" not in html
    assert "Performance profile" in titles  # the rest of the report is intact


def test_a_partial_run_renders_and_says_what_is_missing(run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial)
    for name in ("cells", "restarts", "curves"):
        (partial / f"{name}.parquet").unlink()
    cells = pd.read_parquet(run_dir / "cells.parquet")
    gone = cells[cells["landscape_label"].str.startswith("pspin") & (cells["optimizer"] == "adam")]
    for cell_id in gone["cell_id"]:
        shutil.rmtree(partial / "cells" / cell_id)
    metadata = json.loads((partial / "metadata.json").read_text())
    metadata["interrupted"] = True
    (partial / "metadata.json").write_text(json.dumps(metadata))
    report = Report(partial)
    assert {c["cell_id"] for c in report.missing} == set(gone["cell_id"])
    html = write_report(partial, tmp_path / "p.html").read_text()
    assert "This run is partial: 2 planned cells never ran (the run was interrupted)" in html
    assert f"suite run --resume {partial}" in html
    assert all(cell_id in html for cell_id in gone["cell_id"])  # listed under Failures
    assert "6 of 8 planned cells finished" in html


def test_publish_builds_an_index_of_runs(run_dir, tmp_path, capsys):
    site = tmp_path / "site"
    second = tmp_path / "second"
    shutil.copytree(run_dir, second)
    assert main(["publish", str(run_dir), str(second), "--site", str(site)]) == 0
    assert capsys.readouterr().out.strip() == str(site / "index.html")
    index = (site / "index.html").read_text()
    for name in ("small", "second"):
        assert f'href="runs/{name}/report.html"' in index
        assert f'href="runs/{name}/cells.parquet"' in index
        assert (site / "runs" / name / "report.html").is_file()
        assert (site / "runs" / name / "restarts.parquet").is_file()
    assert "cpu" in index and "bowl(condition=10.0" in index and "1. " in index
    # Publishing one again replaces it and keeps the other; the copy re-renders on its own.
    assert main(["publish", str(second), "--site", str(site)]) == 0
    runs = json.loads((site / "runs.json").read_text())
    assert sorted(r["name"] for r in runs) == ["second", "small"]
    assert main(["report", str(site / "runs" / "small"), "--out", str(tmp_path / "again.html"),
                 "--quiet"]) == 0
    (tmp_path / "file").write_text("")
    assert main(["publish", str(run_dir), "--site", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_navigation_names_tell_settings_and_instances_apart():
    from suite.report.render import _short_names

    assert _short_names(["bowl(c=1)", "bowl(c=1)#1", "bowl(c=10)", "pspin(n=3)"]) == {
        "bowl(c=1)": "bowl 1", "bowl(c=1)#1": "bowl 1 #1", "bowl(c=10)": "bowl 2", "pspin(n=3)": "pspin"}


def test_a_top_place_that_flips_with_the_seed_reads_as_uncertain(run_dir):
    from suite.report import Note, headline
    from suite.report.sections import summary

    report = Report(run_dir)
    overall = report.overall.copy()
    overall.loc[0, "top_share"] = 0.6  # as if another seed often made another entry first
    report.__dict__["overall"] = overall
    notes = [b for b in summary(report) if isinstance(b, Note) and b.kind == "warning"]
    assert any("stays on top in 60% of" in n.text and "The ranking is uncertain" in n.text for n in notes)
    assert "(uncertain: another seed could change the winner)" in headline(report)
    overall.loc[0, "top_share"] = 0.99
    assert not [b for b in summary(report) if isinstance(b, Note) and "uncertain" in b.text]
    assert "uncertain" not in headline(report)


def test_the_report_says_where_every_component_came_from(tmp_path):
    import hashlib
    from pathlib import Path

    plugin = Path(__file__).parent / "plugins" / "styblinski_tang.py"
    out = tmp_path / "run"
    assert main(["run", "--landscape", "styblinski_tang:dim=2", "--optimizer", "sgd:learning_rate=0.01",
                 "--plugin", str(plugin), "--restarts", "2", "--steps", "5", "--quiet", "--no-report",
                 "--out", str(out)]) == 0
    html = write_report(out, tmp_path / "r.html", registry=load_registry(local_files=[str(plugin)])).read_text()
    digest = hashlib.sha256(plugin.read_bytes()).hexdigest()
    assert f"sha256 {digest[:16]}" in html
    from importlib.metadata import version

    assert f"landscape-suite {version('landscape-suite')}" in html
