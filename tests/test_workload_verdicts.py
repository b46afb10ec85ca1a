"""Diagnosis of a user's app's failed requests, from the ledger and the timeline alone."""

from __future__ import annotations

import pytest

from podlife.observe.shutdown import Shutdown
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.advice import pre_stop_advice, workload_advice
from podlife.verdicts.traffic import diagnose
from podlife.verdicts.workload import PreStop, shutdown_times
from tests.entries import container, exited, pod_entry, slice_entry


def _req(seq: int, sent: float, pod: str | None, ok: bool = True) -> Request:
    return Request(seq, sent, sent, 0.001, 200 if ok else None, None if ok else "Connection refused", pod)


def _slice(seen: float, **ready: bool) -> Entry:
    return slice_entry(seen, ready)


def _deleting(seen: float, pod: str) -> Entry:
    return pod_entry(seen, pod, deleting=seen)


TIMELINE = Timeline(origin=0.0, entries=[
    pod_entry(0.0, "old", "EXISTING"),
    _slice(0.0, old=True),
    pod_entry(2.0, "new", "ADDED"),
    _slice(2.0, old=True, new=True),     # the new pod is there at 2.0 and first answers at 4.0
    _deleting(6.0, "old"),
    _slice(6.5, old=False, new=True),    # the old pod's endpoint goes 0.5 s after its deletion
])


def test_a_request_refused_while_a_pod_was_routed_to_but_not_yet_answering_is_a_start_up_failure() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 3.0, None, ok=False), _req(2, 4.0, "new")])
    [line] = diagnose(ledger, TIMELINE)
    assert line.startswith("1 request(s) went to pods before they had ever answered (new? x1; Connection refused x1)")
    assert "readiness probe" in line


def test_a_request_refused_by_a_deleted_pod_still_routed_to_is_a_shutdown_failure_with_the_measured_fix() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 6.2, "old", ok=False)])
    [line] = diagnose(ledger, TIMELINE)
    assert "deletion had started (old x1; Connection refused x1)" in line
    assert "endpoint removal took up to 0.50s here" in line and "preStop sleep of at least 2s" in line


def test_a_failure_no_pod_phase_explains_is_said_to_be_unexplained() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 9.0, None, ok=False)])
    assert diagnose(ledger, TIMELINE) == ["1 failed request(s) could not be tied to a pod's start or shutdown (Connection refused x1)"]


def test_a_pre_stop_delay_that_eats_the_grace_period_is_advised_against() -> None:
    assert pre_stop_advice(5, 30) is None
    assert "leaving the app 2s after SIGTERM" in (pre_stop_advice(28, 30) or "")


def _deployment(container: dict, labels: dict, annotations: dict | None = None) -> dict:  # type: ignore[type-arg]
    return {"kind": "Deployment", "metadata": {"name": "web", **({"annotations": annotations} if annotations else {})},
            "spec": {"template": {"metadata": {"labels": labels}, "spec": {"terminationGracePeriodSeconds": 10,
                                                                          "containers": [container]}}}}


def test_advice_names_each_claim_the_manifest_misses() -> None:
    bare = _deployment({"name": "app", "image": "shop"}, {"app": "web"})
    assert [a.claim for a in workload_advice(bare)] == ["OP-02", "RQ-01", "RQ-03", "OP-05", "OP-03", "OP-04"]
    assert "has no tag, so it is pulled on every start; pin a version" in str(workload_advice(bare)[0])


def test_a_manifest_that_follows_the_advice_gets_none() -> None:
    tidy = _deployment({"name": "app", "image": "example.com/shop:1.2", "readinessProbe": {"httpGet": {"path": "/"}},
                        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                        "terminationMessagePolicy": "FallbackToLogsOnError"},
                       {"app": "web", "tier": "frontend"}, {"description": "the shop"})
    assert workload_advice(tidy) == []
    stale = _deployment({**tidy["spec"]["template"]["spec"]["containers"][0], "image": "shop:latest",
                         "imagePullPolicy": "IfNotPresent", "lifecycle": {"preStop": {"sleep": {"seconds": 9}}}},
                        {"app": "web", "tier": "frontend"}, {"description": "the shop"})
    assert [a.claim for a in workload_advice(stale)] == ["OP-02", "LC-12"]
    assert "a node that holds an older latest runs it" in str(workload_advice(stale)[0])


