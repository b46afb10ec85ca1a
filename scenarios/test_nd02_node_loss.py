"""ND-02: a lost node is marked NotReady after the grace period; its pods go when their toleration runs out.

Story: two replicas of an app that tolerate a lost node for TOLERATION seconds (instead of the
cluster's 300) start on a node, beside one pod that tolerates it for an hour. The node is
powered off. The node lifecycle controller marks it not Ready one node monitor grace period
(read from the cluster) after the kubelet's last Lease renewal, and taints it
``unreachable:NoExecute``; TOLERATION seconds later the two replicas are evicted and the
Deployment starts replacements on other nodes. Every time is measured against the timers read
from the cluster; the slow profile runs the same story with the default toleration.

Control: the pod tolerating an hour is still bound to the lost node when the others are gone:
the eviction check applied to it fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from podlife.chaos import nodes as chaos
from podlife.errors import HarnessError
from podlife.observe.nodes import NodeTimers, read_timers, taint_added
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import name_of, pod_spec
from podlife.verdicts.nodes import (
    assert_evicted_after_toleration,
    assert_marked_not_ready,
    assert_replaced_elsewhere,
    assert_tainted,
)
from podlife.waiting import wait_for
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig
from podlife.workloads.placement import UNREACHABLE_TAINT, merged, only_node, prefer_node, tolerate_node_loss

#: The quick profile's toleration of a lost node: long enough to tell "after the toleration"
#: from "at once" against one-second timestamps, short enough to keep the scenario near the
#: grace period it must wait anyway.
TOLERATION = 10
#: The patient pod's toleration: far beyond the scenario's length.
PATIENT = 3600
REPLICAS = 2


@dataclass(frozen=True)
class Loss:
    """What the scenario saw of the lost node and its pods."""

    hit: chaos.NodeHit
    timers: NodeTimers
    taint_added: float
    deletion_seen: dict[str, float]
    replacements: dict[str, str | None]
    patient: tuple[str, ...]
    toleration: int


def lose_the_node(scene: Scene, jig: MakeJig, evidence: Evidence, toleration: int | None) -> Loss:
    """Power off the node of the app's replicas; ``toleration`` None leaves them the cluster's default."""
    timers = read_timers(scene.api, scene.cluster)
    node = chaos.disruptable_nodes(scene)[0]
    placement = prefer_node(node) if toleration is None else merged(prefer_node(node), tolerate_node_loss(toleration))
    short = jig(Netexec("short", replicas=REPLICAS, scheduling=placement))
    toleration = int(timers.unreachable_toleration) if toleration is None else toleration
    patient = jig(Netexec("patient", scheduling=merged(only_node(node), tolerate_node_loss(PATIENT))))
    short.deploy()
    patient.deploy()
    doomed = chaos.pods_on(scene, node, short.app.selector)
    if len(doomed) < REPLICAS:
        raise HarnessError(f"the app's replicas did not all start on {node}, the node to lose")
    evidence.waits_on(node_monitor_grace=timers.monitor_grace, toleration=toleration)
    with scene.watch() as timeline, chaos.node_lost(scene, node, "power-off") as hit:
        lost = chaos.confirm_lost(scene, hit, timers)
        tainted = wait_for(lambda: taint_added(scene.api, node, UNREACHABLE_TAINT), 30, f"{node} to be tainted unreachable")
        wait_for(lambda: set(doomed) <= set(timeline.deletion_started()), toleration + 60, "the replicas to be evicted")

        def replaced() -> dict[str, str | None] | None:
            new = {name_of(p): pod_spec(p).node_name for p in short.pods() if name_of(p) not in doomed}
            return new if len(new) >= REPLICAS else None

        replacements = wait_for(replaced, 120, "the replacements to be ready")
        patient_pods = chaos.pods_on(scene, node, patient.app.selector)
    evidence.attach("timeline", timeline.render())
    evidence.measure("lost_node", node)
    evidence.measure("timers", timers.source)
    return Loss(lost, timers, tainted, timeline.deletion_started(), replacements, patient_pods, toleration)


def judge(loss: Loss, evidence: Evidence) -> None:
    assert loss.hit.last_heartbeat is not None and loss.hit.not_ready_at is not None
    evidence.measure("not_ready_after_s", round(assert_marked_not_ready(loss.hit.last_heartbeat, loss.hit.not_ready_at,
                                                                        loss.timers), 1))
    evidence.measure("tainted_after_s", round(assert_tainted(loss.taint_added, loss.hit.not_ready_at, UNREACHABLE_TAINT), 1))
    short = tuple(p for p in loss.hit.pods if p.startswith("short-"))
    delays = assert_evicted_after_toleration(loss.deletion_seen, short, loss.taint_added, loss.toleration)
    evidence.measure("evicted_after_taint_s", {pod: round(d, 1) for pod, d in delays.items()})
    assert_replaced_elsewhere(loss.replacements, loss.hit.node, REPLICAS)


@pytest.mark.claim("ND-02")
@pytest.mark.nodes
def test_lost_node_pods_are_evicted_after_their_toleration(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    judge(lose_the_node(scene, jig, evidence, TOLERATION), evidence)


@pytest.mark.claim("ND-02")
@pytest.mark.nodes
@pytest.mark.slow(seconds=420)
def test_lost_node_pods_are_evicted_after_the_default_toleration(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    """The same story with the toleration the API server gives every pod (300 s unless the cluster says otherwise)."""
    judge(lose_the_node(scene, jig, evidence, None), evidence)


@pytest.mark.claim("ND-02")
@pytest.mark.control
@pytest.mark.nodes
def test_control_a_pod_tolerating_longer_stays_bound(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    loss = lose_the_node(scene, jig, evidence, TOLERATION)
    assert loss.patient, "the patient pod was not on the lost node"
    with pytest.raises(AssertionError, match="still bound to the lost node"):
        assert_evicted_after_toleration(loss.deletion_seen, loss.patient, loss.taint_added, TOLERATION)
