"""The evidence pictures drawn as SVG with matplotlib, and attached to the report without risk to the verdict.

``report.pictures`` decides what a picture shows; this module only draws it. Figures are made
on matplotlib's SVG canvas directly (no pyplot, no global backend), with text kept as text
(``svg.fonttype: none``) so the files stay small and searchable, and without a date or random
ids, so the same data draws the same file.

Pictures are evidence, not checks: ``attach_drawn`` catches any error of drawing (a bug here, a
surprise in the data) and attaches a note saying what went wrong instead, so a picture can
never fail a test or change its verdict.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Callable

from podlife.errors import TestOverran
from podlife.kernel.evidence import Attachment, EvidenceSink
from podlife.observe.clock import K8S_TIMESTAMP_RESOLUTION
from podlife.observe.shutdown import Shutdown
from podlife.observe.window import Window
from podlife.report.ledger_csv import OUTCOMES, ledger_csv
from podlife.report.pictures import MARKS, ROWS, ShutdownPicture, TrafficPicture, shutdown_picture, traffic_picture

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

#: Request ticks by outcome: quiet green for answered, strong colours for each way of failing.
OUTCOME_COLOURS = {"ok": "#74c476", "refused": "#d62728", "reset": "#e377c2", "timeout": "#ff7f0e",
                   "http-status": "#9467bd", "other": "#000000", "retried": "#17becf"}
OUTCOME_NAMES = {"ok": "answered", "refused": "connection refused", "reset": "connection reset / closed",
                 "timeout": "timed out", "http-status": "unexpected HTTP status", "other": "other error",
                 "retried": "cut off, sent again"}
#: Landmarks: (colour, marker). Dark and shaped, so they read apart from the request ticks.
MARK_STYLES = {
    "ready": ("#1f77b4", "^"), "deleting": ("#08519c", "v"), "stopping": ("#8c564b", "s"),
    "endpoint-not-ready": ("#525252", "D"), "endpoint-removed": ("#000000", "X"), "data-path-dropped": ("#d62728", "d"),
    "prestop-start": ("#8c6d31", ">"), "prestop-end": ("#8c6d31", "<"),
    "sigterm": ("#000000", "*"), "sigterm-estimated": ("#969696", "*"),
    "exit": ("#000000", "o"), "removed": ("#969696", "x"),
}
SPAN_STYLES = {"running": ("#d9d9d9", "", "running"), "after-sigterm": ("#fdd0a2", "", "after SIGTERM"),
               "prestop": ("#c7b56b", "", "preStop (recorded)"), "prestop-planned": ("#e6dba8", "//", "preStop (spec's sleep)")}
FONT = 8
#: Marks on a lane closer than this share of the time axis would hide each other: each is drawn a step lower.
CROWDED, MARK_STEP, MARK_LEVELS = 0.012, 0.2, 4
#: A shutdown mark's label ("SIGKILL 137 +8.00s") spans about this share of the time axis; closer
#: labels in a row alternate above and below their marks, by these offsets (points).
LABEL_WIDTH, LABEL_OFFSETS = 0.08, (11, -12, 21, -22)
#: A scenario landmark's label spans about this share of the time axis; closer ones stack upwards.
LANDMARK_WIDTH = 0.2


def attach_drawn(evidence: EvidenceSink, name: str, make: Callable[[], str | Iterable[str]], kind: Attachment) -> None:
    """Attach what ``make`` returns as ``name``; if making it fails, a text note saying why, and nothing else.

    Any ``Exception`` is caught, also one raised while a table is written out piece by piece (the
    sink writes the pieces to a file before attaching it, so a half-written table is not attached):
    the picture or table is evidence, and its failure must not become the test's. Only what stops
    the test from outside passes through: Ctrl-C (a ``BaseException``) and the test time limit
    (``TestOverran``, raised by the plugin's alarm wherever the test is).
    """
    try:
        evidence.attach(name, make(), kind)
    except TestOverran:
        raise
    except Exception as err:
        evidence.attach(f"{name} (not drawn)", f"could not make the {name}: {type(err).__name__}: {err}")


def illustrate(evidence: EvidenceSink, observation: object) -> None:
    """What the report draws of an observation: a closed traffic window's full ledger (CSV) and
    request timeline (SVG), both on the timeline's clock; a watched deletion's shutdown sequence
    (SVG: preStop, SIGTERM, exit or SIGKILL against the grace period in force). Anything else,
    and a shutdown watched without a grace period, draws nothing.
    """
    if isinstance(observation, Window):
        ledger, timeline, landmarks = observation.ledger, observation.timeline, observation.landmarks
        routes = observation.data_path
        attach_drawn(evidence, "request ledger", lambda: ledger_csv(ledger, timeline.origin), "csv")
        attach_drawn(evidence, "request timeline",
                     lambda: traffic_svg(traffic_picture(ledger, timeline, landmarks, routes)), "svg")
    elif isinstance(observation, Shutdown) and observation.grace is not None:
        grace = observation.grace
        attach_drawn(evidence, "shutdown sequence",
                     lambda: shutdown_svg(shutdown_picture(observation, grace, observation.pre_stop)), "svg")


def _figure(width: float, height: float) -> "Figure":
    # Imported here: matplotlib takes about a second to import, which only runs that draw pay.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: "Figure") -> str:
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "podlife"}):
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _mark(ax: "Axes", x: float, y: float, kind: str, size: float = 6) -> None:
    """A landmark's symbol; an exit's with a bar over the second that follows, since ``finishedAt`` has whole seconds."""
    colour, marker = MARK_STYLES[kind]
    ax.plot([x], [y], marker=marker, color=colour, markersize=size, linestyle="none", zorder=5,
            markerfacecolor="white" if kind == "sigterm-estimated" else colour)
    if kind == "exit":
        ax.plot([x, x + K8S_TIMESTAMP_RESOLUTION], [y, y], color=colour, linewidth=2.5, solid_capstyle="butt", zorder=5)


def _ticks(xs: list[float], y: float, outcome: str) -> "PathPatch":
    """Ticks at ``xs`` on the lane at ``y``, as one path: thousands of requests stay one SVG element.

    Failed requests are taller, thicker and drawn over the answered ones, so one lost request
    among thousands still shows.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    answered = outcome == "ok"
    half = 0.22 if answered else 0.4
    vertices = [point for x in xs for point in ((x, y - half), (x, y + half))]
    return PathPatch(Path(vertices, [Path.MOVETO, Path.LINETO] * len(xs)), fill=False, edgecolor=OUTCOME_COLOURS[outcome],
                     linewidth=0.6 if answered else 1.3, zorder=2 if answered else 3)


def _levels(times: list[float], crowded: float) -> list[int]:
    """For marks at ``times`` (in order), the lowest level on which each is ``crowded`` apart from the last one there."""
    last: list[float | None] = [None] * MARK_LEVELS
    levels = []
    for t in times:
        level = next((i for i, x in enumerate(last) if x is None or t - x >= crowded), MARK_LEVELS - 1)
        last[level] = t
        levels.append(level)
    return levels


def _legend_handles(kinds: list[str]) -> list[object]:
    from matplotlib.lines import Line2D

    return [Line2D([], [], marker=MARK_STYLES[k][1], color=MARK_STYLES[k][0], linestyle="none", label=MARKS[k],
                   markerfacecolor="white" if k == "sigterm-estimated" else MARK_STYLES[k][0]) for k in kinds]


def traffic_svg(picture: TrafficPicture) -> str:
    """One lane per pod, newest last, each request a tick at its send time coloured by outcome; landmarks on the lanes."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lanes = picture.lanes
    start = min([0.0, *(m.at for lane in lanes for m in lane.marks)]) - 0.3
    crowded = (picture.end - start) * CROWDED
    fig = _figure(13, 1.9 + 0.62 * max(len(lanes), 2))
    ax = fig.add_subplot()
    top = len(lanes) - 1
    for i, lane in enumerate(lanes):
        y = top - i
        if i % 2:
            ax.axhspan(y - 0.5, y + 0.5, color="#f4f4f4", zorder=0)
        for outcome in OUTCOMES:  # answered first, so failures are drawn over them
            xs = [x for x, o in lane.ticks if o == outcome]
            if xs:
                ax.add_artist(_ticks(xs, y, outcome))  # not add_patch: the limits are set below, without a walk over every tick
        # Exits sit at the lane's foot with their second's bar and code; the other marks hang from its top.
        exits = [m for m in lane.marks if m.kind == "exit"]
        hanging = [m for m in lane.marks if m.kind != "exit"]
        for mark, level in zip(hanging, _levels([m.at for m in hanging], crowded)):
            ax.vlines(mark.at, y - 0.46, y + 0.46, color=MARK_STYLES[mark.kind][0], linewidth=0.9, zorder=4)
            _mark(ax, mark.at, y + 0.46 - level * MARK_STEP, mark.kind)
        for mark in exits:
            ax.vlines(mark.at, y - 0.46, y + 0.46, color=MARK_STYLES[mark.kind][0], linewidth=0.9, zorder=4)
            _mark(ax, mark.at, y - 0.36, mark.kind)
            ax.annotate(mark.note.split(": ", 1)[-1], (mark.at, y - 0.36), xytext=(3, 2), textcoords="offset points",
                        fontsize=FONT - 1, va="bottom")
    for broken, resumed, what in picture.gaps:
        ax.axvspan(broken, resumed, color="#fff3b0", hatch="xx", alpha=0.6, zorder=1, label=what)
    levels = _levels([m.at for m in picture.landmarks], (picture.end - start) * LANDMARK_WIDTH)
    for mark, level in zip(picture.landmarks, levels):
        ax.axvline(mark.at, color="#404040", linestyle="--", linewidth=1, zorder=4)
        ax.annotate(mark.note, (mark.at, 1.0), xycoords=("data", "axes fraction"), xytext=(2, 3 + 11 * level),
                    textcoords="offset points", fontsize=FONT, ha="left", va="bottom")
    ax.set_xlim(start, picture.end + 0.3)
    ax.set_ylim(-0.6, top + 0.6)
    ax.set_yticks(range(top, -1, -1), [lane.label for lane in lanes], fontsize=FONT)
    ax.set_xlabel("seconds from the window start (harness clock; the zero of the timeline, landmarks and ledger)", fontsize=FONT + 1)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.set_title(picture.title, fontsize=FONT + 3, loc="left", pad=6 + 11 * (max(levels) + 1 if levels else 0))
    present = {o for lane in lanes for _, o in lane.ticks}
    requests = [Line2D([], [], color=OUTCOME_COLOURS[o], linewidth=2.5, label=OUTCOME_NAMES[o]) for o in OUTCOMES if o in present]
    kinds = [k for k in MARKS if any(m.kind == k for lane in lanes for m in lane.marks)]
    extra: list[object] = [Line2D([], [], color="#404040", linestyle="--", label="the scenario's landmarks")]
    if picture.gaps:
        extra.append(Patch(facecolor="#fff3b0", hatch="xx", label="a watch was broken (landmarks may be missing)"))
    ax.legend(handles=[*requests, *_legend_handles(kinds), *extra], loc="upper left", bbox_to_anchor=(1.005, 1.0),
              fontsize=FONT, frameon=False, title="requests (ticks) and landmarks", title_fontsize=FONT + 1)
    return _svg(fig)


def shutdown_svg(picture: ShutdownPicture) -> str:
    """Rows for the API server, the kubelet, the preStop hook and the container, against the grace period."""
    from matplotlib.patches import Patch

    fig = _figure(11, 3.4 + 0.15 * len(picture.notes))
    ax = fig.add_subplot()
    rows = list(ROWS)
    y_of = {row: len(rows) - 1 - i for i, row in enumerate(rows)}
    lines = [(0.0, "#000000", "-", "delete call" if picture.grace else "delete call, forced (grace period 0)")]
    if picture.grace:  # a forced delete has no grace period, and no moment a SIGKILL is due
        ax.axvspan(0, picture.grace, color="#deebf7", zorder=0)
        ax.axvspan(*picture.kill_window, facecolor="none", edgecolor="#f1a3a3", hatch="//", linewidth=0, zorder=1)
        lines.append((picture.grace, "#d62728", "--", f"grace period ends ({picture.grace:g}s)"))
    for x, colour, style, text in lines:
        ax.axvline(x, color=colour, linestyle=style, linewidth=1.2, zorder=4)
        ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(2, 3), textcoords="offset points",
                    fontsize=FONT, color=colour, ha="left", va="bottom")
    for span in picture.spans:
        colour, hatch, _ = SPAN_STYLES[span.kind]
        ax.barh(y_of[span.row], span.end - span.start, left=span.start, height=0.5, color=colour, hatch=hatch,
                edgecolor="#636363", linewidth=0.6, zorder=2)
    start = min([-0.5, *(m.at for m in picture.marks)]) - 0.2
    for row, row_kinds in ROWS.items():
        marks = [m for m in picture.marks if m.kind in row_kinds]
        for mark, level in zip(marks, _levels([m.at for m in marks], (picture.end - start) * LABEL_WIDTH)):
            _mark(ax, mark.at, y_of[row], mark.kind, size=8)
            label = mark.note.split(": ", 1)[-1] if mark.kind == "exit" else ""
            ax.annotate(f"{label} {mark.at:+.2f}s".strip(), (mark.at, y_of[row]), xytext=(0, LABEL_OFFSETS[level]),
                        textcoords="offset points", fontsize=FONT - 1, ha="center", va="center")
    ax.set_yticks([y_of[r] for r in rows], rows, fontsize=FONT + 1)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(start, picture.end + 0.5)
    ax.set_xlabel("\n".join(["seconds from the delete call (harness clock)", *picture.notes]), fontsize=FONT + 1)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.set_title(picture.title, fontsize=FONT + 3, loc="left", pad=16)
    kinds = [k for k in MARKS if any(m.kind == k for m in picture.marks)]
    spans = [Patch(facecolor=SPAN_STYLES[k][0], hatch=SPAN_STYLES[k][1], edgecolor="#636363", label=SPAN_STYLES[k][2])
             for k in SPAN_STYLES if any(s.kind == k for s in picture.spans)]
    frame = [Patch(facecolor="#deebf7", label=f"grace period ({picture.grace:g}s)"),
             Patch(facecolor="none", edgecolor="#f1a3a3", hatch="//", label="where a SIGKILL at grace is seen")
             ] if picture.grace else []
    ax.legend(handles=[*spans, *frame, *_legend_handles(kinds)], loc="upper left", bbox_to_anchor=(1.005, 1.0),
              fontsize=FONT, frameon=False)
    return _svg(fig)
