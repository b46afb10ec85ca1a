"""The evidence pictures and the ledger table: what they show, from fabricated ledgers and timelines.

A rolling update on the harness's clock (zero at 1000.0): two old pods serve, a new one
becomes Ready, one old pod is deleted, refuses three requests it was still sent, and goes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import allure
import pytest

from podlife.errors import TestOverran
from podlife.observe.datapath import DataPathSampler
from podlife.observe.shutdown import Shutdown
from podlife.observe.snapshots import Termination
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.observe.window import Window
from podlife.report import drawing
from podlife.report.drawing import attach_drawn, illustrate, shutdown_svg, traffic_svg
from podlife.report.ledger_csv import COLUMNS, ledger_csv, outcome
from podlife.report.pictures import (
    UNKNOWN_LANE,
    data_path_marks,
    endpoint_marks,
    short_pod_name,
    shutdown_picture,
    traffic_picture,
)
from podlife.report.summary import Evidence
from tests.entries import container, event_entry, exited, pod_entry, slice_entry

ZERO = 1000.0
OLD_A, OLD_B, NEW = "web-5d8f7c9b6d-a1b2c", "web-5d8f7c9b6d-d3e4f", "web-7f9c6d8b44-g5h6i"


def _pod(seen: float, name: str, change: str = "MODIFIED", ready: bool = True, deleting: float | None = None,
         terminated: Termination | None = None) -> Entry:
    """``name`` seen at ``seen``; ``terminated``: how its container ``web`` ended, if it has."""
    return pod_entry(ZERO + seen, name, change, ready=ready, deleting=deleting,
                     containers={"web": container(terminated)} if terminated else {})


def _slice(seen: float, endpoints: dict[str, bool], change: str = "MODIFIED") -> Entry:
    return slice_entry(ZERO + seen, endpoints, change, name="web-abcde")


def _event(seen: float, reason: str, pod: str, change: str = "ADDED") -> Entry:
    return event_entry(ZERO + seen, reason, pod, change)


def _exited(code: int, finished: float, message: str = "") -> Termination:
    return exited(code, ZERO + finished, message)


def rollout() -> tuple[Ledger, Timeline, dict[str, float]]:
    timeline = Timeline(origin=ZERO, entries=[
        _pod(0.0, OLD_A, "EXISTING"), _pod(0.0, OLD_B, "EXISTING"),
        _pod(0.0, "podlife-traffic-1a2b3c-0", "EXISTING"),
        _event(0.0, "Killing", OLD_B, "EXISTING"),  # before the window: not a landmark
        _slice(0.0, {OLD_A: True, OLD_B: True}, "EXISTING"),
        _pod(3.0, NEW, "ADDED", ready=False), _slice(3.1, {OLD_A: True, OLD_B: True, NEW: False}),
        _pod(5.0, NEW), _slice(5.1, {OLD_A: True, OLD_B: True, NEW: True}),
        _pod(6.0, OLD_A, deleting=ZERO + 36.0), _event(6.05, "Killing", OLD_A),
        _slice(6.1, {OLD_A: False, OLD_B: True, NEW: True}),
        _pod(7.2, OLD_A, ready=False, deleting=ZERO + 36.0, terminated=_exited(0, 7.0)),
        _slice(7.3, {OLD_B: True, NEW: True}),
        _pod(7.5, OLD_A, "DELETED", ready=False, deleting=ZERO + 36.0, terminated=_exited(0, 7.0)),
    ])
    requests = []
    for seq in range(250):  # 25 req/s for 10 s
        sent = ZERO + 0.5 + seq / 25
        pods = [OLD_A, OLD_B] + ([NEW] if sent > ZERO + 5.1 else [])
        pod: str | None = pods[seq % len(pods)]
        status: int | None = 200
        error = None
        if pod == OLD_A and sent > ZERO + 6.2:
            pod = None if sent > ZERO + 6.6 else pod
            status, error = (None, "Connection refused") if pod else (None, "timed out") if sent < ZERO + 7.0 else (200, None)
            pod = pod if error or status != 200 else NEW
        requests.append(Request(seq, sent - 0.001, sent, 0.004 if error != "timed out" else 2.0, status, error, pod,
                                f"10.250.0.1:{40000 + seq}"))
    return Ledger("http://10.96.0.10:80/hostname", 25.0, requests), timeline, {"rolling-update": ZERO + 2.9,
                                                                               "settled": ZERO + 8.0}


def test_outcomes_tell_the_ways_of_failing_apart() -> None:
    def req(status: int | None, error: str | None) -> Request:
        return Request(0, 0.0, 0.0, 0.0, status, error, None)

    assert [outcome(req(200, None)), outcome(req(503, None)), outcome(req(None, "Connection refused")),
            outcome(req(None, "RemoteDisconnected")), outcome(req(None, "Connection reset")),
            outcome(req(None, "timed out")), outcome(req(None, "curl exit 35"))] == [
        "ok", "http-status", "refused", "reset", "reset", "timeout", "other"]


def test_ledger_csv_has_every_request_on_the_timelines_clock() -> None:
    ledger, timeline, _ = rollout()
    rows = list(csv.DictReader(io.StringIO("".join(ledger_csv(ledger, timeline.origin)))))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(ledger.requests)
    first = rows[0]
    assert (first["seq"], first["sent_s"], first["scheduled_s"], first["outcome"], first["status"], first["pod"]) == (
        "0", "0.5000", "0.4990", "ok", "200", OLD_A)
    refused = next(r for r in rows if r["outcome"] == "refused")
    assert refused["status"] == "" and refused["error"] == "Connection refused" and refused["pod"] == OLD_A
    assert float(refused["sent_epoch"]) == pytest.approx(ZERO + float(refused["sent_s"]))


def test_long_pod_names_keep_the_tail_that_tells_them_apart() -> None:
    assert short_pod_name(OLD_A) == OLD_A
    short = short_pod_name("shop-frontend-canary-5d8f7c9b6d-a1b2c")
    assert short == "shop-fron…5d8f7c9b6d-a1b2c" and len(short) == 26


def test_lanes_follow_first_appearance_and_carry_each_pods_landmarks() -> None:
    ledger, timeline, landmarks = rollout()
    picture = traffic_picture(ledger, timeline, landmarks)
    assert [lane.pod for lane in picture.lanes] == [OLD_A, OLD_B, NEW, None]  # no lane for the traffic pod
    deleted = picture.lanes[0]
    assert [(m.kind, round(m.at, 2)) for m in deleted.marks] == [
        ("deleting", 6.0), ("stopping", 6.05), ("endpoint-not-ready", 6.1), ("exit", 7.0), ("endpoint-removed", 7.3),
        ("removed", 7.5)]
    assert [m.kind for m in picture.lanes[1].marks] == []  # its Killing event predates the window
    assert [(m.kind, m.at) for m in picture.lanes[2].marks] == [("ready", 5.0)]
    assert {o for _, o in deleted.ticks} == {"ok", "refused"}
    assert deleted.label.endswith(", 3 failed") and picture.lanes[3].label.startswith(UNKNOWN_LANE)
    assert sum(len(lane.ticks) for lane in picture.lanes) == len(ledger.requests)
    assert [(m.note, round(m.at, 2)) for m in picture.landmarks] == [("rolling-update", 2.9), ("settled", 8.0)]
    assert picture.title.endswith(f"{len(ledger.failures)} failed") and picture.end > 10


def test_a_deleted_slice_removes_all_its_endpoints() -> None:
    timeline = Timeline(origin=ZERO, entries=[_slice(0, {OLD_A: True}, "EXISTING"), _slice(2, {}, "DELETED")])
    assert [(m.kind, m.at) for m in endpoint_marks(timeline, ZERO)[OLD_A]] == [("endpoint-removed", 2.0)]


def _shutdown(entries: list[Entry], deleted_at: float = ZERO + 1.0) -> Shutdown:
    return Shutdown("witness", "web", deleted_at, Timeline(origin=ZERO, entries=entries))


def test_a_witness_shutdown_is_drawn_from_its_records() -> None:
    records = "started 990.0\nprestop-start 1001.2\nprestop-end 1004.2\nsigterm 1004.25\n"
    s = _shutdown([_pod(0.5, "witness", "EXISTING"), _pod(1.02, "witness", deleting=ZERO + 9.0),
                   _event(1.1, "Killing", "witness"),
                   _pod(9.3, "witness", ready=False, deleting=ZERO + 9.0, terminated=_exited(137, 9.0, records)),
                   _pod(9.4, "witness", "DELETED", ready=False, deleting=ZERO + 9.0, terminated=_exited(137, 9.0, records))])
    picture = shutdown_picture(s, 8.0)
    assert [(m.kind, round(m.at, 2)) for m in picture.marks] == [
        ("deleting", 0.02), ("stopping", 0.1), ("prestop-start", 0.2), ("prestop-end", 3.2), ("sigterm", 3.25),
        ("exit", 8.0), ("removed", 8.4)]
    assert [(sp.row, sp.kind, round(sp.start, 2), round(sp.end, 2)) for sp in picture.spans] == [
        ("preStop hook", "prestop", 0.2, 3.2), ("container", "running", 0.0, 3.25), ("container", "after-sigterm", 3.25, 8.0)]
    assert picture.kill_window == (7.0, 10.0) and picture.notes == []
    assert picture.title.endswith("grace period 8s, SIGKILLed (137) 8.0-9.0s after the delete")


def test_a_recordless_shutdown_estimates_sigterm_after_the_specs_sleep() -> None:
    s = _shutdown([_pod(1.02, "witness", deleting=ZERO + 31.0), _event(1.1, "Killing", "witness"),
                   _pod(7.3, "witness", ready=False, deleting=ZERO + 31.0, terminated=_exited(0, 7.0))])
    picture = shutdown_picture(s, 30.0, SimpleNamespace(action="sleep", seconds=5.0))
    assert [(sp.kind, round(sp.start, 2), round(sp.end, 2)) for sp in picture.spans] == [
        ("prestop-planned", 0.1, 5.1), ("running", 0.0, 5.1), ("after-sigterm", 5.1, 6.0)]
    assert [m.kind for m in picture.marks] == ["deleting", "stopping", "sigterm-estimated", "exit"]
    assert picture.title.endswith("exited 0 6.0-7.0s after the delete")
    no_hook = shutdown_picture(s, 30.0, SimpleNamespace(action=None, seconds=None))
    assert [(m.kind, round(m.at, 2)) for m in no_hook.marks if m.kind.startswith("sigterm")] == [("sigterm-estimated", 0.1)]
    unknown_length = shutdown_picture(s, 30.0, SimpleNamespace(action="httpGet", seconds=None))
    assert "SIGTERM: not recorded" in unknown_length.notes


def test_a_forced_delete_draws_what_was_seen_and_says_what_was_not() -> None:
    s = _shutdown([_pod(1.05, "witness", "DELETED", deleting=ZERO + 1.0)])
    picture = shutdown_picture(s, 0.0)
    assert [m.kind for m in picture.marks] == ["deleting", "removed"]
    assert "web reported no exit: the pod was removed first" in picture.notes
    assert picture.title.endswith("no exit reported")


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """What the code under test attaches to Allure: (name, body, attachment type)."""
    seen: list[tuple[str, str, Any]] = []

    class Attach:
        def __call__(self, body: str, name: str, attachment_type: Any) -> None:
            seen.append((name, body, attachment_type))

        def file(self, source: str, name: str, attachment_type: Any) -> None:
            """A table comes as a file, written piece by piece: read while it is still there."""
            seen.append((name, Path(source).read_text(), attachment_type))

    monkeypatch.setattr(allure, "attach", Attach())
    return seen


def _evidence() -> Evidence:
    return Evidence(SimpleNamespace(user_properties=[]))  # type: ignore[arg-type]


def _window(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> Window:
    """A closed window as the scene hands it over: its traffic stopped, its ledger complete."""
    return Window(timeline, SimpleNamespace(ledger=ledger), landmarks)  # type: ignore[arg-type]


def test_a_shutdown_watched_without_a_grace_period_draws_nothing(attached: list[tuple[str, str, Any]]) -> None:
    illustrate(_evidence(), _shutdown([_pod(1.05, "witness", "DELETED", deleting=ZERO + 1.0)]))
    assert attached == []


def test_a_drawing_that_fails_leaves_a_note_and_never_raises(attached: list[tuple[str, str, Any]]) -> None:
    def broken() -> str:
        raise KeyError("exit_code")

    attach_drawn(_evidence(), "request timeline", broken, "svg")
    assert attached == [("request timeline (not drawn)", "could not make the request timeline: KeyError: 'exit_code'",
                         allure.attachment_type.TEXT)]


def test_the_time_limit_still_stops_a_test_while_it_draws(attached: list[tuple[str, str, Any]]) -> None:
    def overran() -> str:
        raise TestOverran(900)

    with pytest.raises(TestOverran):
        attach_drawn(_evidence(), "request timeline", overran, "svg")
    assert attached == []


def test_a_closed_window_attaches_its_ledger_and_timeline(attached: list[tuple[str, str, Any]], tmp_path: Path) -> None:
    ledger, timeline, landmarks = rollout()
    illustrate(_evidence(), _window(ledger, timeline, landmarks))
    assert [(name, kind) for name, _, kind in attached] == [("request ledger", allure.attachment_type.CSV),
                                                            ("request timeline", allure.attachment_type.SVG)]
    svg = attached[1][1]
    assert svg.startswith("<?xml") and "web-7f9c6d8b44-g5h6i" in svg and "connection refused" in svg
    # For a person to look at (see docs/reports.md: the request timeline).
    (tmp_path / "request-timeline.svg").write_text(svg)


def test_a_shutdown_picture_is_drawn(attached: list[tuple[str, str, Any]], tmp_path: Path) -> None:
    records = "prestop-start 1001.2\nprestop-end 1004.2\nsigterm 1004.25\n"
    s = _shutdown([_pod(1.02, "witness", deleting=ZERO + 9.0), _event(1.1, "Killing", "witness"),
                   _pod(9.4, "witness", "DELETED", ready=False, deleting=ZERO + 9.0, terminated=_exited(137, 9.0, records))])
    illustrate(_evidence(), replace(s, grace=8.0))
    (name, svg, kind), = attached
    assert (name, kind) == ("shutdown sequence", allure.attachment_type.SVG) and "SIGTERM (record)" in svg
    (tmp_path / "shutdown-sequence.svg").write_text(svg)


def test_a_window_whose_traffic_never_ran_is_drawn_empty(attached: list[tuple[str, str, Any]]) -> None:
    illustrate(_evidence(), _window(Ledger("http://x", 25.0), Timeline(origin=ZERO), {}))
    assert [name for name, _, _ in attached] == ["request ledger", "request timeline"]
    assert attached[0][1] == ",".join(COLUMNS) + "\n"


def test_drawing_the_same_data_twice_gives_the_same_file() -> None:
    ledger, timeline, landmarks = rollout()
    picture = traffic_picture(ledger, timeline, landmarks)
    assert traffic_svg(picture) == traffic_svg(picture)
    assert shutdown_svg(shutdown_picture(_shutdown([_pod(1.05, "witness", "DELETED", deleting=ZERO + 1.0)]), 0.0))
    assert drawing.OUTCOME_COLOURS.keys() == drawing.OUTCOME_NAMES.keys()


def test_the_data_paths_drop_is_marked_on_the_pod_that_held_the_address() -> None:
    """An address passes from the deleted pod to a new one: the drop is the old pod's."""
    timeline = Timeline(origin=ZERO, entries=[pod_entry(ZERO, OLD_A, "EXISTING", ip="10.244.0.9"),
                                              pod_entry(ZERO + 9.0, NEW, "ADDED", ip="10.244.0.9")])
    sampler = DataPathSampler("ns")
    for taken, routed in ((1.0, True), (6.75, True), (6.8, False), (9.5, True)):
        sampler.record(ZERO + taken, {("ns/web:http", "10.244.0.9")} if routed else set())
    marks = data_path_marks(timeline, sampler.data_path, ZERO)
    assert {pod: [(m.kind, round(m.at, 2)) for m in ms] for pod, ms in marks.items()} == {
        OLD_A: [("data-path-dropped", 6.8)]}
    assert data_path_marks(timeline, None, ZERO) == {}