def test_placement_advice_asks_for_replicas_spread_and_a_budget() -> None:
    single = _deployment({"name": "app", "image": "shop:1"}, {"app": "web"})
    assert [a.claim for a in workload_advice(single, [])][-2:] == ["ND-04", "ND-01"]
    packed = {**single, "spec": {**single["spec"], "replicas": 3}}
    advice = [str(a) for a in workload_advice(packed, [])]
    assert any("not spread across nodes" in a for a in advice) and any("no PodDisruptionBudget" in a for a in advice)
    spread_spec = {**packed["spec"]["template"]["spec"], "topologySpreadConstraints": [{"maxSkew": 1}]}
    spread = {**packed, "spec": {**packed["spec"], "template": {**packed["spec"]["template"], "spec": spread_spec}}}
    budget = {"kind": "PodDisruptionBudget", "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}
    assert not [a for a in workload_advice(spread, [spread, budget]) if a.claim.startswith("ND")]
    other = {"kind": "PodDisruptionBudget", "spec": {"selector": {"matchLabels": {"app": "other"}}}}
    assert [a.claim for a in workload_advice(spread, [other]) if a.claim.startswith("ND")] == ["ND-01"]


def _shutdown(finished: float, exit_code: int) -> Shutdown:
    """A pod deleted at 0 whose app container finished at ``finished`` with ``exit_code``."""
    return Shutdown("web-1", "app", 0.0, Timeline(origin=0.0, entries=[
        pod_entry(finished, "web-1", containers={"app": container(exited(exit_code, finished))})]))


SLEEP_5 = PreStop.of({"lifecycle": {"preStop": {"sleep": {"seconds": 5}}}})


def test_a_clean_shutdown_is_split_at_sigterm_when_the_hook_is_a_sleep() -> None:
    assert shutdown_times(_shutdown(5.4, 0), 15, SLEEP_5) == {"shutdown_s": 5.4, "pre_stop": "sleep 5s", "after_sigterm_s": 0.4}


def test_a_hook_of_unknown_length_is_named_and_not_split() -> None:
    http = PreStop.of({"lifecycle": {"preStop": {"httpGet": {"path": "/drain", "port": 8080}}}})
    assert shutdown_times(_shutdown(3.0, 0), 30, http) == {"shutdown_s": 3.0, "pre_stop": "httpGet (length unknown)"}
    assert shutdown_times(_shutdown(0.2, 0), 30, PreStop.of({})) == {"shutdown_s": 0.2, "pre_stop": "none"}


def test_sigkill_at_the_grace_period_blames_sigterm_handling() -> None:
    with pytest.raises(AssertionError, match=r"SIGKILLed 10\.0s .* did not exit on SIGTERM in the 5s after its preStop hook"):
        shutdown_times(_shutdown(10.0, 137), 10, SLEEP_5)


def test_sigkill_after_a_hook_that_ate_the_grace_period_blames_the_hook() -> None:
    sleep_9 = PreStop.of({"lifecycle": {"preStop": {"exec": {"command": ["sleep", "9"]}}}})
    with pytest.raises(AssertionError, match=r"preStop hook \(exec 9s\) left it only 2s of the 10s grace period"):
        shutdown_times(_shutdown(11.0, 137), 10, sleep_9)


def test_a_hook_that_eats_most_of_the_grace_period_is_advice_on_a_pass() -> None:
    sleep_13 = PreStop.of({"lifecycle": {"preStop": {"sleep": {"seconds": 13}}}})
    assert shutdown_times(_shutdown(13.5, 0), 15, sleep_13)["advice"] == [
        "LC-12: the preStop delay (13s) takes more than 80% of the 15s grace period, leaving the app 2s after SIGTERM"]


def test_exit_137_before_the_grace_period_is_not_a_kill_at_grace() -> None:
    """An app that SIGKILLs itself (or is OOM-killed) early did not run into the grace period."""
    assert shutdown_times(_shutdown(1.0, 137), 10, SLEEP_5)["shutdown_s"] == 1.0
