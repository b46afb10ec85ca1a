"""Pure logic of observation and verdicts: ledger statistics, record parsing, kill-timing tolerance."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from kubernetes import client

from podlife.access import Target
from podlife.cli import pool_wait
from podlife.errors import GeneratorLag, HarnessError, RateTooHigh
from podlife.observe import timeline as timeline_module
from podlife.observe.attribution import attribute, parse_conntrack
from podlife.observe.engine import HOST_CPU_PER_REQUEST, EngineTraffic, OnHost, parse_line
from podlife.observe.records import parse_records
from podlife.observe.shutdown import Shutdown
from podlife.observe.snapshots import (
    ContainerSnapshot,
    EndpointState,
    Running,
    SliceSnapshot,
    Termination,
    Waiting,
    event_snapshot,
    pod_snapshot,
    slice_snapshot,
)
from podlife.observe.timeline import Entry, Timeline, TimelineRecorder
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.shutdown import assert_killed_at_grace, assert_pre_stop_completed_before_sigterm
from podlife.verdicts.traffic import assert_no_request_lost, explain_failures
from tests.entries import container, event_entry, exited, pod_entry, window_of


def _req(seq: int, sent: float, status: int | None = 200, pod: str | None = "a", error: str | None = None) -> Request:
    return Request(seq, scheduled=sent - 0.01, sent=sent, latency=0.005, status=status, error=error, pod=pod)


def test_ledger_statistics() -> None:
    ledger = Ledger("http://x", 10, [_req(0, 1.0), _req(1, 1.1, pod="b"), _req(2, 1.2, None, None, "Connection refused")])
    assert ledger.success_ratio == pytest.approx(2 / 3)
    assert ledger.served_by() == {"a": 1, "b": 1}
    assert [r.seq for r in ledger.between(1.05, 1.25)] == [1, 2]
    assert ledger.max_send_lag() == pytest.approx(0.01)


def test_a_wait_for_a_free_kept_alive_client_is_the_pools_not_the_generators_lateness() -> None:
    """The app's slow answers queue requests behind busy clients, as any pool does: the ledger is still usable."""
    queued = Request(1, scheduled=1.0, sent=1.81, latency=0.005, status=200, error=None, pod="a", waited=0.8)
    ledger = Ledger("http://x", 10, [_req(0, 1.0), queued], keepalive=2)
    assert ledger.max_send_lag() == pytest.approx(0.01) and ledger.max_pool_wait() == pytest.approx(0.8)
    ledger.check_usable()
    late = Request(2, scheduled=1.0, sent=1.81, latency=0.005, status=200, error=None, pod="a", waited=0.2)
    with pytest.raises(GeneratorLag, match=r"fell behind its schedule by 0.610s \(request #2"):
        Ledger("http://x", 10, [late], keepalive=2).check_usable()


def test_progress_names_the_wait_kept_alive_always_and_with_new_connections_only_when_the_bound_was_reached() -> None:
    assert pool_wait(Ledger("http://x", 10, [_req(0, 1.0)]), 0) == ""
    assert pool_wait(Ledger("http://x", 10, [_req(0, 1.0)], keepalive=2), 0) == ", waited at most 0 ms for a free client"
    queued = Request(1, scheduled=1.0, sent=1.5, latency=0.005, status=200, error=None, pod="a", waited=0.5)
    assert pool_wait(Ledger("http://x", 10, [queued]), 0) == \
        ", waited at most 500 ms for a free connection slot (the engine bounds its open connections)"


def test_failure_explanation_names_request_time_and_landmark() -> None:
    timeline = Timeline(origin=1.0)
    ledger = Ledger("http://x", 10, [_req(0, 1.5, None, None, "Connection refused")])
    text = explain_failures(ledger, timeline, {"deleted web-1": 1.25})
    assert "#0 sent at +0.500s: Connection refused" in text and "deleted web-1 at +0.250s" in text
    with pytest.raises(AssertionError, match="1 of 1 requests"):
        assert_no_request_lost(window_of(ledger, timeline))


def test_parse_records_skips_a_truncated_tail() -> None:
    assert parse_records("started 10.5\nsigterm 12.25\nprestop-en") == [("started", 10.5), ("sigterm", 12.25)]
    assert parse_records(None) == []


