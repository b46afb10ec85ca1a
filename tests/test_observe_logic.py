"""Pure logic of observation and verdicts: ledger statistics, record parsing, kill-timing tolerance."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest
from kubernetes import client

from podlife.errors import HarnessError
from podlife.observe import timeline as timeline_module
from podlife.observe.attribution import attribute, parse_conntrack
from podlife.observe.records import parse_records
from podlife.observe.shutdown import Shutdown
from podlife.observe.timeline import Entry, Timeline, TimelineRecorder
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.shutdown import assert_killed_at_grace, assert_pre_stop_completed_before_sigterm
from podlife.verdicts.traffic import assert_no_request_lost, explain_failures


def _req(seq: int, sent: float, status: int | None = 200, pod: str | None = "a", error: str | None = None) -> Request:
    return Request(seq, scheduled=sent - 0.01, sent=sent, latency=0.005, status=status, error=error, pod=pod)


def test_ledger_statistics() -> None:
    ledger = Ledger("http://x", 10, [_req(0, 1.0), _req(1, 1.1, pod="b"), _req(2, 1.2, None, None, "Connection refused")])
    assert ledger.success_ratio == pytest.approx(2 / 3)
    assert ledger.served_by() == {"a": 1, "b": 1}
    assert [r.seq for r in ledger.between(1.05, 1.25)] == [1, 2]
    assert ledger.max_send_lag() == pytest.approx(0.01)


def test_failure_explanation_names_request_time_and_landmark() -> None:
    timeline = Timeline(origin=1.0)
    ledger = Ledger("http://x", 10, [_req(0, 1.5, None, None, "Connection refused")])
    text = explain_failures(ledger, timeline, {"deleted web-1": 1.25})
    assert "#0 sent at +0.500s: Connection refused" in text and "deleted web-1 at +0.250s" in text
    with pytest.raises(AssertionError, match="1 of 1 requests"):
        assert_no_request_lost(ledger, timeline, {})


def test_parse_records_skips_a_truncated_tail() -> None:
    assert parse_records("started 10.5\nsigterm 12.25\nprestop-en") == [("started", 10.5), ("sigterm", 12.25)]
    assert parse_records(None) == []


def _shutdown(message: str, exit_code: int, finished: float, deleted_at: float = 100.0) -> Shutdown:
    facts = {"terminated": {"w": {"exit_code": exit_code, "finished": finished, "message": message}}}
    return Shutdown("p", "w", deleted_at, Timeline(entries=[Entry(0.0, "Pod", "p", "MODIFIED", facts)]))


@pytest.mark.parametrize("finished, ok", [(107.0, True), (110.0, True), (106.5, False), (110.5, False)])
def test_kill_timing_tolerance(finished: float, ok: bool) -> None:
    s = _shutdown("", 137, finished)
    if ok:
        assert assert_killed_at_grace(s, 8) == pytest.approx(finished - 100.0)
    else:
        with pytest.raises(AssertionError, match="grace period is 8"):
            assert_killed_at_grace(s, 8)


@pytest.mark.parametrize("finished, cause", [
    (102.0, "that is the kubelet's minimum grace period \\(2s\\)"),
    (112.0, "that is the pod spec's period \\(12s\\)"),
    (120.0, "allowed 5..8s\\)$"),
])
def test_a_kill_at_another_period_is_named(finished: float, cause: str) -> None:
    with pytest.raises(AssertionError, match=f"grace period is 6s .*{cause}"):
        assert_killed_at_grace(_shutdown("", 137, finished), 6, {"the pod spec's period": 12})


def test_hook_order_is_read_from_file_order() -> None:
    good = _shutdown("started 1\nprestop-start 2\nprestop-end 5\nsigterm 5", 137, 110)
    assert_pre_stop_completed_before_sigterm(good)
    bad = _shutdown("started 1\nsigterm 2\nprestop-start 2\nprestop-end 5", 137, 110)
    with pytest.raises(AssertionError, match="in that order"):
        assert_pre_stop_completed_before_sigterm(bad)


def test_a_watch_gap_left_open_makes_the_timeline_inconclusive() -> None:
    timeline = Timeline(origin=10.0, gaps=[("Pod", 11.0, 12.5, "watch connection failed: ProtocolError")])
    timeline.check_complete()
    assert "gap in the Pod watch: +1.000s .. +2.500s" in timeline.render()
    timeline.gaps.append(("Event", 13.0, None, "watch answered 500 Internal Server Error"))
    with pytest.raises(HarnessError, match=r"Event since \+3.0s \(watch answered 500"):
        timeline.check_complete()


def test_a_watch_line_that_is_not_an_event_opens_a_gap_the_next_list_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = TimelineRecorder(client.ApiClient(), "ns")
    recorder._started = threading.Barrier(1)
    lists: list[str] = []

    def lister(namespace: str) -> SimpleNamespace:
        lists.append(namespace)
        if len(lists) == 2:
            recorder._stopping.set()
        return SimpleNamespace(metadata=SimpleNamespace(resource_version=str(len(lists))), items=[])

    class UndecodableWatch:
        def stream(self, *args: object, **kwargs: object) -> Iterator[dict[str, object] | None]:
            yield None  # what the client yields for a line it could not parse
            yield {"type": "ADDED", "object": None}

        def stop(self) -> None:
            pass

    monkeypatch.setattr(timeline_module.watch, "Watch", UndecodableWatch)
    recorder._follow("Pod", lister, "ns", lambda pod: {})
    [(kind, broken, resumed, why)] = recorder.timeline.gaps
    assert (kind, why) == ("Pod", "watch sent a line that was not an event") and resumed is not None
    assert len(lists) == 2 and not recorder.timeline.entries


CONNTRACK_LINES = """\
ipv4     2 tcp      6 46 TIME_WAIT src=10.244.0.1 dst=10.96.14.28 sport=42344 dport=80 src=10.244.0.203 dst=10.244.0.1 sport=8080 dport=42344 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 46 TIME_WAIT src=10.244.0.1 dst=10.96.14.28 sport=42345 dport=81 src=10.244.0.209 dst=10.244.0.1 sport=8080 dport=42345 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 68 TIME_WAIT src=10.244.0.1 dst=10.244.0.198 sport=52504 dport=8080 src=10.244.0.198 dst=10.244.0.1 sport=8080 dport=52504 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 20 src=10.244.0.5 dst=10.96.14.28 sport=5353 dport=80 src=10.244.0.7 dst=10.244.0.5 sport=80 dport=5353 mark=0 zone=0 use=2
"""


def test_connection_tracking_names_the_pod_address_behind_the_service() -> None:
    assert parse_conntrack(CONNTRACK_LINES, ("10.96.14.28", 80)) == {"10.244.0.1:42344": "10.244.0.203"}


def test_attribution_takes_the_pod_that_held_the_address_when_the_request_was_sent() -> None:
    timeline = Timeline(origin=0.0, entries=[
        Entry(1.0, "Pod", "old", "ADDED", {"ip": "10.244.0.203"}),
        Entry(5.0, "Pod", "new", "ADDED", {"ip": "10.244.0.203"}),
    ])
    ledger = Ledger("http://x", 10, [
        replace(_req(0, 2.0, pod=None), source="10.244.0.1:1"),
        replace(_req(1, 6.0, pod=None), source="10.244.0.1:2"),
        replace(_req(2, 6.5, pod=None, status=None, error="Connection refused"), source="10.244.0.1:3"),
        replace(_req(3, 7.0, pod=None), source="10.244.0.1:4"),
    ])
    seen = {f"10.244.0.1:{port}": "10.244.0.203" for port in (1, 2, 3)}
    assert attribute(ledger, seen, timeline) == 3
    assert attribute(ledger, seen, timeline) == 0, "a second pass names nothing more"
    assert [r.pod for r in ledger.requests] == ["old", "new", "new", None]
