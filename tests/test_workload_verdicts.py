"""Diagnosis of a user's app's failed requests, from the ledger and the timeline alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from podlife.chaos.apps import Hit
from podlife.errors import NotExercised
from podlife.observe.datapath import DataPath, DataPathSampler
from podlife.observe.shutdown import Shutdown
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.advice import HookSleep, hook_sleep, pre_stop_advice, workload_advice
from podlife.verdicts.traffic import (
    assert_kept_alive_connections_ended,
    check_exposed,
    check_kept_alive_exposed,
    diagnose,
    exposure,
)
from podlife.verdicts.workload import PreStop, shutdown_times
from tests.entries import container, event_entry, exited, pod_entry, slice_entry, window_of


def _req(seq: int, sent: float, pod: str | None, ok: bool = True) -> Request:
    return Request(seq, sent, sent, 0.001, 200 if ok else None, None if ok else "Connection refused", pod)


def _slice(seen: float, **ready: bool) -> Entry:
    return slice_entry(seen, ready)


def _deleting(seen: float, pod: str) -> Entry:
    return pod_entry(seen, pod, deleting=seen)


TIMELINE = Timeline(origin=0.0, entries=[
    pod_entry(0.0, "old", "EXISTING", ip="10.244.0.5"),
    _slice(0.0, old=True),
    pod_entry(2.0, "new", "ADDED", ip="10.244.0.6"),
    _slice(2.0, old=True, new=True),     # the new pod is there at 2.0 and first answers at 4.0
    _deleting(6.0, "old"),
    _slice(6.5, old=False, new=True),    # the old pod's endpoint goes 0.5 s after its deletion
])


def _rules(*samples: tuple[float, set[str]]) -> DataPath:
    """The node's rules as sampled at each time, routing ``web`` to the addresses given."""
    sampler = DataPathSampler("ns")
    for taken, addresses in samples:
        sampler.record(taken, {("ns/web:http", a) for a in addresses})
    return sampler.data_path


OLD, NEW = "10.244.0.5", "10.244.0.6"


def test_a_request_refused_while_a_pod_was_routed_to_but_not_yet_answering_is_a_start_up_failure() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 3.0, None, ok=False), _req(2, 4.0, "new")])
    [line] = diagnose(window_of(ledger, TIMELINE))
    assert line.startswith("1 request(s) failed at pods that had never answered yet (new? x1; Connection refused x1)")
    assert "readiness probe" in line


def test_a_request_refused_by_a_deleted_pod_still_routed_to_is_a_leaving_failure_with_the_step_and_fix() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 6.2, "old", ok=False)])
    [text] = diagnose(window_of(ledger, TIMELINE))
    assert "failed at pods that were leaving, the data path still routing to them (old x1; Connection refused x1)" in text
    assert "old: deletion started at +6.000s; the EndpointSlice marked it not ready 0.50s later" in text
    assert "requests sent to it from +0.20s on failed: the app stopped serving before the data path stopped routing to it" in text
    assert "preStop sleep of at least 2s" in text


def test_the_data_path_places_a_refusal_that_names_no_pod_and_sizes_the_fix() -> None:
    """kube-proxy's rules dropped the old pod 0.8 s after its deletion (the slice after 0.5 s): a refusal
    at +0.7 s, when the rules routed to the old pod and to a new one that had answered, is the old pod's."""
    rules = _rules((5.0, {OLD, NEW}), (6.75, {OLD, NEW}), (6.8, {NEW}))
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 6.7, None, ok=False)])
    [text] = diagnose(window_of(ledger, TIMELINE, data_path=rules))
    assert "(old? x1; Connection refused x1)" in text
    assert "the node's rules stopped routing to it 0.80s later" in text
    assert "preStop sleep of at least 2s (the longest data-path lag here, 0.80s, plus 1s" in text


