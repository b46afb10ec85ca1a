"""Verdicts over lifecycle hooks: when the container was reported running, where hook output went."""

from __future__ import annotations

from podlife.observe.timeline import Timeline


def first_seen_running(timeline: Timeline, pod: str, container: str) -> float | None:
    entry = timeline.first("Pod", lambda e: e.name == pod and e.facts["containers"].get(container) == "running")
    return entry.seen if entry else None


def assert_waiting_until_post_start_done(timeline: Timeline, pod: str, container: str, records: list[tuple[str, float]]) -> None:
    """LC-09: the container is not reported running before its postStart hook completed.

    Both stamps are on the node's clock, which on the local cluster is the harness's; the
    harness sees a status change after the kubelet wrote it, never before, so no tolerance
    is needed in this direction.
    """
    ends = [t for event, t in records if event == "poststart-end"]
    assert ends, f"no poststart-end record: the hook never completed (records: {[e for e, _ in records]})"
    running = first_seen_running(timeline, pod, container)
    assert running is not None, f"{container} was never seen running"
    assert running >= ends[0], f"{container} was reported running {ends[0] - running:.2f}s before its postStart hook completed"


def assert_absent_from_logs(log: str, text: str) -> None:
    """LC-11: hook output does not reach the container's log."""
    assert text not in log, f"{text!r} is in the container log"
