"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only).

Chromium reads JSON commands from its file descriptor 3 and writes replies and
events to descriptor 4, each message ending in a NUL byte. That is enough to
load a page, watch its console, run a script and take a screenshot, with no
WebDriver or Playwright to install.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium executable: ``$SUITE_CHROMIUM``, else the first on ``PATH``."""
    if os.environ.get("SUITE_CHROMIUM"):
        return os.environ["SUITE_CHROMIUM"]
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, executable: str, *, width: int = 1280, height: int = 2400, timeout: float = 60):
        self.timeout = timeout
        self.events: list[dict] = []
        self._profile = tempfile.mkdtemp(prefix="suite-chromium-")
        # Every pipe end above 9, so none is already 3 or 4 when the shell moves them there.
        to_browser, self._write, self._read, from_browser = (
            _high(fd) for fd in (*os.pipe(), *os.pipe()))
        # bash (unlike dash) redirects descriptors above 9: it moves our ends to 3 and 4.
        command = (f'exec "$0" --headless=new --no-sandbox --disable-gpu --no-first-run '
                   f'--disable-extensions --remote-debugging-pipe --user-data-dir="$1" '
                   f'3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-')
        self._process = subprocess.Popen(["bash", "-c", command, executable, self._profile],
                                         pass_fds=(to_browser, from_browser),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)
        # Every page records the Content-Security-Policy violations it reports, in the order they come
        # (this script is DevTools', so the page's policy does not apply to it).
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": (
            "window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) {"
            " window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline')); });")},
            session=True)
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        """Sets the viewport (CSS pixels, one device pixel each), as a window of that size would."""
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        """Sends a command and returns its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Waits for an event (one already received counts)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(deadline))

    def open(self, url: str) -> None:
        """Navigates and waits for the load event; :meth:`errors` then tells this page's errors only."""
        self.events = []
        self.send("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        return base64.b64decode(data)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP violations included)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found

    def csp_violations(self) -> list[str]:
        """The Content-Security-Policy violations the open page reported (``script-src-elem blocked inline``)."""
        return self.evaluate("window.__csp || []")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        os.close(self._read)
        os.close(self._write)
        shutil.rmtree(self._profile, ignore_errors=True)