def test_the_data_path_tells_a_starting_pod_from_a_leaving_one() -> None:
    """Without the rules a refusal at +6.2 s could be the new pod's (never answered yet) or the old one's;
    the rules show the new pod was not routed to yet."""
    late = Timeline(origin=0.0, entries=[*TIMELINE.entries[:2], pod_entry(6.1, "new", "ADDED", ip=NEW),
                                         _deleting(6.0, "old"), _slice(6.15, old=False, new=True)])
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 6.2, None, ok=False), _req(2, 7.5, "new")])
    [unplaced] = diagnose(window_of(ledger, late))
    assert "could not be placed" in unplaced and "a starting pod (new) and a leaving one (old)" in unplaced
    rules = _rules((5.0, {OLD}), (6.5, {OLD}), (6.55, {NEW}))
    [placed] = diagnose(window_of(ledger, late, data_path=rules))
    assert "(old? x1; Connection refused x1)" in placed


def test_a_refusal_while_the_rules_routed_to_no_pod_is_said_to_be_so() -> None:
    rules = _rules((5.0, {OLD}), (6.1, set()), (9.5, set()))
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 9.0, None, ok=False)])
    [line] = diagnose(window_of(ledger, TIMELINE, data_path=rules))
    assert line.startswith("1 request(s) failed while the node's rules routed the Service to no pod at all")


def test_a_failure_no_pod_phase_explains_is_said_to_be_unplaced_with_why() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 9.0, None, ok=False)])
    [line] = diagnose(window_of(ledger, TIMELINE))
    assert line.startswith("1 failed request(s) could not be placed (Connection refused x1): no pod was starting or leaving")
    rules = _rules((5.0, {OLD, NEW}), (6.8, {NEW}), (9.5, {NEW}))
    [line] = diagnose(window_of(ledger, TIMELINE, data_path=rules))
    assert "the data path routed to new then, each of which had answered before and none was leaving" in line


def test_exposure_counts_requests_that_reached_a_pod_after_the_kubelet_began_stopping_it() -> None:
    timeline = Timeline(origin=0.0, entries=[*TIMELINE.entries, event_entry(6.1, "Killing", "old")])
    hit = Hit("scale-down", 5.9, ("old",))
    few = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 6.05, "old"), _req(2, 6.2, "old"), _req(3, 6.3, "new")])
    assert exposure(few, timeline, ["old"]) == {"old": 1}
    with pytest.raises(NotExercised, match=r"only 1 request\(s\) reached the pods the scale-down removed after the "
                                           r"kubelet began stopping them \(old 1; at least 3 needed\)"):
        check_exposed(window_of(few, timeline), hit)
    enough = Ledger("http://web", 10, [_req(0, 1.0, "old"), *(_req(i, 6.1 + i / 10, "old") for i in range(1, 4))])
    assert check_exposed(window_of(enough, timeline), hit) == {"old": 3}


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
    times = shutdown_times(_shutdown(3.0, 0), 30, http)
    assert times["pre_stop"] == "httpGet (length unknown from the manifests)" and "after_sigterm_s" not in times
    assert times["advice"] == ["RQ-03: its preStop hook (httpGet (length unknown from the manifests)) is not a plain "
                               "sleep: the pod took 3.0s from the delete to exit, the hook and the app's shutdown together"]


def test_an_app_without_a_hook_that_stops_before_the_data_path_drops_it_is_told_the_delay_it_needs() -> None:
    times = shutdown_times(_shutdown(0.2, 0), 30, PreStop.of({}), data_path_lag=1.4)
    assert times["advice"] == ["RQ-03: app stopped 0.2s after the delete, with no preStop hook, while the data path "
                               "could still route requests to it (the node's rules dropped it 1.40s after its deletion "
                               "started). Fix: a preStop sleep of at least 3s"]
    assert "kube-proxy syncs its rules at most once a second" in shutdown_times(_shutdown(0.2, 0), 30, PreStop.of({}))["advice"][0]
    assert "advice" not in shutdown_times(_shutdown(6.0, 0), 30, PreStop.of({}), data_path_lag=0.3)


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


