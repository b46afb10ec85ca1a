"""``podlife report``: the offline page, the environment file, installing a generator once, and
all-or-nothing output with one-line errors. Generators are stand-ins here, except where npm
itself must fail (an unreachable registry); tests/integration/test_report_page.py runs the real ones."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Callable

import pytest

from podlife.cli import main
from podlife.report import history, site
from podlife.report.offline import CSP, describe, neutralise, references, tally
from podlife.report.site import Built, GeneratorError, build, install, properties
from tests.report_samples import OWN_TESTS, write_run

GENERATED = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>report</title>
<link rel="stylesheet" href="https://fonts.example.com/css?family=Inter">
<link rel="icon" href="data:image/png;base64,iVBORw0KGgo=">
<script>window.allure = {};</script>
<script src="data:text/javascript;charset=utf-8;base64,{bundle}"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}} gtag('js', new Date());</script>
<script src="//cdn.example.com/lib.js"></script>
</head><body class="app"><div id="app"></div>
<script defer>Promise.allSettled([d("data/attachments/a.svg","{svg}")])</script></body></html>"""
BUNDLE = ('document.createElementNS("http://www.w3.org/2000/svg","svg");'
          'footer("https://allurereport.org");fetch("https://telemetry.example.com/x")')
SVG = '<svg xmlns="http://www.w3.org/2000/svg"><a href="https://example.org/pod"/></svg>'


def encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def generated_page() -> str:
    return GENERATED.replace("{bundle}", encode(BUNDLE)).replace("{svg}", encode(SVG)).replace("{{", "{").replace("}}", "}")


def test_neutralise_cuts_analytics_and_remote_tags_and_allows_only_data_and_blob() -> None:
    page = neutralise(generated_page(), '<a id="claims" href="claims.html">claims</a>')
    assert "googletagmanager" not in page and "gtag(" not in page and "dataLayer" not in page
    assert "fonts.example.com" not in page and "cdn.example.com" not in page
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page.split("</head>")[0]
    assert page.index("Content-Security-Policy") < page.index("<script")
    assert '<body class="app"><a id="claims" href="claims.html">claims</a><div id="app">' in page
    assert "window.allure = {};" in page and "data:text/javascript" in page and 'rel="icon"' in page
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert all("http" not in value and "*" not in value for value in directives.values())


def test_a_page_without_head_is_refused() -> None:
    with pytest.raises(ValueError):
        neutralise("<html><body></body></html>")


def test_references_look_inside_base64_payloads_and_tell_namespaces_apart() -> None:
    refs = {(r.url, r.where): r for r in references(neutralise(generated_page()))}
    assert set(refs) == {
        ("http://www.w3.org/2000/svg", "text/javascript"), ("https://allurereport.org", "text/javascript"),
        ("https://telemetry.example.com/x", "text/javascript"),
        ("http://www.w3.org/2000/svg", "data/attachments/a.svg"), ("https://example.org/pod", "data/attachments/a.svg"),
    }
    assert refs[("http://www.w3.org/2000/svg", "text/javascript")].namespace
    assert not refs[("https://allurereport.org", "text/javascript")].namespace
    assert describe(list(refs.values())) == [
        "2 XML namespace or document type name(s) (www.w3.org, purl.org/dc, ...: identifiers, never fetched)",
        "1 URL(s) written in the tests' own attachments and results, as text (e.g. https://example.org/pod)",
        "https://allurereport.org (in text/javascript)", "https://telemetry.example.com/x (in text/javascript)"]
    assert tally(list(refs.values())) == ("URLs left in it: 2 XML namespace or document type name(s), "
                                          "1 in the tests' own results, 2 of the generator's")


def test_environment_properties_escape_what_the_format_needs() -> None:
    text = properties([("feature gates", "A=true, B=false"), ("back-off from", "kubelet configz of nöde"),
                       ("note", " leading space\\and\nnewline")])
    assert text == ("feature\\ gates=A=true, B=false\n"
                    "back-off\\ from=kubelet configz of n\\u00f6de\n"
                    "note=\\ leading space\\\\and\\nnewline\n")
    assert text.isascii()


