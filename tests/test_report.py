"""The HTML report and the published site, from real (small) run folders."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape

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
    assert all(src.startswith("data:image/svg+xml;base64,") for src in images)  # these figures are light
    for src in images:
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
        assert "<svg" in svg and "</svg>" in svg
        # Every reference inside a figure is to itself (#id) or embedded (a colour bar's pixels): an
        # image that named a URL could not load it here, and would leak that the report was opened if it could.
        assert all(ref.startswith("data:image/png;base64,") for ref in re.findall(r'href="([^"#][^"]*)"', svg))
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
    assert "2 runs, newest first" in index and "<td>2 landscapes<div" in index and "8 cells finished" in index
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
        "bowl(c=1)": "bowl c=1", "bowl(c=1)#1": "bowl c=1 #1", "bowl(c=10)": "bowl c=10", "pspin(n=3)": "pspin"}
    # Labels as the plan writes them: only the parameters that differ, values as typed.
    labels = ["bowl(condition=10.0, dim=3, rotate=True, spectrum='log')",
              "bowl(condition=1000.0, dim=3, rotate=True, spectrum='log')",
              "pspin(n=8, p=3)", "pspin(n=32, p=3)", "pspin(n=32, p=3)#1",
              "deep_linear(depth=3, init='small', width=2)", "deep_linear(depth=3, init='orthogonal', width=4)",
              "x(a='p, q', b=[1, 2])", "x(a='p, q', b=[1, 3])"]
    assert list(_short_names(labels).values()) == [
        "bowl condition=10", "bowl condition=1000", "pspin n=8", "pspin n=32", "pspin n=32 #1",
        "deep_linear init=small width=2", "deep_linear init=orthogonal width=4", "x b=[1, 2]", "x b=[1, 3]"]
    # Labels of another shape never share a name either.
    names = _short_names(["odd", "odd()", "odd(", "odd(a=1"])
    assert len(set(names.values())) == 4


def test_counts_take_the_number_of_their_noun():
    from suite.report.text import count

    assert [count(n, "entry") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert [count(n, "landscape") for n in (1, 2)] == ["1 landscape", "2 landscapes"]
    assert count(1, "optimizer setting") == "1 optimizer setting"
    assert count(3, "optimizer setting") == "3 optimizer settings"
    assert count(2, "day") == "2 days" and count(2, "pass") == "2 passes"
    assert count(2, "matrix", "matrices") == "2 matrices"


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """A run of one landscape and one entry with one cell: every count in it is one."""
    out = tmp_path_factory.mktemp("runs") / "single"
    assert main(["run", "--landscape", "bowl:dim=2", "--optimizer", "sgd:learning_rate=0.1", "--restarts", "2",
                 "--steps", "5", "--quiet", "--out", str(out)]) == 0
    return out


def test_a_run_of_one_of_each_says_so_in_the_singular(single_run, run_dir, tmp_path):
    html = (single_run / "report.html").read_text()
    assert "<p>1 landscape · 1 entry · 1 cell finished · started" in html
    assert "1 landscape, 1 entry; 1 of 1 planned cells finished" in html
    assert "over 1 landscape × 51 targets × " in html
    assert not re.search(r"\b1 (landscapes|entries|cells|targets|problems|runs)\b", html)
    assert "2 landscapes · 2 entries · 8 cells finished" in (run_dir / "report.html").read_text()
    site = tmp_path / "site"
    assert main(["publish", str(single_run), "--site", str(site)]) == 0
    index = (site / "index.html").read_text()
    assert "1 run, newest first" in index and "<td>1 landscape<div" in index and "1 cell finished" in index


def test_the_long_config_and_the_targets_are_folded(run_dir):
    html = (run_dir / "report.html").read_text()
    folds = re.findall(r"<details( open)?><summary>(.*?)</summary>(.*?)</details>", html, flags=re.S)
    summaries = {summary: body for opened, summary, body in folds if not opened}
    assert len(folds) == len(summaries) == 2  # both closed
    config = (run_dir / "config.toml").read_text()
    lines = len(config.splitlines())
    (summary, body), = [(k, v) for k, v in summaries.items() if k.startswith("config.toml")]
    assert summary == (f"config.toml, as the run resolved it ({lines} lines: seed 0, 51 targets, "
                       f"4 optimizer settings, 2 landscapes)")
    assert unescape(body) == f"<pre>{config}</pre>"  # the whole file, as written
    (summary, body), = [(k, v) for k, v in summaries.items() if k.startswith("The ")]
    assert summary == "The 51 targets, Δf ≤ 100 down to Δf ≤ 1e-08, as tables name them (exact values in config.toml)"
    shown = unescape(body).removeprefix("<pre>").removesuffix("</pre>")
    assert shown.split() == Report(run_dir).target_labels and len(shown.splitlines()) == 11  # five a line


def _csp(html: str) -> dict[str, list[str]]:
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html).group(1)
    policy = policy.replace("&#39;", "'")
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def test_the_policy_allows_exactly_the_inline_script_and_style(run_dir, single_run, tmp_path):
    import hashlib

    html = (run_dir / "report.html").read_text()
    policy = _csp(html)
    assert policy["default-src"] == ["'none'"] and policy["img-src"] == ["data:"]
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(scripts) == len(styles) == 1 and html.count("<script") == html.count("<style") == 1
    for directive, text in (("script-src", scripts[0]), ("style-src", styles[0])):
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        assert policy[directive] == [f"'sha256-{digest}'"], directive
    assert "unsafe-inline" not in html and "addEventListener" in scripts[0]
    # The site's index has a style and no script, allowed the same way.
    site = tmp_path / "site"
    assert main(["publish", str(single_run), "--site", str(site)]) == 0
    index = (site / "index.html").read_text()
    policy = _csp(index)
    (style,) = re.findall(r"<style>(.*?)</style>", index, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode()
    assert policy["style-src"] == [f"'sha256-{digest}'"] and "script-src" not in policy
    assert "<script" not in index and "unsafe-inline" not in index


def test_the_index_marks_an_uncertain_or_shared_first_place_as_the_report_does(run_dir, single_run, tmp_path):
    from suite.report import headline

    uncertain = "(uncertain: another seed could change the winner)"
    report = Report(run_dir)
    assert uncertain not in headline(report)
    overall = report.overall.copy()
    overall.loc[0, "top_share"] = 0.6  # as if another seed often made another entry first
    report.__dict__["overall"] = overall
    assert uncertain in headline(report)  # the report's headline at this share; the index must say the same
    other = tmp_path / "other"
    shutil.copytree(single_run, other)
    site = tmp_path / "site"
    assert main(["publish", str(single_run), str(other), "--site", str(site)]) == 0
    assert uncertain not in (site / "index.html").read_text()

    def listed(ranking: list[dict]) -> str:
        """The index's row of run 'other', listed with ``ranking`` (the index is rewritten from runs.json)."""
        runs = json.loads((site / "runs.json").read_text())
        next(r for r in runs if r["name"] == "other")["ranking"] = ranking
        (site / "runs.json").write_text(json.dumps(runs))
        assert main(["publish", str(single_run), "--site", str(site)]) == 0
        index = (site / "index.html").read_text()
        start = index.index('<a href="runs/other/report.html">')
        return index[start:index.index("</tr>", start)]

    assert uncertain in listed([{"rank": 1, "entry": "sgd", "top_share": 0.6}, {"rank": 2, "entry": "adam",
                                                                                "top_share": 0.4}])
    assert uncertain not in listed([{"rank": 1, "entry": "sgd", "top_share": 0.95}])  # CONFIDENT is enough
    row = listed([{"rank": 1, "entry": "sgd", "top_share": 0.5}, {"rank": 1, "entry": "adam", "top_share": 0.5}])
    assert "(tied for first: no single top entry)" in row and uncertain not in row
    index = (site / "index.html").read_text()
    start = index.index('<a href="runs/single/report.html">')
    assert "uncertain" not in index[start:index.index("</tr>", start)]


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