#: preStop hooks as the Kubernetes docs and popular charts write them: (command, seconds, exact).
HOOKS = [
    (["sleep", "5"], 5.0, True),
    (["/bin/sleep", "10"], 10.0, True),
    (["/bin/sh", "-c", "sleep 5"], 5.0, True),
    (["sh", "-c", "sleep 15"], 15.0, True),
    (["/bin/bash", "-c", "sleep 2s; sleep 1m"], 62.0, True),
    (["/bin/sh", "-ec", "sleep 5"], 5.0, True),
    (["busybox", "sleep", "3"], 3.0, True),
    (["/bin/sh", "-c", "sleep 5 && /usr/sbin/nginx -s quit"], 5.0, False),
    (["/bin/sh", "-c", "nginx -s quit; while pgrep -x nginx; do sleep 1; done"], None, False),
    (["sh", "-c", "sleep 10\nkill -TERM 1"], 10.0, False),
    (["/wait-shutdown"], None, False),
    (["sh", "-c", "sleep $DELAY"], None, False),
    (["sh", "-c", "check || sleep 5"], None, False),
    (["sh", "-c", "sleep 5 &"], None, False),
    (["sh", "-c", "sleep 'unbalanced"], None, False),
]


@pytest.mark.parametrize(("command", "seconds", "exact"), HOOKS)
def test_a_hook_is_read_as_people_write_it(command: list[str], seconds: float | None, exact: bool) -> None:
    assert hook_sleep({"lifecycle": {"preStop": {"exec": {"command": command}}}}) == HookSleep(seconds, exact)


def test_advice_counts_a_shell_wrapped_sleep_and_calls_other_hooks_of_unknown_length() -> None:
    def rq03(hook: dict) -> list[str]:  # type: ignore[type-arg]
        deployment = _deployment({"name": "app", "image": "shop:1", "lifecycle": {"preStop": hook}}, {"app": "web"})
        return [str(a) for a in workload_advice(deployment) if a.claim == "RQ-03"]

    assert rq03({"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}) == []
    assert rq03({"exec": {"command": ["sh", "-c", "sleep 5 && nginx -s quit"]}}) == []
    [unknown] = rq03({"httpGet": {"path": "/drain", "port": 8080}})
    assert "preStop hook's length is unknown from the manifests" in unknown and "shutdown check measures" in unknown
    assert PreStop.of({"lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 5; drain"]}}}}).describe() == "exec at least 5s"


def test_a_request_in_flight_when_the_deletion_started_is_the_leaving_pods() -> None:
    """Sent just before the deletion, cut off when the app exited at SIGTERM: a leaving failure, not a serving one."""
    cut = Request(2, 5.9, 5.9, 0.5, None, "Connection reset", "old")
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), cut])
    [text] = diagnose(window_of(ledger, TIMELINE))
    assert "failed at pods that were leaving" in text and "requests sent to it from -0.10s on failed" in text


def test_without_the_rules_the_last_placed_failure_bounds_the_data_path_lag_from_below() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), _req(2, 6.2, "old", ok=False),
                                       _req(3, 7.1, "old", ok=False)])
    [text] = diagnose(window_of(ledger, TIMELINE))
    assert "the data path still routed to it 1.10s later (its last request there)" in text
    assert ("Fix: a preStop sleep of at least 3s (the data path still routed to old 1.10s after its deletion started, "
            "and maybe longer, plus 1s") in text


def test_a_request_cut_on_a_kept_alive_connection_long_after_the_rules_dropped_its_pod_is_named_so_with_its_fix() -> None:
    """The rules dropped the old pod 0.8 s after its deletion; a request on a connection kept since before still
    reached it 5 s after and was cut when the app exited: no preStop length helps, closing the connection does."""
    rules = _rules((5.0, {OLD, NEW}), (6.75, {OLD, NEW}), (6.8, {NEW}))
    cut = Request(3, 11.0, 11.0, 0.1, None, "RemoteDisconnected", "old", "10.0.0.1:4000", 200, "reused")
    kept = Request(2, 10.0, 10.0, 0.1, 200, None, "old", "10.0.0.1:4000", 200, "reused")
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _req(1, 4.0, "new"), kept, cut])
    [text] = diagnose(window_of(ledger, TIMELINE, data_path=rules))
    assert text.startswith("1 request(s) on kept-alive connections were cut off at pods that were leaving (old x1; "
                           "RemoteDisconnected x1): ")
    assert "old: deletion started at +6.000s; the EndpointSlice marked it not ready 0.50s later, the node's rules stopped " \
           "routing to it 0.80s later; requests on its kept-alive connections were cut off 5.00-5.00s after it" in text
    assert "'Connection: close'" in text and "a longer preStop sleep does not help" in text
    assert exposure(ledger, TIMELINE, ["old"], kept_alive=True) == {"old": 2}