class Stand:
    """A generator stand-in: writes a page (with analytics, as the real ones do) and a line of its history."""

    def __init__(self, name: str = "Stand-in", error: str | None = None) -> None:
        self.name, self.error = name, error

    def generate(self, results: list[Path], work: Path, allure_history: Path,
                 progress: Callable[[str], None]) -> tuple[Path, str]:
        if self.error:
            raise GeneratorError(self.error)
        assert (results[1] / "environment.properties").read_text().startswith("provider=local\n")
        with allure_history.open("a") as file:
            file.write(json.dumps({"results": len(list(results[0].glob("*-result.json")))}) + "\n")
        page = work / "stand" / "index.html"
        page.parent.mkdir()
        page.write_text(generated_page())
        return page, "1.0"


def report(tmp_path: Path, generators: tuple[site.Generator, ...] = (Stand(),), **figures: float) -> Built:
    reports = tmp_path / "reports"
    results = write_run(reports, **figures)
    return build(results, reports / "summary.json", reports, tmp_path / "state" / "runs.jsonl",
                 tmp_path / "missing-claims.md", lambda line: None, generators)


def test_a_report_writes_both_pages_and_adds_the_run_to_both_histories(tmp_path: Path) -> None:
    built = report(tmp_path)
    assert built.generator == "Stand-in 1.0" and built.recorded and built.runs == 1 and not built.refused
    index = built.index.read_text()
    assert "googletagmanager" not in index and 'href="claims.html"' in index and "Content-Security-Policy" in index
    claims = built.claims.read_text()
    assert 'id="RQ-03"' in claims and 'href="index.html"' in claims and "No claim catalog at" in claims
    assert "provider: local" in claims and "back-off from: kubelet configz of podlife-node" in claims
    assert "Workload scorecard" in claims and "no readiness probe (RQ-01)" in claims
    assert len(history.load(built.history).runs) == 1
    assert (tmp_path / "state" / "runs.allure.jsonl").read_text() == '{"results": 4}\n'  # OWN_TESTS left out
    assert built.left_out == len(OWN_TESTS)
    assert sorted(p.name for p in built.index.parent.iterdir()) == [
        "allure-results", "claims.html", "index.html", "summary.json"]


def test_the_second_report_shows_a_trend_point_per_measurement(tmp_path: Path) -> None:
    first = report(tmp_path, lag=1.2, lost=0)
    assert 'class="spark"' not in first.claims.read_text()
    second = report(tmp_path, lag=1.9, lost=2)
    assert second.runs == 2
    page = second.claims.read_text()
    trends = page[page.index('id="trends"'):]
    measured = history.series(history.load(second.history).runs, 12)
    assert measured and all(len(points) == 2 for points in measured.values())
    assert trends.count('<svg class="spark"') == len(measured)
    assert "1.2 · 1.9" in trends and "0 · 2" in trends
    assert len((tmp_path / "state" / "runs.allure.jsonl").read_text().splitlines()) == 2


def test_the_same_run_reported_again_is_not_recorded_twice(tmp_path: Path) -> None:
    report(tmp_path)
    again = build(tmp_path / "reports" / "allure-results", tmp_path / "reports" / "summary.json", tmp_path / "reports",
                  tmp_path / "state" / "runs.jsonl", tmp_path / "missing-claims.md", lambda line: None, (Stand(),))
    assert not again.recorded and again.runs == 1
    assert len((tmp_path / "state" / "runs.allure.jsonl").read_text().splitlines()) == 1


def test_the_fallback_runs_when_the_first_generator_cannot_and_says_why(tmp_path: Path) -> None:
    said: list[str] = []
    reports = tmp_path / "reports"
    results = write_run(reports)
    built = build(results, reports / "summary.json", reports, tmp_path / "runs.jsonl", tmp_path / "claims.md",
                  said.append, (Stand("Allure 3", error="npm ci failed: ECONNREFUSED"), Stand("Allure 2")))
    assert built.generator == "Allure 2 1.0" and built.refused == ["Allure 3: npm ci failed: ECONNREFUSED"]
    assert said == ["Allure 3 could not make the report: npm ci failed: ECONNREFUSED"]