def _shutdown(message: str, exit_code: int, finished: float, deleted_at: float = 100.0) -> Shutdown:
    ended = pod_entry(0.0, "p", containers={"w": container(exited(exit_code, finished, message))})
    return Shutdown("p", "w", deleted_at, Timeline(entries=[ended]))


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
    with pytest.raises(AssertionError, match="before its preStop hook started"):
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
    recorder._follow("Pod", lister, "ns", pod_snapshot)
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
        pod_entry(1.0, "old", "ADDED", ip="10.244.0.203"),
        pod_entry(5.0, "new", "ADDED", ip="10.244.0.203"),
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


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _status(name: str, state: client.V1ContainerState | None, restarts: int = 0,
            last: client.V1ContainerState | None = None) -> client.V1ContainerStatus:
    return client.V1ContainerStatus(name=name, image="i", image_id="", ready=False, restart_count=restarts, state=state,
                                    last_state=last)


def _ended(code: int, started: int, finished: int, message: str | None = None) -> client.V1ContainerState:
    return client.V1ContainerState(terminated=client.V1ContainerStateTerminated(
        exit_code=code, reason="Error", started_at=_at(started), finished_at=_at(finished), message=message))


def test_a_pods_status_becomes_a_typed_snapshot_of_each_container() -> None:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web-1", uid="u1", deletion_timestamp=_at(120)),
        status=client.V1PodStatus(
            phase="Running", pod_ip="10.244.0.5", conditions=[client.V1PodCondition(type="Ready", status="True")],
            init_container_statuses=[_status("init", _ended(0, 90, 91, "started 90.5\n"))],
            container_statuses=[
                _status("app", client.V1ContainerState(running=client.V1ContainerStateRunning(started_at=_at(110))), 2,
                        _ended(1, 100, 105)),
                _status("side", client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason="CrashLoopBackOff")), 3),
                _status("new", None),
            ]))
    snapshot = pod_snapshot(pod)
    assert (snapshot.phase, snapshot.ready, snapshot.ip, snapshot.uid, snapshot.deleting) == ("Running", True, "10.244.0.5", "u1", 120.0)
    assert list(snapshot.containers) == ["init", "app", "side", "new"]
    assert snapshot.terminated("init") == Termination(0, "Error", 90.0, 91.0, "started 90.5\n")
    app = snapshot.containers["app"]
    assert (app.state, app.started, app.restarts, app.last) == (Running(110.0), 110.0, 2, Termination(1, "Error", 100.0, 105.0, None))
    assert snapshot.running("app") and not snapshot.running("side") and snapshot.state("side") == Waiting("CrashLoopBackOff")
    assert snapshot.containers["new"] == ContainerSnapshot(None, 0, None) and snapshot.restarts("gone") == 0
    assert Entry(130.0, "web-1", "MODIFIED", snapshot).line(100.0) == (
        " +30.000s Pod           MODIFIED web-1: Running, ready, ip 10.244.0.5, uid u1, deletionTimestamp +20.000s; "
        "init: exit 0 (Error), ran -10.000s..-9.000s, message 'started 90.5\\n'; "
        "app: running since +10.000s, 2 restarts, last run exit 1 (Error), ran +0.000s..+5.000s; "
        "side: waiting (CrashLoopBackOff), 3 restarts; new: no state yet")


def test_slices_and_events_become_snapshots_and_an_entry_is_read_as_its_own_kind_only() -> None:
    eps = client.V1EndpointSlice(
        address_type="IPv4", metadata=client.V1ObjectMeta(name="web-x", labels={"kubernetes.io/service-name": "web"}),
        endpoints=[client.V1Endpoint(addresses=["10.244.0.5"], target_ref=client.V1ObjectReference(kind="Pod", name="web-1"),
                                     conditions=client.V1EndpointConditions(ready=False, terminating=True)),
                   client.V1Endpoint(addresses=["10.244.0.6"])])
    endpoints = Entry(1.0, "web-x", "MODIFIED", slice_snapshot(eps))
    assert endpoints.slice == SliceSnapshot("web", {"web-1": EndpointState(False, True), "10.244.0.6": EndpointState(False, False)})
    assert endpoints.line(0.0).endswith("web-x: service web: web-1 not ready, terminating; 10.244.0.6 not ready")
    event = client.CoreV1Event(metadata=client.V1ObjectMeta(name="web-1.1"), reason="Killing", count=1, message="x" * 300,
                               involved_object=client.V1ObjectReference(kind="Pod", name="web-1"))
    killing = event_snapshot(event)
    assert (killing.reason, killing.object, len(killing.message), killing.count) == ("Killing", "Pod/web-1", 200, 1)
    with pytest.raises(TypeError, match="entry for EndpointSlice web-x is read as an entry for a Pod"):
        endpoints.pod


