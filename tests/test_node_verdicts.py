"""The node verdicts, the timers' reading and the summary's second session, on facts built by hand."""

from __future__ import annotations

import pytest

from podlife.observe.nodes import DEFAULT_MONITOR_GRACE, NodeTimers, flag, go_duration, timers_from
from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.report.summary import merged_claims
from podlife.verdicts.nodes import (
    assert_budget_held,
    assert_evicted_after_toleration,
    assert_kept_serving,
    assert_marked_not_ready,
    assert_not_replaced,
    assert_tainted,
    healthy_pods,
)
from tests.entries import pod_entry

TIMERS = NodeTimers(50.0, 300.0, 300.0, "test")


@pytest.mark.parametrize(("text", "seconds"), [("40s", 40.0), ("1m0s", 60.0), ("500ms", 0.5), ("2m30s", 150.0), ("45", 45.0)])
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration(text) == seconds


def test_a_malformed_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        go_duration("40 s")


def test_timers_come_from_the_command_lines_and_the_last_flag_wins() -> None:
    timers = timers_from(["kcm", "--node-monitor-grace-period=20s", "--node-monitor-grace-period", "30s"],
                         ["apiserver", "--default-unreachable-toleration-seconds=60"], "here")
    assert (timers.monitor_grace, timers.unreachable_toleration, timers.not_ready_toleration) == (30.0, 60.0, 300.0)
    assert flag(["a", "--x"], "--x") is None


def test_unseen_command_lines_fall_back_to_the_defaults_and_say_so() -> None:
    timers = timers_from(None, ["apiserver"], "here")
    assert timers.monitor_grace == DEFAULT_MONITOR_GRACE and "not visible" in timers.source


def test_marked_not_ready_within_grace_and_one_period() -> None:
    assert assert_marked_not_ready(100.0, 151.0, TIMERS) == 51.0
    with pytest.raises(AssertionError, match="should be between 49s and 56s"):
        assert_marked_not_ready(100.0, 120.0, TIMERS)
    with pytest.raises(AssertionError, match="marked not Ready 70.0s"):
        assert_marked_not_ready(100.0, 170.0, TIMERS)


def test_taint_comes_with_not_ready() -> None:
    assert assert_tainted(151.0, 151.0, "node.kubernetes.io/unreachable") == 0.0
    with pytest.raises(AssertionError, match="never got"):
        assert_tainted(None, 151.0, "node.kubernetes.io/unreachable")


def test_eviction_after_toleration_not_before_and_not_never() -> None:
    assert assert_evicted_after_toleration({"a": 160.5}, ("a",), 150.0, 10) == {"a": 10.5}
    with pytest.raises(AssertionError, match="evicted 1.0s after the taint"):
        assert_evicted_after_toleration({"a": 151.0}, ("a",), 150.0, 10)
    with pytest.raises(AssertionError, match="b is still bound to the lost node"):
        assert_evicted_after_toleration({"a": 160.0}, ("a", "b"), 150.0, 10)


def _timeline(*entries: object) -> Timeline:
    return Timeline(origin=0.0, entries=list(entries))  # type: ignore[arg-type]


def test_budget_replayed_from_readiness_and_deletions() -> None:
    timeline = _timeline(
        pod_entry(1, "app-a", ready=True), pod_entry(1, "app-b", ready=True), pod_entry(1, "app-c", ready=True),
        pod_entry(1, "other", ready=True),
        pod_entry(10, "app-a", ready=True, deleting=40),   # evicted: no longer counts
        pod_entry(12, "app-d", ready=True),                 # its replacement ready
        pod_entry(13, "app-a", "DELETED"),
        pod_entry(14, "app-b", ready=True, deleting=44),
    )
    healthy = healthy_pods(timeline, lambda p: p.startswith("app-"), since=5, until=20)
    assert (healthy.fewest, healthy.at_start) == (2, 3)
    assert_budget_held(healthy, 2, "the drain")
    with pytest.raises(AssertionError, match="below the budget's minAvailable 3"):
        assert_budget_held(healthy, 3, "the drain")


def test_a_second_pod_of_the_name_while_the_first_exists_is_caught() -> None:
    timeline = _timeline(pod_entry(1, "db-0", uid="old", deleting=90), pod_entry(30, "db-0", uid="new"))
    assert_not_replaced(timeline, "db-0", "old", 0, 20)
    with pytest.raises(AssertionError, match="uid new"):
        assert_not_replaced(timeline, "db-0", "old", 0, 40)


def _ledger(sent_ok: list[tuple[float, bool]]) -> Ledger:
    return Ledger("t", 25, [Request(i, t, t, 0.01, 200 if ok else None, None if ok else "timeout", None)
                            for i, (t, ok) in enumerate(sent_ok)])


def test_kept_serving_measures_the_longest_silence() -> None:
    ledger = _ledger([(t / 10, t % 3 != 0) for t in range(100)])
    assert assert_kept_serving(ledger, 0.0, 10.0, 2.0) <= 0.3
    dark = _ledger([(t / 10, t < 20) for t in range(100)])
    with pytest.raises(AssertionError, match="answered no request for 8.1s"):
        assert_kept_serving(dark, 0.0, 10.0, 2.0)


def test_a_second_session_adds_its_claims_and_replaces_tests_run_again() -> None:
    earlier = {"RQ-01": {"tests": [{"test": "a", "outcome": "passed"}]},
               "ND-01": {"tests": [{"test": "n", "outcome": "failed"}]}}
    merged = merged_claims(earlier, {"ND-01": [{"test": "n", "outcome": "passed"}], "ND-02": [{"test": "m", "outcome": "passed"}]})
    assert merged == {"RQ-01": [{"test": "a", "outcome": "passed"}], "ND-01": [{"test": "n", "outcome": "passed"}],
                      "ND-02": [{"test": "m", "outcome": "passed"}]}


def test_a_node_that_cannot_be_restored_is_a_harness_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from podlife.chaos import nodes
    from podlife.errors import HarnessError, PodlifeError

    def refuse(name: str) -> None:
        raise PodlifeError(f"kubelet@{name} exited during start-up")

    idle = lambda name: None  # noqa: E731
    machine = SimpleNamespace(power_off=idle, power_on=refuse, stop_kubelet=idle, start_kubelet=idle, partition=idle, heal=idle)
    monkeypatch.setattr(nodes, "machines", lambda scene: machine)
    monkeypatch.setattr(nodes, "pods_on", lambda scene, node: ())
    with pytest.raises(HarnessError, match="n2 could not be restored after the power-off: kubelet@n2 exited"):
        with nodes.node_lost(SimpleNamespace(), "n2", "power-off"):  # type: ignore[arg-type]
            pass
