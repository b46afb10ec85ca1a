"""Verdicts over what a controller does with a pod whose container keeps failing (LC-06)."""

from __future__ import annotations

from podlife.observe.snapshots import Waiting
from podlife.observe.timeline import Timeline


def crash_looping(timeline: Timeline, container: str, pod: str | None = None) -> bool:
    """``pod`` (or some pod) was seen Running while ``container`` waited in CrashLoopBackOff."""
    return timeline.first("Pod", lambda e: (pod is None or e.name == pod) and e.pod.phase == "Running"
                          and e.pod.state(container) == Waiting("CrashLoopBackOff")) is not None


def assert_kept_as_replica(timeline: Timeline, container: str, pod: str | None = None) -> None:
    """LC-06: the crash-looping pod stays, never deleted or replaced, reading Running while its container waits.

    Without ``pod`` the timeline must hold one pod only (a one-replica controller); with it, the
    other replicas of a larger one are left out.
    """
    pods = sorted({e.name for e in timeline.of("Pod")})
    if pod is None:
        assert len(pods) == 1, f"the controller made more than one pod for one replica: {pods}"
        pod = pods[0]
    phases = sorted({e.pod.phase for e in timeline.of("Pod", pod)}, key=str)
    assert crash_looping(timeline, container, pod), (
        f"{pod} was never seen Running with {container} waiting in CrashLoopBackOff (phases seen: {phases})"
    )
    deleted = [e for e in timeline.of("Pod", pod) if e.pod.deleting is not None or e.change == "DELETED"]
    assert not deleted, f"{pod} was deleted while crash-looping"