def test_report_names_what_it_left_out_and_counts_the_urls_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Podlife's own tests in a line saying where their results are; the URLs left in the page
    counted in one line, listed only with --list-urls."""
    reports = tmp_path / "reports"
    results = write_run(reports)
    (reports / "junit.xml").write_text("<testsuites/>")
    monkeypatch.setattr(site, "GENERATORS", (Stand(),))
    args = ["report", "--results", str(results), "--history", str(tmp_path / "runs.jsonl")]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (f"[podlife] left out of the page: 2 test(s) of no claim and no workload (podlife's own tests); "
                      f"their results are in {reports / 'junit.xml'}")
    assert [line for line in out if "URL" in line] == [
        "[podlife] offline: the page may load data: and blob: URLs only (Content-Security-Policy), analytics removed; "
        + tally(references(neutralise(generated_page()))) + " (--list-urls lists them)"]
    assert main([*args, "--list-urls"]) == 0
    listed = capsys.readouterr().out.splitlines()
    urls = describe(references(neutralise(generated_page())))
    assert listed[-len(urls) - 1].endswith("2 of the generator's")
    assert listed[-len(urls):] == [f"[podlife]   {line}" for line in urls]
    (reports / "junit.xml").unlink()
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(f"their results are in {results}")


def bad_run(tmp_path: Path, case: str) -> tuple[Path, Path]:
    """A report directory broken the way ``case`` says; its results directory and summary."""
    reports = tmp_path / "reports"
    results = write_run(reports)
    summary = reports / "summary.json"
    if case == "no results":
        results = tmp_path / "nowhere" / "allure-results"
    elif case == "no result files":
        for file in results.iterdir():
            file.unlink()
    elif case == "only podlife's own tests":
        for file in results.glob("*-result.json"):
            if json.loads(file.read_text())["name"] not in OWN_TESTS:
                file.unlink()
    elif case == "corrupt result":
        next(results.glob("*-result.json")).write_text('{"uuid": "')
    elif case == "corrupt summary":
        summary.write_text('{"cluster": {}, "claims": {"RQ-0')
    elif case == "summary of something else":
        summary.write_text('{"claims": {"RQ-03": {"covered": true}}}')
    elif case == "no summary":
        summary.unlink()
    elif case == "history unwritable":
        (tmp_path / "state").write_text("a file where the history's directory should be")
    return results, summary


@pytest.mark.parametrize("case", ["no results", "no result files", "only podlife's own tests", "corrupt result",
                                  "corrupt summary", "summary of something else", "no summary", "no generator",
                                  "history unwritable"])
def test_bad_input_is_one_line_and_leaves_everything_as_it_was(tmp_path: Path, case: str,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    results, summary = bad_run(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    monkeypatch.setattr(site, "GENERATORS", (Stand("Allure 3", error="npm ci failed: x"),
                                             Stand("Allure 2", error="it needs Java, and java is not on PATH"))
                        if case == "no generator" else (Stand(),))
    code = main(["report", "--results", str(results), "--summary", str(summary), "--out", str(tmp_path / "reports"),
                 "--history", str(tmp_path / "state" / "runs.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len([line for line in err if not line.startswith("[podlife]")]) == 1 and err[-1].startswith("podlife: error: ")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_npm_unreachable_fails_in_one_line_without_a_partial_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The real npm, pointed at a registry nothing answers on, with an empty cache of its own."""
    results, summary = bad_run(tmp_path, "valid")
    monkeypatch.setenv("PODLIFE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("JAVA_HOME", "/usr")  # so the fallback gets as far as its own npm ci
    code = main(["report", "--results", str(results), "--summary", str(summary), "--history", str(tmp_path / "runs.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("podlife: error: no report generator could run: Allure 3: npm ci failed: ")
    assert "ECONNREFUSED" in err[-1] and "Allure 2: " in err[-1]
    assert sorted(p.name for p in (tmp_path / "cache" / "report").iterdir()) == ["allure2.lock", "allure3.lock"]
    assert not (tmp_path / "reports" / "index.html").exists() and not (tmp_path / "runs.jsonl").exists()


def test_two_reports_installing_at_once_install_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """npm ci runs once, under the lock; the second caller waits and finds the install done."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nsleep 0.5\nmkdir -p node_modules/allure\n")
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    installed: list[Path] = []
    said: list[str] = []
    threads = [threading.Thread(target=lambda: installed.append(install("allure3", said.append, tmp_path)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(installed) == 2 and installed[0] == installed[1] and (installed[0] / "node_modules" / "allure").is_dir()
    assert calls.read_text().splitlines() == ["ci --ignore-scripts --no-audit --no-fund --loglevel=error"]
    assert (installed[0] / "package-lock.json").read_bytes() == (site.PACKAGES / "allure3" / "package-lock.json").read_bytes()
    assert not list(tmp_path.glob("report/*.partial"))
