"""``reports/claims.html``: the claims matrix, the workload scorecard and the trends across runs,
rendered by podlife itself (plain HTML, inline CSS, inline SVG), so it needs neither Node nor Java.

The page links to the Allure report beside it (``index.html``) and is linked from it. Trends
are small matplotlib sparklines (its SVG backend, no display needed) with the last values
written out beside them, since a reader compares numbers, not pixel heights.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from podlife.report import history, matrix
from podlife.report.catalog import Catalog
from podlife.report.history import NOT_RUN, Point, worst
from podlife.report.matrix import Check, Row, Side
from podlife.report.offline import CSP

#: Runs shown in a trend (the history keeps them all).
TREND_RUNS = 12
#: Names a reader knows the figures by; others are read off their key (``_s`` meaning seconds).
LABELS = {
    "failed_requests": "requests failed",  # not "lost": some checks expect failures (LC-08, before the app is Ready)
    "requests": "requests sent",
    "endpoint_removal_lag_s": "endpoint-removal lag, worst pod (s)",
    "kill_delay_s": "kill after the delete (s)",
    "kill_at_grace_error_s": "kill at grace: error (s)",
    "success_ratio": "share of requests served",
}
_RESTART = re.compile(r"^restart_delays(?:_s)?(?:\[(\d+)\]|\.(\d+))(?:\.delay_s)?$")
COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#ad1457", "inconclusive": "#ef6c00",
           "skipped": "#757575", "not run": "#bdbdbd"}
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px;display:inline-block}
header nav{float:right;margin-top:3px}
header a{color:#9ecbff}
main{padding:8px 24px 32px}
.facts{margin:6px 0 0;color:#d0d7de;font-size:13px}
.counts{font-size:15px;margin:14px 0}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px}
h2{margin:26px 0 8px;font-size:18px}
h3{margin:18px 0 6px;font-size:15px;color:#57606a}
table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0001;table-layout:fixed}
th,td{border:1px solid #d0d7de;padding:5px 8px;vertical-align:top;text-align:left}
th{background:#eaeef2;font-weight:600;font-size:13px}
td.id{white-space:nowrap;font-weight:600}
td.text{font-size:13px}
code{font-size:12px;background:#eff1f3;padding:0 3px;border-radius:3px}
td.test{font-size:13px;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;white-space:nowrap}
details summary{cursor:pointer}
details ul{margin:4px 0 0;padding-left:16px;font-size:12px}
ul.m{margin:0;padding-left:14px;font-size:12px}
.covered{font-weight:600;color:#2e7d32}
.uncovered{color:#57606a}
.dots span{display:inline-block;width:9px;height:9px;margin-right:2px;border-radius:2px}
td.num{font-variant-numeric:tabular-nums;font-size:13px}
svg.spark{display:block}
"""


def label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if restart := _RESTART.match(name):
        return f"back-off delay before restart {restart[1] or restart[2]} (s)"
    readable = name.replace("_", " ")
    return readable[:-2] + " (s)" if readable.endswith(" s") else readable


def number(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def sparkline(points: list[Point]) -> str:
    """The values as a small line, the last one marked; inline SVG without metadata or DOCTYPE."""
    values = [p.value for p in points]
    figure = Figure(figsize=(1.7, 0.38), dpi=72)
    axes = figure.add_axes((0.03, 0.12, 0.94, 0.76))
    axes.plot(range(len(values)), values, color="#0969da", linewidth=1.2)
    axes.plot([len(values) - 1], [values[-1]], "o", color="#0969da", markersize=3)
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    axes.set_ylim(low - pad, high + pad)
    axes.set_xlim(-0.3, max(len(values) - 1, 1) + 0.3)
    axes.axis("off")
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "podlife"}):
        figure.savefig(buffer, format="svg", transparent=True, metadata={"Date": None})
    svg = buffer.getvalue()
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg[svg.index("<svg"):], flags=re.S)
    return svg.replace("<svg ", '<svg class="spark" ', 1)


