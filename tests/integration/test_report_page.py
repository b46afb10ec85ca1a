"""The report as a person sees it: ``podlife report``'s pages opened in Debian's Chromium, headless.

Chromium is driven over its DevTools pipe (``--remote-debugging-pipe``: JSON messages on file
descriptors 3 and 4, no port, no extra package), so the test can do what a reader does: wait
for Allure's page to render, open a test and unfold its request timeline, and screenshot it.
Every request either page makes is recorded; none may leave for the network (the pages carry
everything as ``data:`` and ``blob:`` URLs). The browser's own background traffic is kept off
the network too (``--host-resolver-rules``), so the test never reaches the internet.

- ``test_report_pages_in_a_browser``: two consecutive reports of a small run made here (the
  real generator, a history of the test's own), so the second shows a trend point per
  measurement;
- ``test_the_runs_report_in_a_browser``: the report ``podlife report`` made of the suite's own
  run (CI runs it after that step), screenshots kept beside it as ``reports/*-screenshot.png``.

Both start Node and a browser at full load, so they are exclusive (run alone, ``--run-exclusive``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from podlife.report import history
from tests.report_samples import CLUSTER, OWN_TESTS, write_run

pytestmark = pytest.mark.exclusive

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,1000", "--hide-scrollbars"]
REPORTS = Path(__file__).resolve().parents[2] / "reports"
RENDER_TIMEOUT = 60.0
#: Unfolds the attachment named NAME (a step holding it is unfolded first) and says how far it got.
UNFOLD = """(() => {
  const name = NAME;
  const box = [...document.querySelectorAll('[data-testid=test-result-attachment]')]
    .find(b => b.querySelector('[data-testid=test-result-attachment-header]')?.textContent.includes(name));
  if (!box) {
    document.querySelectorAll('[data-testid=test-result-step-arrow-button]').forEach(b => b.click());
    return 'looking';
  }
  const image = box.querySelector('img');
  if (image && image.complete && image.naturalWidth > 0) { box.scrollIntoView(); return 'shown ' + image.naturalWidth; }
  if (!image) box.querySelector('[data-testid=test-result-attachment-header] button').click();
  return 'unfolding';
})()"""


class Chromium:
    """Chromium over its DevTools pipe: pages opened, script run in them, screenshots taken."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands, self._to_browser = os.pipe()
        self._from_browser, replies = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4 (bash: dash takes one-digit fds only).
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{commands} 4>&{replies}', "bash", binary, *FLAGS,
             f"--user-data-dir={profile}", "--remote-debugging-pipe"],
            pass_fds=(commands, replies), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands)
        os.close(replies)
        self._buffer, self._id = b"", 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._from_browser, 1 << 20) if ready else b""
            if not chunk:
                raise TimeoutError("chromium did not answer") if not ready else EOFError("chromium closed its pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(raw))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + RENDER_TIMEOUT
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply["result"])
            self.events.append(reply)

    def open(self, url: str) -> str:
        """A new tab on ``url``, its requests recorded; the tab's session."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = str(self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])
        self.send("Network.enable", session)
        self.send("Page.navigate", session, url=url)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        return self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"].get("value")

    def wait(self, session: str, expression: str, until: str = "", what: str = "") -> Any:
        """Evaluate ``expression`` until it is truthy (or starts with ``until``); its last value."""
        deadline = time.monotonic() + RENDER_TIMEOUT
        while True:
            value = self.evaluate(session, expression)
            if (value.startswith(until) if until and isinstance(value, str) else value and not until):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what or expression} (last: {value!r})")
            time.sleep(0.3)

    def screenshot(self, session: str, path: Path, full_page: bool = False) -> None:
        shot = self.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(shot["data"]))

    def requests(self) -> list[str]:
        """Every URL the pages asked for (documents, scripts, images, fetches), in order."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=20)
        except (RuntimeError, TimeoutError, EOFError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    """Debian's Chromium, installed when missing (as root)."""
    binary = shutil.which("chromium")
    if binary is None:
        if os.geteuid() != 0:
            pytest.skip("chromium is not installed and installing it needs root (apt-get install -y chromium)")
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        binary = shutil.which("chromium")
    assert binary, "apt-get installed chromium, yet it is not on PATH"
    return binary


@pytest.fixture
def browser(chromium_binary: str, tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(chromium_binary, tmp_path / "chromium-profile")
    try:
        yield chromium
    finally:
        chromium.close()


def podlife_report(*args: str) -> str:
    """``podlife report`` as a user runs it; its output."""
    done = subprocess.run([sys.executable, "-m", "podlife.cli", "report", *args], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout


def page_results(index: Path) -> dict[str, dict[str, Any]]:
    """The test results the single-file page carries, by id."""
    return {match[1]: json.loads(base64.b64decode(match[2]))
            for match in re.finditer(r'd\("data/test-results/(\w+)\.json","([A-Za-z0-9+/=]+)"\)', index.read_text())}


def timeline_result(index: Path) -> str:
    """The id of a test result in the single-file page that has a request timeline (SVG) attached."""
    for key, result in page_results(index).items():
        if re.search(r'"contentType": "image/svg\+xml"[^}]*"name": "request timeline"', json.dumps(result)):
            return key
    raise AssertionError(f"{index}: no test result has a request timeline attached")


def check_allure_page(browser: Chromium, index: Path, cluster: dict[str, Any], shots: Path) -> None:
    """The environment on the overview, then a request timeline unfolded on its test's page."""
    overview = browser.open(index.as_uri())
    pairs = browser.wait(overview, """[...document.querySelectorAll('[data-testid=metadata-item]')].map(i =>
        [i.querySelector('[data-testid=metadata-item-key]').textContent,
         i.querySelector('[data-testid=metadata-item-value]').textContent])""", what="the environment")
    shown = dict(pairs)
    assert shown["provider"] == cluster["provider"] and shown["version"] == cluster["version"], shown
    assert "back-off" in shown and "feature gates" in shown
    assert browser.evaluate(overview, "document.getElementById('podlife-claims-link').getAttribute('href')") == "claims.html"
    browser.screenshot(overview, shots / "report-screenshot.png")
    test = browser.open(f"{index.as_uri()}#{timeline_result(index)}")
    shown_width = browser.wait(test, UNFOLD.replace("NAME", json.dumps("request timeline")), until="shown",
                               what="the request timeline")
    assert int(shown_width.split()[1]) > 100
    browser.screenshot(test, shots / "report-timeline-screenshot.png")


def check_claims_page(browser: Chromium, claims: Path, summary: dict[str, Any], shots: Path) -> int:
    """Every claim of the run in the matrix, the link back, the cluster; the number of sparklines drawn."""
    page = browser.open(claims.as_uri())
    browser.wait(page, "document.readyState === 'complete'", what="the claims page loaded")
    rows = browser.evaluate(page, "[...document.querySelectorAll('tr[id]')].map(r => r.id)")
    assert set(summary["claims"]) <= set(rows)
    for claim, entry in summary["claims"].items():
        covered = browser.evaluate(page, f"document.getElementById({json.dumps(claim)}).textContent.includes('covered')")
        assert covered == entry["covered"], claim
    assert browser.evaluate(page, "document.querySelector('header nav a').getAttribute('href')") == "index.html"
    assert summary["cluster"]["version"] in browser.evaluate(page, "document.querySelector('.facts').textContent")
    browser.screenshot(page, shots / "claims-screenshot.png", full_page=True)
    return int(browser.evaluate(page, "document.querySelectorAll('#trends ~ table svg.spark').length"))


def nothing_fetched(browser: Chromium) -> None:
    asked = browser.requests()
    assert any(url.startswith("file:") for url in asked) and any(url.startswith(("data:", "blob:")) for url in asked)
    assert [url for url in asked if not url.startswith(("file:", "data:", "blob:", "about:"))] == []


def test_report_pages_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    reports, past = tmp_path / "reports", tmp_path / "history" / "runs.jsonl"
    write_run(reports, lag=1.2, lost=0, kill=31.4)
    first = podlife_report("--results", str(reports / "allure-results"), "--history", str(past))
    assert "Allure 3" in first.splitlines()[0], first  # the primary generator, not the fallback
    shutil.rmtree(reports / "allure-results")
    write_run(reports, lag=1.9, lost=2, kill=32.2)
    podlife_report("--results", str(reports / "allure-results"), "--history", str(past))

    check_allure_page(browser, reports / "index.html", CLUSTER, tmp_path)
    shown = {result["name"] for result in page_results(reports / "index.html").values()}
    assert shown and not shown & set(OWN_TESTS), shown  # the claims' and the workload's tests only
    summary = json.loads((reports / "summary.json").read_text())
    sparklines = check_claims_page(browser, reports / "claims.html", summary, tmp_path)
    measured = history.series(history.load(past).runs, 12)
    assert sparklines == len(measured) and all(len(points) == 2 for points in measured.values())
    nothing_fetched(browser)


def test_the_runs_report_in_a_browser(browser: Chromium) -> None:
    """The suite's own report, made by ``podlife report`` (CI's report step), with screenshots beside it."""
    if not (REPORTS / "index.html").exists() or not (REPORTS / "claims.html").exists():
        pytest.skip("no report of a run here: run the suite, then podlife report")
    summary = json.loads((REPORTS / "summary.json").read_text())
    check_allure_page(browser, REPORTS / "index.html", summary["cluster"], REPORTS)
    check_claims_page(browser, REPORTS / "claims.html", summary, REPORTS)
    nothing_fetched(browser)
