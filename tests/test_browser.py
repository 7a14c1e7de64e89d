"""The report in a real browser: headless Chromium loads it, shows every figure, logs no error."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cdp import Browser, find_chromium
from suite.cli import main

SMALL = ["--restarts", "8", "--steps", "60", "--quiet"]

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed and could not be (.ci/run installs Debian's 'chromium' "
           "package when it runs as root or with sudo; set SUITE_CHROMIUM to use another build)")


@pytest.fixture(scope="module")
def browser():
    b = Browser(CHROMIUM)
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "run"
    # Two settings of one family (bowl): the navigation must tell them apart.
    assert main(["run", "--landscape", "bowl:dim=3:condition=10,1000", "--landscape", "pspin:n=8:p=3",
                 "--landscape", "deep_linear:depth=3:width=2",
                 "--optimizer", "sgd:sweep.learning_rate=0.01,0.3", "--optimizer", "adam:sweep.learning_rate=0.01,0.1",
                 "--diagnose", "all", "--out", str(out), *SMALL]) == 0
    return out / "report.html"


def test_the_report_loads_without_errors_and_shows_every_figure(browser, report):
    browser.open(report.as_uri())
    figures = browser.evaluate("document.querySelectorAll('figure img').length")
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('figure img'))"
        ".filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100"
        " && i.getBoundingClientRect().width > 100).length")
    # Run figures, six per landscape, and the diagnostics' (four on the layered one, three elsewhere).
    assert figures >= 4 + 4 * 6 + 3 * 3 + 4 and shown == figures
    assert browser.errors() == []
    # The inline script sorts a table when a header is clicked.
    order = ("Array.from(document.querySelector('table.sortable').tBodies[0].rows)"
             ".map(r => r.cells[1].textContent).join(',')")
    before = browser.evaluate(order)
    browser.evaluate("document.querySelector('table.sortable').tHead.rows[0].cells[1].click()")
    after = browser.evaluate(order)
    assert sorted(before.split(",")) == sorted(after.split(",")) and after == ",".join(sorted(after.split(",")))
    assert browser.errors() == [] and browser.csp_violations() == []


# The width of the text column, and the layout facts the tests below check, measured in the page.
LAYOUT = """(() => {
  const main = document.querySelector('main'), style = getComputedStyle(main);
  const content = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const tables = Array.from(document.querySelectorAll('main table'));
  return {
    page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth,
    body: document.body.scrollWidth, content: content,
    figures: Array.from(document.querySelectorAll('figure img')).map(i => i.getBoundingClientRect().width),
    tables: tables.length,
    wrapped: tables.filter(t => t.parentElement.classList.contains('scroll')
                            && getComputedStyle(t.parentElement).overflowX === 'auto').length,
    scrolling: tables.filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).length,
    cut: tables.filter(t => t.parentElement.getBoundingClientRect().right > main.getBoundingClientRect().right).length,
  };
})()"""


@pytest.mark.parametrize("width", [1280, 800])
def test_the_page_fits_its_width_and_figures_fill_the_text_column(browser, report, width):
    browser.resize(width, 1000)
    try:
        browser.open(report.as_uri())
        found = browser.evaluate(LAYOUT)
    finally:
        browser.resize(1280, 2400)
    assert found["page"] <= found["view"] and found["body"] <= found["view"]  # no sideways scroll of the page
    assert found["content"] > 0.8 * (width - 80)
    assert found["figures"] and min(found["figures"]) >= 0.8 * found["content"], found["figures"]
    # Every table sits in its own box, which scrolls sideways when the table is wider than the column.
    assert found["tables"] >= 10 and found["wrapped"] == found["tables"] and found["cut"] == 0
    if width == 800:
        assert found["scrolling"] >= 1  # the landscape leaderboards are wider than 800 px
    assert browser.errors() == []


def test_the_config_and_the_targets_are_folded_and_open_on_a_click(browser, report):
    browser.open(report.as_uri())
    folds = browser.evaluate("Array.from(document.querySelectorAll('details')).map(d => "
                             "({open: d.open, summary: d.querySelector('summary').textContent, "
                             "shown: d.querySelector('pre, table').checkVisibility()}))")
    assert [f["open"] for f in folds] == [False, False] and not any(f["shown"] for f in folds)
    assert folds[0]["summary"].startswith("The 51 targets, Δf ≤ 100 down to Δf ≤ 1e-08")
    assert folds[1]["summary"].startswith("config.toml, as the run resolved it (")
    assert "51 targets, 4 optimizer settings, 4 landscapes)" in folds[1]["summary"]
    browser.evaluate("document.querySelectorAll('details summary')[1].click()")
    assert browser.evaluate("document.querySelectorAll('details')[1].open") is True
    assert browser.evaluate("document.querySelectorAll('details pre')[1].checkVisibility()") is True
    assert browser.evaluate("document.querySelectorAll('details pre')[0].checkVisibility()") is False


def test_navigation_labels_are_unique_and_name_what_differs(browser, report):
    browser.open(report.as_uri())
    labels = browser.evaluate("Array.from(document.querySelectorAll('nav a')).map(a => a.textContent)")
    assert len(labels) == len(set(labels))
    assert {"bowl condition=10", "bowl condition=1000", "pspin", "deep_linear"} <= set(labels)
    # Each link leads to its landscape's section.
    targets = browser.evaluate("Array.from(document.querySelectorAll('nav a')).filter(a => a.textContent"
                               ".startsWith('bowl')).map(a => document.querySelector(a.getAttribute('href'))"
                               ".querySelector('h2').textContent)")
    assert targets == ["Landscape: bowl(condition=10.0, dim=3, rotate=True, spectrum='log')",
                       "Landscape: bowl(condition=1000.0, dim=3, rotate=True, spectrum='log')"]


def test_the_policy_runs_the_page_script_and_nothing_else(browser, report):
    browser.open(report.as_uri())
    policy = browser.evaluate("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "unsafe-inline" not in policy and "script-src 'sha256-" in policy and "style-src 'sha256-" in policy
    assert browser.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") \
        == "rgb(31, 42, 58)"  # the style applies
    assert browser.errors() == [] and browser.csp_violations() == []
    # A script that is not the page's own is refused, and the refusal is reported.
    browser.evaluate("(() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                     " document.body.appendChild(s); })()")
    browser.evaluate("new Promise(r => setTimeout(r, 100))")
    assert browser.evaluate("typeof window.injected") == "undefined"
    assert browser.csp_violations() == ["script-src-elem blocked inline"]
    assert [e for e in browser.errors() if "Content Security Policy" in e]  # as errors() would tell of the page's


def test_a_screenshot_of_the_report_is_not_blank(browser, report):
    from PIL import Image

    browser.open(report.as_uri())
    browser.evaluate("window.scrollTo(0, document.querySelector('figure').offsetTop)")
    image = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("L"), dtype=np.float64)
    assert image.shape[0] > 1000 and image.shape[1] > 1000
    assert image.std() > 20  # a blank (or single-colour) page has none
    assert len(np.unique(image)) > 50  # figures are drawn, not just text on white


def test_hostile_strings_show_as_text_and_run_nothing(browser, tmp_path):
    from test_report import HOSTILE  # the plugin that tries to inject markup

    plugin = tmp_path / "hostile.py"
    plugin.write_text(HOSTILE)
    out = tmp_path / "run"
    main(["run", "--plugin", str(plugin), "--landscape", "hostile", "--landscape", "hostile:mode=raise",
          "--optimizer", "sgd:learning_rate=0.1", "--out", str(out), *SMALL])
    browser.open((out / "report.html").as_uri())
    assert browser.evaluate("typeof window.pwned") == "undefined"
    text = browser.evaluate("document.body.innerText")
    assert "<script>window.pwned = 1</script> A sphere." in text
    assert "<img src=x onerror=window.pwned=2>" in text
    assert browser.errors() == []

