"""Pure logic of the back-off expectation and verdicts, the start-up order and the overlap maths."""

from __future__ import annotations

import xml.dom.minidom

import pytest

from podlife.observe.kubelet import BackoffPolicy, backoff_policy, seconds
from podlife.observe.snapshots import Running, Waiting
from podlife.observe.timeline import Entry, Timeline
from podlife.report.chart import backoff_chart
from podlife.verdicts.backoff import Restart, allowed, assert_follows, assert_starts_over, infer
from podlife.verdicts.backoff import restarts as restarts_seen
from podlife.verdicts.identity import assert_never_overlapped, assert_overlapped
from podlife.verdicts.ordering import assert_one_at_a_time
from tests.entries import container, exited, pod_entry


def restarts(*delays: float) -> list[Restart]:
    """Restarts 1.. with the given delays, each run lasting one second."""
    out, t = [], 0.0
    for number, delay in enumerate(delays, start=1):
        out.append(Restart(number, t, t + delay))
        t += delay + 1
    return out


@pytest.mark.parametrize("text, value", [("5m0s", 300), ("1m30s", 90), ("10s", 10), ("500ms", 0.5), ("1h0m0s", 3600)])
def test_go_durations(text: str, value: float) -> None:
    assert seconds(text) == value


def test_malformed_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        seconds("5 minutes")


def test_policy_follows_kubelet_precedence() -> None:
    assert backoff_policy({}, "x") == BackoffPolicy(source="x")
    reduced = backoff_policy({"featureGates": {"ReduceDefaultCrashLoopBackOffDecay": True}}, "x")
    assert (reduced.initial, reduced.cap) == (1, 60)
    capped = backoff_policy({"crashLoopBackOff": {"maxContainerRestartPeriod": "5s"}}, "x")
    assert (capped.initial, capped.cap) == (5, 5)  # an initial delay above the cap is lowered to it
    gate_off = backoff_policy({"crashLoopBackOff": {"maxContainerRestartPeriod": "1m0s"},
                               "featureGates": {"KubeletCrashLoopBackOffMax": False}}, "x")
    assert gate_off.cap == 300


def test_expected_delays_and_cap() -> None:
    policy = BackoffPolicy()
    assert [policy.delay(n) for n in range(1, 9)] == [0, 10, 20, 40, 80, 160, 300, 300]
    assert policy.restarts_until_cap() == 7


def test_window_grows_with_jitter_bounded_by_sync() -> None:
    policy = BackoffPolicy()
    assert allowed(policy, 2) == (9, 10 + 5 + 4)
    assert allowed(policy, 7) == (299, 300 + 30 + 4)  # the jitter applies to at most the 60 s resync


def test_measured_defaults_pass_and_infer_the_policy() -> None:
    measured = restarts(1, 10, 29, 58, 95, 170, 310, 301)
    assert_follows(BackoffPolicy(), measured, 8)
    assert infer(measured) == {"initial_s": 10, "factor": pytest.approx(2.0, abs=0.15), "cap_s": pytest.approx(305.5)}


def test_another_policy_is_caught() -> None:
    with pytest.raises(AssertionError, match="restart 2: waited   10.0s, expected     1s"):
        assert_follows(BackoffPolicy(initial=1, cap=60), restarts(1, 10), 2)


def test_too_few_restarts_is_caught() -> None:
    with pytest.raises(AssertionError, match="needed 3"):
        assert_follows(BackoffPolicy(), restarts(1, 10), 3)


def test_back_off_starting_over() -> None:
    assert_starts_over(BackoffPolicy(), restarts(1, 10, 20, 1, 10), 4)
    with pytest.raises(AssertionError, match="did not start over"):
        assert_starts_over(BackoffPolicy(), restarts(1, 10, 20, 40, 80), 4)


def test_restart_delays_are_read_from_each_status_snapshot_once() -> None:
    """A restart is counted from the first snapshot showing both the previous run's finish and the new run's start."""
    def crash_loop(seen: float, restarts: int, started: float | None, finished: float) -> Entry:
        state = Running(started) if started is not None else Waiting("CrashLoopBackOff")
        return pod_entry(seen, "p", containers={"c": container(state, restarts, exited(1, finished))})

    timeline = Timeline(origin=0.0, entries=[
        pod_entry(0.0, "p", containers={"c": container(Running(0.0))}),
        crash_loop(2.0, 1, None, 1.0),    # back-off: the restart has not started yet
        crash_loop(3.0, 1, 1.5, 1.0),
        crash_loop(4.0, 1, 1.5, 1.0),     # the same restart seen again
        crash_loop(20.0, 2, 12.0, 2.0),
        pod_entry(21.0, "other", containers={"c": container(Running(20.0), 5, exited(1, 19.0))}),
    ])
    assert restarts_seen(timeline, "p", "c") == [Restart(1, 1.0, 1.5), Restart(2, 2.0, 12.0)]


def test_chart_is_valid_svg() -> None:
    svg = backoff_chart([(1, 0, 0, 4), (2, 9, 10, 19)], [(1, 1.0), (2, 10.0)], "t")
    assert xml.dom.minidom.parseString(svg).documentElement.tagName == "svg"


def test_steps_in_order_and_overlapping() -> None:
    in_order = [("a-start", 0), ("a-end", 1), ("b-start", 1.1), ("b-end", 2), ("app-started", 2.5)]
    assert_one_at_a_time(in_order, ["a", "b"], "app-started")
    side_by_side = [("a-start", 0), ("b-start", 0.1), ("app-started", 0.2), ("a-end", 1), ("b-end", 1.1)]
    with pytest.raises(AssertionError, match="overlapped"):
        assert_one_at_a_time(side_by_side, ["a", "b"], "app-started")


def test_heartbeat_overlap_both_ways() -> None:
    beats = [("beat-old", 0.0), ("beat-old", 1.0), ("beat-new", 0.5), ("beat-new", 2.0)]
    assert assert_overlapped(beats, "old", "new") == 0.5
    with pytest.raises(AssertionError, match="at the same time"):
        assert_never_overlapped(beats, "old", "new")
    apart = [("beat-old", 0.0), ("beat-new", 2.0)]
    assert assert_never_overlapped(apart, "old", "new") == 2.0
    with pytest.raises(AssertionError, match="never overlapped"):
        assert_overlapped(apart, "old", "new")
