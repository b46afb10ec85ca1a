"""The node's rules read as routes, and RQ-02 read from the EndpointSlice: pure logic over recorded samples."""

from __future__ import annotations

import pytest

from podlife.observe.datapath import DataPathSampler, routed_endpoints
from podlife.observe.snapshots import EndpointState, Running, SliceSnapshot
from podlife.observe.timeline import Entry, Timeline
from podlife.verdicts.endpoints import assert_endpoints_left_on_deletion
from tests.entries import container, exited, pod_entry

#: ``iptables-save -t nat`` as kube-proxy leaves it (iptables mode), trimmed to one Service and DNS.
RULES = """*nat
:KUBE-SVC-ERIFXISQEP7F7OF4 - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -d 10.96.12.7/32 -p tcp -m comment --comment "t1/web:http cluster IP" \
-m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-ERIFXISQEP7F7OF4 -m comment --comment "kube-system/kube-dns:dns-tcp -> 10.244.0.2:53" -j KUBE-SEP-IT2ZTR26TO4XFPTO
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "t1/web:http -> 10.244.0.7:8080" \
-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "t1/web:http -> 10.244.0.9:8080" -j KUBE-SEP-BBBBBBBBBBBBBBBB
COMMIT
"""


def test_the_rules_name_each_endpoint_of_the_namespace_they_route_to() -> None:
    assert routed_endpoints(RULES, "t1") == {("t1/web:http", "10.244.0.7"), ("t1/web:http", "10.244.0.9")}
    assert routed_endpoints(RULES, "t2") == set()


def test_samples_become_routes_with_the_uncertainty_between_two_samples() -> None:
    sampler = DataPathSampler("t1")
    sampler.record(1.0, {("t1/web:http", "a")})
    sampler.record(1.05, {("t1/web:http", "a"), ("t1/web:http", "b")})
    sampler.record(1.10, {("t1/web:http", "b")})
    path = sampler.data_path
    assert path.routed_at(1.0) == {"a": True}
    assert path.routed_at(1.02) == {"a": True, "b": False}     # b was added between 1.0 and 1.05
    assert path.routed_at(1.07) == {"a": False, "b": True}     # a was dropped between 1.05 and 1.10
    assert path.routed_at(2.0) == {"b": True}                  # still routed at the last sample
    route = path.route_at("a", 1.04)
    assert route is not None and (route.last, route.gone_by) == (1.05, 1.10)


def _slice(seen: float, **endpoints: tuple[bool, bool]) -> Entry:
    return Entry(seen, "web-x", "MODIFIED",
                 SliceSnapshot("web", {p: EndpointState(ready=r, terminating=t) for p, (r, t) in endpoints.items()}))


def _timeline(*slices: Entry, stopped_at: float = 9.0) -> Timeline:
    """web-1 is deleted at 1.0 and its container (after a 5 s preStop sleep) stops at ``stopped_at``."""
    running = {"app": container(Running(0.0))}
    return Timeline(origin=0.0, entries=sorted([
        pod_entry(0.0, "web-1", "EXISTING", ready=True, containers=running),
        _slice(0.0, **{"web-1": (True, False)}),
        pod_entry(1.0, "web-1", deleting=31.0, containers=running),
        pod_entry(stopped_at, "web-1", deleting=31.0, containers={"app": container(exited(0, stopped_at))}),
        pod_entry(stopped_at + 0.1, "web-1", "DELETED", deleting=31.0, containers={"app": container(exited(0, stopped_at))}),
        *slices,
    ], key=lambda e: e.seen))


def test_rq02_holds_when_the_endpoint_turns_not_ready_while_the_container_runs() -> None:
    timeline = _timeline(_slice(1.03, **{"web-1": (False, True)}))
    assert assert_endpoints_left_on_deletion(timeline, ["web-1"], "app", 5) == {"web-1": 0.03}


def test_rq02_names_an_endpoint_that_stayed_ready_through_the_shutdown() -> None:
    """publishNotReadyAddresses: ready and terminating until the pod is gone."""
    timeline = _timeline(_slice(1.03, **{"web-1": (True, True)}), _slice(9.15))
    with pytest.raises(AssertionError, match=r"the endpoint of web-1 stayed ready in the EndpointSlice after its deletion "
                                             r"started, until it vanished from the slice 8\.15s later, after app had stopped"):
        assert_endpoints_left_on_deletion(timeline, ["web-1"], "app", 5)


def test_rq02_names_an_endpoint_that_waited_for_the_container() -> None:
    timeline = _timeline(_slice(6.2, **{"web-1": (False, True)}), stopped_at=6.1)
    with pytest.raises(AssertionError, match=r"turned not ready only 5\.20s after its deletion started, once app had stopped"):
        assert_endpoints_left_on_deletion(timeline, ["web-1"], "app", 5)


def test_rq02_names_an_endpoint_still_ready_past_the_pre_stop_delay() -> None:
    """A controller that waits for the readiness probe to fail: not ready only once the app stopped answering."""
    timeline = _timeline(_slice(6.5, **{"web-1": (False, True)}), stopped_at=7.0)
    with pytest.raises(AssertionError, match=r"stayed ready for 5\.50s after its deletion started, past its 5s preStop "
                                             r"delay: it still got new requests after SIGTERM"):
        assert_endpoints_left_on_deletion(timeline, ["web-1"], "app", 5)