def _prose(text: str) -> str:
    """Catalog text as HTML: escaped, its `code` spans set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _badge(outcome: str, text: str | None = None) -> str:
    return f'<span class="badge" style="background:{COLOURS.get(outcome, "#57606a")}">{html.escape(text or outcome)}</span>'


def _side(side: Side) -> str:
    if not side.tests:
        return _badge(side.outcome)
    shown = f"{side.outcome} ({len(side.tests)} tests)" if len(side.tests) > 1 else side.outcome
    items = "".join(f"<li>{_badge(o)} {html.escape(test)}</li>" for test, o in side.tests)
    return f"<details><summary>{_badge(side.outcome, shown)}</summary><ul>{items}</ul></details>"


def _measured(ranges: dict[str, tuple[float, float]]) -> str:
    items = "".join(
        f"<li>{html.escape(label(name))}: {number(low)}{'' if low == high else '–' + number(high)}</li>"
        for name, (low, high) in ranges.items())
    return f'<ul class="m">{items}</ul>' if items else ""


def _dots(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """The claim's last runs, oldest first: green when covered, red or orange when a side failed or
    was inconclusive, grey otherwise (not run, or a side without its counterpart)."""
    spans = []
    for at, sides in runs:
        side = worst(sides.get(kind, NOT_RUN) for kind in ("check", "control"))
        shown = "passed" if sides.get("covered") else side if side in ("failed", "error", "inconclusive") else NOT_RUN
        colour = COLOURS[shown]
        spans.append(f'<span style="background:{colour}" title="{html.escape(at)}: check {html.escape(str(sides.get("check")))}, '
                     f'control {html.escape(str(sides.get("control")))}"></span>')
    return f'<div class="dots">{"".join(spans)}</div>'


def _matrix(rows: list[Row], catalog: Catalog | None, history: dict[str, list[tuple[str, dict[str, Any]]]]) -> str:
    out = []
    names = catalog.categories if catalog else {}
    for category in dict.fromkeys(r.category for r in rows):
        out.append(f"<h3>{html.escape(category)}{' — ' + html.escape(names[category]) if category in names else ''}</h3>")
        out.append('<table><colgroup><col style="width:70px"><col><col style="width:120px"><col style="width:120px">'
                   '<col style="width:260px"><col style="width:80px"><col style="width:90px"></colgroup>'
                   "<tr><th>claim</th><th>what it says</th><th>check</th><th>control</th>"
                   "<th>measured (checks)</th><th>covered</th><th>last runs</th></tr>")
        for row in (r for r in rows if r.category == category):
            text = _prose(row.text) if row.text is not None else "<em>not in the claim catalog</em>"
            covered = '<span class="covered">covered</span>' if row.covered else '<span class="uncovered">no</span>'
            out.append(f'<tr id="{row.claim}"><td class="id">{row.claim}</td><td class="text">{text}</td>'
                       f"<td>{_side(row.check)}</td><td>{_side(row.control)}</td><td>{_measured(row.measurements)}</td>"
                       f"<td>{covered}</td><td>{_dots(history.get(row.claim, []))}</td></tr>")
        out.append("</table>")
    return "\n".join(out)


def _scorecard(cards: dict[str, tuple[bool, list[Check]]]) -> str:
    if not cards:
        return ""
    out = ['<h2 id="workloads">Workload scorecard</h2>']
    for name, (passed, checks) in cards.items():
        out.append(f"<h3>{html.escape(name)} {_badge('passed' if passed else 'failed')}</h3>")
        out.append("<table><tr><th>check</th><th>outcome</th><th>finding</th><th>measured</th><th>advice</th></tr>")
        for check in checks:
            advice = "".join(f"<li>{html.escape(a)}</li>" for a in check.advice)
            out.append(f"<tr><td>{html.escape(check.name)}</td><td>{_badge(check.outcome)}</td>"
                       f"<td>{html.escape(check.detail)}</td>"
                       f"<td>{_measured({k: (v, v) for k, v in check.measurements.items()})}</td>"
                       f'<td>{f"<ul class=m>{advice}</ul>" if advice else ""}</td></tr>')
        out.append("</table>")
    return "\n".join(out)


def _trends(series: dict[tuple[str, str], list[Point]], claims_of: dict[str, list[str]]) -> str:
    """Per claim (and per workload), each measurement of its checks across the runs kept."""
    if not series:
        return "<p>No measurement recorded yet.</p>"
    groups: dict[str, list[tuple[str, str]]] = {}
    for test, name in sorted(series):
        for group in claims_of.get(test) or [test.split(":")[0] if test.startswith("workload ") else "other"]:
            groups.setdefault(group, []).append((test, name))
    out = []
    for group in sorted(groups):
        name = html.escape(group)
        heading = name if group.startswith("workload ") else f'<a href="#{name}">{name}</a>'
        out.append(f'<h3>{heading}</h3><table><colgroup><col><col style="width:300px"><col style="width:140px">'
                   f'<col style="width:320px"><col style="width:50px"></colgroup><tr><th>test</th><th>measurement</th>'
                   f"<th>trend</th><th>last runs, oldest first</th><th>runs</th></tr>")
        for test, name in groups[group]:
            points = series[(test, name)]
            values = " · ".join(number(p.value) for p in points)
            chart = sparkline(points) if len(points) > 1 else ""
            out.append(f'<tr><td class="test" title="{html.escape(test)}">{html.escape(test.rsplit("::", 1)[-1])}</td>'
                       f"<td>{html.escape(label(name))}</td><td>{chart}</td>"
                       f'<td class="num" title="{html.escape(", ".join(p.at for p in points))}">{values}</td>'
                       f"<td>{len(points)}</td></tr>")
        out.append("</table>")
    return "\n".join(out)


def render(summary: dict[str, Any], catalog: Catalog | None, catalog_path: Path, runs: list[dict[str, Any]],
           current: dict[str, Any]) -> str:
    """The whole page for the run ``summary`` (``current`` in the history), with the trends of ``runs``."""
    rows = matrix.rows(summary, catalog)
    claims_of = {test: result["claims"] for test, result in current["tests"].items()}
    facts = "; ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in matrix.environment(summary.get("cluster")))
    tally = matrix.counts(rows)
    note = ("" if catalog else f'<p class="note">No claim catalog at {html.escape(str(catalog_path))}: only the claims '
            f"this run tested are listed, without their text (give the catalog with --claims).</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>podlife claims matrix</title><style>{STYLE}</style></head>
<body>
<header><h1>podlife claims matrix</h1><nav><a href="index.html">Allure report</a> · <a href="#trends">trends</a></nav>
<p class="facts">run of {html.escape(current["at"])} · {facts}</p></header>
<main>
{note}
<p class="counts"><b>{tally['claims']}</b> claims: <b>{tally['covered']}</b> covered (check and negative control passed),
<b>{tally['failing']}</b> failing, <b>{tally['not run']}</b> not run.</p>
{_matrix(rows, catalog, history.outcomes(runs, TREND_RUNS))}
{_scorecard(matrix.scorecard(summary))}
<h2 id="trends">Trends across runs</h2>
<p>{len(runs)} run(s) in the history; each row is one measurement of a check, the last {TREND_RUNS} runs that measured it.</p>
{_trends(history.series(runs, TREND_RUNS), claims_of)}
</main></body></html>
"""