def _overprinting(fig, texts: bool = True) -> list[tuple[str, str]]:
    """Pairs of labels that overprint where matplotlib draws them: tick labels on one axis, and the texts
    inside one panel (the reference-level names), measured by a full render (``get_window_extent``)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        frame = ax.get_window_extent(renderer)
        groups = []
        for axis, i in ((ax.xaxis, 0), (ax.yaxis, 1)):
            low, high = (frame.x0, frame.x1) if i == 0 else (frame.y0, frame.y1)
            # Only labels drawn: their tick lies within the panel.
            groups.append([t for t in axis.get_ticklabels(which="both") if t.get_visible() and t.get_text().strip()
                           and low - 1 <= t.get_transform().transform(t.get_position())[i] <= high + 1])
        if texts:
            groups.append([t for t in ax.texts if t.get_visible() and t.get_text().strip()])
        for labels in groups:
            shapes = [_outline(t, renderer) for t in labels]
            found += [(labels[i].get_text(), labels[j].get_text()) for i in range(len(labels))
                      for j in range(i + 1, len(labels)) if _meet(shapes[i], shapes[j])]
    return found


def _outline(text, renderer):
    """The corners of a drawn text in display pixels: its box, or for slanted text (rotated about the
    end at its tick) the slanted rectangle, whose axis-aligned box would overstate what it covers."""
    import numpy as np
    from matplotlib.text import Text

    if text.get_rotation() % 90 == 0:  # upright or turned a quarter: the box is what it covers
        box = text.get_window_extent(renderer)
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    assert text.get_rotation_mode() == "anchor", "slanted labels turn about their anchor"
    flat = Text(text=text.get_text(), fontproperties=text.get_fontproperties())
    flat.set_figure(text.get_figure())
    box = flat.get_window_extent(renderer)
    w, h = box.width, box.height
    x0 = {"left": 0, "center": -w / 2, "right": -w}[text.get_ha()]
    y0 = {"bottom": 0, "baseline": 0, "center": -h / 2, "center_baseline": -h / 2, "top": -h}[text.get_va()]
    angle = np.radians(text.get_rotation())
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]])
    return corners @ turn.T + text.get_transform().transform(text.get_position())


def _meet(a, b) -> bool:
    """Whether two convex outlines overlap (no edge direction of either separates them)."""
    import numpy as np

    for shape in (a, b):
        for i in range(len(shape)):
            edge = shape[(i + 1) % len(shape)] - shape[i]
            normal = np.array([-edge[1], edge[0]])
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def test_close_levels_and_crowded_ticks_are_laid_out_without_overprinting():
    import numpy as np

    from suite.report import figures
    from suite.report.layout import layout

    def levels():  # the p-spin threshold and ground state lie close; a third level closer still
        fig, axes = figures.new(2, 2, height=2.7, sharey="row")
        scale = figures.LossScale({"f_opt": -1.657, "kind": "reference", "levels": {
            "threshold": -1.633, "ground state (N → ∞)": -1.657, "E∞ (mid)": -1.645}})
        for ax in axes.ravel():
            ax.plot([0, 60], [0, -1.2])
            scale.lines(ax)
        return fig

    def seconds(helper: bool):  # every restart took about as long: less than a decade of seconds
        fig, axes = figures.new(width=4.6, height=3.0)
        x = np.linspace(2.42e-3, 2.436e-3, 5)
        axes[0, 0].plot(x, x)
        figures.seconds_axis(axes[0, 0], x) if helper else axes[0, 0].set_xscale("log")
        return fig

    assert _overprinting(levels()) and _overprinting(seconds(False))  # drawn as they come, they do
    for make in (levels, lambda: seconds(False), lambda: seconds(True)):
        fig = make()
        layout(fig)
        assert _overprinting(fig) == []
    fig = seconds(True)
    assert _overprinting(fig) == []  # durations on a linear axis need no thinning at all
    labels = [t.get_text() for t in fig.axes[0].xaxis.get_ticklabels() if t.get_visible() and t.get_text()]
    assert len(labels) >= 3 and all(t.endswith(" ms") for t in labels)
    fig = levels()
    layout(fig)
    for ax in fig.axes:  # every level keeps its name
        assert sorted(t.get_text() for t in ax.texts if t.get_visible()) == [
            "E∞ (mid)", "ground state (N → ∞)", "threshold"]


def test_no_figure_of_the_report_overprints_its_labels(run_dir):
    from suite.report.blocks import Figure
    from suite.report.layout import layout
    from suite.report.sections import BUILTIN

    report = Report(run_dir)
    checked = 0
    for name, render, _, scope, _ in BUILTIN:
        for landscape in (report.landscapes if scope == "landscape" else [None]):
            for block in render(report, *([landscape] if landscape else [])) or []:
                if isinstance(block, Figure):
                    layout(block.figure)
                    # Level names are checked on the figures that write them (the y axes of loss).
                    assert _overprinting(block.figure, texts=name in ("convergence", "time_quality")) == [], \
                        (name, landscape)
                    checked += 1
                    import matplotlib.pyplot as plt

                    plt.close(block.figure)
    assert checked >= 4 + 2 * 6


def test_crowded_entry_names_slant_rather_than_drop():
    import seaborn as sns

    from suite.report import figures
    from suite.report.layout import layout

    names = ["lion", "momentum(momentum=0.5)+stale(tau=8)", "sgd(learning_rate=0.1)+noise(eta=0.3)",
             "adam(learning_rate=0.01)", "nesterov", "adam+stale(tau=8)"]

    def heatmap():
        fig, axes = figures.new(height=3.7)
        sns.heatmap([[0.5] * 6] * 6, ax=axes[0, 0], xticklabels=names, yticklabels=names)
        axes[0, 0].tick_params(axis="x", labelrotation=0)
        return fig

    assert _overprinting(heatmap())
    fig = heatmap()
    layout(fig)
    assert _overprinting(fig) == []
    shown = [t for t in fig.axes[0].get_xticklabels() if t.get_visible()]
    assert [t.get_text() for t in shown] == names  # every name kept
    assert {t.get_rotation() for t in shown} == {30.0}  # slanted no further than they need
