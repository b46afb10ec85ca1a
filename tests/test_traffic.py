"""The traffic generator against servers of the test's own on loopback: outcomes, errors, open loop."""

from __future__ import annotations

import socket

import pytest

from podlife.access import PodNaming, Target
from podlife.observe.traffic import Traffic


def _run(url: str, rate: float = 200, count: int = 100, timeout: float = 2.0,
         naming: PodNaming = PodNaming(body=True), expect: int = 200) -> Traffic:
    traffic = Traffic(Target(url, expect=expect, naming=naming), rate=rate, limit=count, timeout=timeout)
    with traffic:
        traffic.finish()
    return traffic


def test_every_scheduled_request_is_in_the_ledger_in_order(server: str) -> None:
    ledger = _run(f"{server}/hostname").ledger
    assert [r.seq for r in ledger.requests] == list(range(100))
    assert ledger.served_by() == {"pod-a": 100}
    assert all(r.sent >= r.scheduled - 0.001 for r in ledger.requests), "a request left before its time (1 ms: timer rounding)"


def test_the_pod_is_named_as_the_app_names_it_and_sources_are_recorded(server: str) -> None:
    assert _run(f"{server}/hostname", count=5, naming=PodNaming(header="x-served-by")).ledger.served_by() == {"pod-h": 5}
    unnamed = _run(f"{server}/hostname", count=5, naming=PodNaming()).ledger
    assert unnamed.served_by() == {} and all(r.source and r.source.startswith("127.0.0.1:") for r in unnamed.requests)
    assert len({r.source for r in unnamed.requests}) == 5, "every request opens a connection of its own"


def test_a_healthy_answer_is_the_status_the_target_expects(server: str) -> None:
    assert _run(f"{server}/other", count=5, expect=404).ledger.success_ratio == 1.0


def test_statuses_and_refusals_are_recorded(server: str) -> None:
    assert {r.status for r in _run(f"{server}/other", count=5).ledger.requests} == {404}
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = _run(f"http://127.0.0.1:{port}/hostname", count=5).ledger
    assert {(r.status, r.error) for r in refused.requests} == {(None, "Connection refused")}


def test_a_server_that_never_answers_times_out_without_delaying_the_schedule() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=200) as silent:
        ledger = _run(f"http://127.0.0.1:{silent.getsockname()[1]}/hostname", rate=100, count=50, timeout=0.5).ledger
    assert {r.error for r in ledger.requests} == {"timed out"}
    assert all(0.5 <= r.latency < 2.0 for r in ledger.requests), "the timeout did not end the hanging requests"
    # Closed loop, each request would wait for the one before it to time out: the last would leave
    # 49 x 0.5 s late. Open loop, none waits; the bound leaves the rest to a busy machine.
    assert ledger.max_send_lag() < 0.5, "a hanging request held up the ones scheduled after it"


def test_only_plain_http_is_spoken() -> None:
    with pytest.raises(ValueError, match="plain HTTP"):
        Traffic(Target("https://example.invalid/"))
