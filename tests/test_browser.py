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
    assert main(["run", "--landscape", "bowl:dim=3:condition=10", "--landscape", "pspin:n=8:p=3",
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
    assert figures >= 4 + 3 * 6 + 3 + 3 + 4 and shown == figures
    assert browser.errors() == []
    # The inline script sorts a table when a header is clicked.
    order = ("Array.from(document.querySelector('table.sortable').tBodies[0].rows)"
             ".map(r => r.cells[1].textContent).join(',')")
    before = browser.evaluate(order)
    browser.evaluate("document.querySelector('table.sortable').tHead.rows[0].cells[1].click()")
    after = browser.evaluate(order)
    assert sorted(before.split(",")) == sorted(after.split(",")) and after == ",".join(sorted(after.split(",")))
    assert browser.errors() == []


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