def test_the_timeline_answers_what_scenarios_ask_of_a_pod() -> None:
    timeline = Timeline(origin=0.0, entries=[
        pod_entry(1.0, "web-1", containers={"app": container(Waiting("ContainerCreating"))}),
        event_entry(1.5, "Killing", "web-2"),
        pod_entry(2.0, "web-1", containers={"app": container(Running(2.0))}),
        pod_entry(3.0, "web-1", deleting=3.0, containers={"app": container(exited(137, 2.9), restarts=1)}),
        pod_entry(4.0, "web-1", "DELETED", deleting=3.0, containers={"app": container(Running(3.5), restarts=2)}),
    ])
    running = timeline.first_running("app")
    assert running is not None and running.seen == 2.0 and timeline.first_running("app", "web-2") is None
    assert timeline.terminations("web-1") == {"app": exited(137, 2.9)}, "a later run does not erase the last termination"
    deleting = timeline.deleting("web-1")
    assert deleting is not None and deleting.seen == 3.0 and timeline.deletion_started() == {"web-1": 3.0}
    assert timeline.most_restarts("web-1", "app") == 2
    assert [e.seen for e in timeline.events("Killing", "web-2")] == [1.5] and timeline.events("Killing", "web-1") == []


def test_an_engine_line_is_a_ledger_entry_naming_the_pod_only_for_a_healthy_answer() -> None:
    ok = parse_line("7\t1700000000000000\t1700000000000250\t200\t1500\t200\t-\t10.250.0.1:40022\treused\tweb-1\n", 200)
    assert ok == Request(7, 1700000000.0, 1700000000.00025, 0.0015, 200, None, "web-1", "10.250.0.1:40022", 200, "reused",
                         0.0002)
    assert ok.reused and ok.late == pytest.approx(0.00005, abs=1e-6)  # 250 us behind the schedule, 200 of them waiting for a client
    refused = parse_line("8\t1700000000010000\t1700000000010100\t0\t300\t0\tConnection refused\t-\tnew\t-\n", 200)
    assert (refused.status, refused.error, refused.source, refused.pod, refused.reused) == (
        None, "Connection refused", None, None, False)
    assert parse_line("9\t1\t2\t0\t3\t503\t-\t10.0.0.1:1\treopened,close\tweb-2\n", 200).pod is None
    cut = parse_line("10\t1\t2\t0\t3\t0\tRemoteDisconnected\t10.0.0.1:2\treused,retried\tweb-3\n", 200)
    assert (cut.pod, cut.retried, cut.reused, cut.ok) == ("web-3", True, True, False)  # the pod its connection reached


def test_a_rate_the_host_cannot_give_the_engine_cpu_for_is_refused_before_it_starts(tmp_path: Path) -> None:
    place = OnHost(tmp_path / "never-run")
    cores = len(os.sched_getaffinity(0))
    place.check_rate(0.9 * cores / HOST_CPU_PER_REQUEST[False], keepalive=0)
    with pytest.raises(RateTooHigh, match=f"more than this host's {cores}: lower the rate"):
        place.check_rate(1.1 * cores / HOST_CPU_PER_REQUEST[False], keepalive=0)
    with pytest.raises(RateTooHigh):
        with EngineTraffic(Target("http://127.0.0.1:9/"), rate=1e7, place=place):
            pass  # pragma: no cover - refused before


def test_an_engine_line_is_put_on_the_harness_clock() -> None:
    """A pod's node keeps its own clock: the measured offset (the engine's clock minus the harness's) comes off both times."""
    entry = parse_line("1\t1700000002000000\t1700000002000100\t0\t500\t200\t-\t10.0.0.1:1\tnew\tweb-1\n", 200, offset=2.0)
    assert (entry.scheduled, entry.sent, entry.latency) == (1700000000.0, 1700000000.0001, 0.0005)
