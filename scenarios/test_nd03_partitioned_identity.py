"""ND-03: a StatefulSet member on a partitioned node: force-deleting it runs two pods of one identity.

Story: member ``db-0`` appends a heartbeat stamped with its pod UID to its claim every 0.1 s
(SD-05's member; the claim's directory is on storage every node sees, as network storage
would be). Its node is cut off from the control plane. The node is marked not Ready, the
member's toleration runs out and it is evicted, but its kubelet never hears of it: the pod
object stays, terminating, and the StatefulSet controller does not replace it (the check of
the first half, on the timeline). Then someone reaches for ``kubectl delete --force``: the
object goes, the controller starts ``db-0`` on another node at once, and the old process,
still running on the partitioned node, keeps writing: both UIDs beat in the same window.

The safe path: the node is really stopped (powered off), then tainted
``node.kubernetes.io/out-of-service``: the pod garbage collector deletes the terminating
member, the controller starts it elsewhere, and nothing of the old one beats any more.

Each side is the other's control: the overlap verdict must fail on the safe path, the
no-overlap verdict on the forced one; and the "not replaced" check must fail once the force
delete let the replacement in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from podlife.chaos import nodes as chaos
from podlife.errors import HarnessError
from podlife.observe.clock import now
from podlife.observe.nodes import read_timers
from podlife.observe.records import parse_records
from podlife.observe.timeline import Timeline
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.identity import assert_never_overlapped, assert_overlapped
from podlife.verdicts.nodes import assert_not_replaced
from podlife.waiting import wait_for
from podlife.workloads.members import RECORDS, Members
from podlife.workloads.placement import merged, prefer_node, tolerate_node_loss

BEAT = 0.1
HEARTBEAT = ["trap '' TERM", f"while true; do record beat-$POD_UID; sleep {BEAT}; done"]
POD = "db-0"
#: The member's toleration of a lost node (the quick profile's; the default is 300 s).
TOLERATION = 10
#: How long the controller is watched not replacing the evicted member: ten of its resyncs
#: would not have waited this long for a pod it meant to replace (it acts within a second).
NOT_REPLACED_FOR = 15.0
#: How long both pods are let beat once the replacement runs: many beats on each side.
BOTH_BEAT_FOR = 3.0


@dataclass(frozen=True)
class Moved:
    """The member's heartbeats once it moved, its two UIDs, and the timeline."""

    beats: list[tuple[str, float]]
    old: str
    new: str
    timeline: Timeline
    evicted_at: float
    released_at: float


def move_the_member(scene: Scene, evidence: Evidence, safe: bool) -> Moved:
    timers = read_timers(scene.api, scene.cluster)
    node = chaos.disruptable_nodes(scene)[0]
    db = Members("db", HEARTBEAT, grace_period=5, scheduling=merged(prefer_node(node), tolerate_node_loss(TOLERATION)))
    scene.apply(db.service(), db.statefulset())
    old = scene.running_uid(POD)
    if scene.node_of(POD) != node:
        raise HarnessError(f"{POD} did not start on {node}, the node to cut off")
    # The grace period and the toleration are Kubernetes's; the watch and the beats are the story's own waits.
    evidence.waits_on(node_monitor_grace=timers.monitor_grace, toleration=TOLERATION, both_beat=BOTH_BEAT_FOR,
                      **({} if safe else {"not_replaced_watch": NOT_REPLACED_FOR}))
    with scene.watch() as timeline, chaos.node_lost(scene, node, "power-off" if safe else "partition") as hit:
        chaos.confirm_lost(scene, hit, timers)
        evicted = wait_for(lambda: timeline.deletion_started().get(POD), TOLERATION + 60, f"{POD} to be evicted")
        if safe:
            with chaos.out_of_service(scene, node) as released:
                new = scene.running_uid(POD, other_than=old, timeout=120)
        else:
            watched_until = evicted + NOT_REPLACED_FOR
            wait_for(lambda: now() >= watched_until, NOT_REPLACED_FOR + 5, "the controller to show it does not replace the member")
            released = now()
            scene.delete_pod(POD, grace_period=0)
            new = scene.running_uid(POD, other_than=old, timeout=120)
        started = now()
        wait_for(lambda: now() - started >= BOTH_BEAT_FOR, BOTH_BEAT_FOR + 5, "both pods to beat a while")
        beats = parse_records(scene.exec(POD, ["cat", RECORDS]))
    evidence.attach("timeline", timeline.render())
    evidence.measure("node", node)
    evidence.measure("path", "out-of-service taint after power-off" if safe else "force delete on a partitioned node")
    return Moved(beats, old, new, timeline, evicted, released)


@pytest.mark.claim("ND-03")
@pytest.mark.nodes
def test_force_delete_on_a_partitioned_node_runs_two_of_one_identity(scene: Scene, evidence: Evidence) -> None:
    moved = move_the_member(scene, evidence, safe=False)
    assert_not_replaced(moved.timeline, POD, moved.old, moved.evicted_at, moved.released_at)
    evidence.measure("overlap_s", round(assert_overlapped(moved.beats, moved.old, moved.new), 2))
    with pytest.raises(AssertionError, match="two pods of one identity"):
        assert_never_overlapped(moved.beats, moved.old, moved.new)
    with pytest.raises(AssertionError, match="a second pod named"):
        assert_not_replaced(moved.timeline, POD, moved.old, moved.evicted_at, now())


@pytest.mark.claim("ND-03")
@pytest.mark.control
@pytest.mark.nodes
def test_out_of_service_after_a_real_stop_never_overlaps(scene: Scene, evidence: Evidence) -> None:
    moved = move_the_member(scene, evidence, safe=True)
    evidence.measure("gap_s", round(assert_never_overlapped(moved.beats, moved.old, moved.new), 2))
    with pytest.raises(AssertionError, match="never overlapped"):
        assert_overlapped(moved.beats, moved.old, moved.new)