def _kept(seq: int, sent: float, connection: str = "reused") -> Request:
    return Request(seq, sent, sent, 0.1, 200, None, "old", "10.0.0.1:4000", 200, connection)


@pytest.mark.parametrize(("last", "verdict"), [
    ("reused,close", None),  # in flight when the app began closing: answered, connection closed
    ("reused", "none was in flight when a pod ended its connections"),  # only idle connections at the end
])
def test_a_kept_alive_pass_needs_a_request_in_flight_when_the_pod_ended_its_connections(last: str, verdict: str | None) -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _kept(1, 6.1), _kept(2, 6.2), _kept(3, 6.3, last)])
    window = window_of(ledger, TIMELINE)
    hit = Hit("rolling update", 5.9, ("old",))
    if verdict is None:
        assert check_kept_alive_exposed(window, hit) == {"kept_alive_requests": {"old": 3}, "told": {"old": 1}, "cut_off": {}}
    else:
        with pytest.raises(NotExercised, match=verdict):
            check_kept_alive_exposed(window, hit)


def _retried(seq: int, sent: float) -> list[Request]:
    """A request a kept connection to ``old`` cut off, and the client's retry that ``new`` answered."""
    return [Request(seq, sent, sent, 0.002, None, "RemoteDisconnected", "old", "10.0.0.1:4000", 200, "reused,retried"),
            Request(seq, sent, sent + 0.002, 0.1, 200, None, "new", "10.0.0.1:4100", 200, "retry")]


def test_a_request_sent_again_after_its_kept_connection_was_cut_is_not_lost_and_its_retry_not_late() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), *_retried(1, 6.1)])
    ledger.requests[2] = replace(ledger.requests[2], sent=6.9)  # the retry left when the first attempt failed
    assert not ledger.failures and ledger.success_ratio == 1.0 and ledger.sent_count == 2
    assert ledger.max_send_lag() == 0.0 and ledger.summary()["retried"] == 1


@pytest.mark.parametrize("told", [False, True])
def test_rq04_requests_cut_off_fail_the_check_unless_the_app_told_its_clients_to_leave(told: bool) -> None:
    """Cut off at an app that said 'Connection: close' is the race HTTP/1.1 leaves to clients; at one that never
    said it, the app exited with its connections open."""
    last = _kept(2, 6.3, "reused,close" if told else "reused")
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _kept(1, 6.2), last, *_retried(3, 6.4)])
    window, hit = window_of(ledger, TIMELINE), Hit("rolling update", 5.9, ("old",))
    assert check_kept_alive_exposed(window, hit)["cut_off"] == {"old": 1}
    if told:
        assert assert_kept_alive_connections_ended(window, hit) == {"told_to_leave": 1, "cut_off_while_closing": 1}
        return
    with pytest.raises(AssertionError) as failed:
        assert_kept_alive_connections_ended(window, hit)
    text = str(failed.value)
    assert text.startswith("The app ended its kept-alive connections under requests without telling its clients: no "
                           "answer from the leaving pods said 'Connection: close'")
    assert "(the client sent 1 of them again on a new connection, as HTTP pools do for a GET" in text
    assert "then close the connections still idle" in text and "Server.SetKeepAlivesEnabled(false)) races" in text


def test_an_app_that_keeps_no_connection_alive_is_not_shown_to_cut_one_off() -> None:
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _kept(1, 6.1, "new,close"), _kept(2, 6.2, "new,close")])
    with pytest.raises(NotExercised, match="closed every connection after its answer"):
        check_kept_alive_exposed(window_of(ledger, TIMELINE), Hit("rolling update", 5.9, ("old",)))


def test_an_idle_end_says_how_busy_each_kept_alive_client_was() -> None:
    """Counted over the clients the engine kept, not over every connection they opened again."""
    ledger = Ledger("http://web", 10, [_req(0, 1.0, "old"), _kept(1, 6.1), _kept(2, 6.2), _kept(3, 6.3),
                                       _kept(4, 6.4, "reopened")], keepalive=16)
    with pytest.raises(NotExercised, match=r"at 10 req/s over 16 kept-alive clients, each carried a request 6\.3% of the time"):
        check_kept_alive_exposed(window_of(ledger, TIMELINE), Hit("rolling update", 5.9, ("old",)))
