"""Verdicts over what a controller does with a pod whose container keeps failing (LC-06)."""

from __future__ import annotations

from podlife.observe.timeline import Timeline


def crash_looping(timeline: Timeline, container: str) -> bool:
    """Some pod was seen Running while ``container`` waited in CrashLoopBackOff."""
    return timeline.first("Pod", lambda e: e.facts["phase"] == "Running"
                          and e.facts["containers"].get(container) == "waiting:CrashLoopBackOff") is not None


def assert_kept_as_replica(timeline: Timeline, container: str) -> None:
    """LC-06: one pod throughout, never deleted or replaced, reading Running while its container waits in back-off."""
    pods = sorted({e.name for e in timeline.of("Pod")})
    assert len(pods) == 1, f"the controller made more than one pod for one replica: {pods}"
    phases = sorted({e.facts["phase"] for e in timeline.of("Pod")})
    assert crash_looping(timeline, container), (
        f"{pods[0]} was never seen Running with {container} waiting in CrashLoopBackOff (phases seen: {phases})"
    )
    deleted = [e for e in timeline.of("Pod") if e.facts["deleting"] is not None or e.change == "DELETED"]
    assert not deleted, f"{pods[0]} was deleted while crash-looping"
