"""Verdicts over lifecycle hooks: when the container was reported running, where hook output went,
which hooks ran, and what the kubelet did when one failed."""

from __future__ import annotations

from dataclasses import dataclass

from podlife.kernel.defaults import HookAction, HookPhase
from podlife.observe.shutdown import Shutdown
from podlife.observe.timeline import Entry, Timeline
from podlife.workloads.witness import recorded_message


def assert_waiting_until_post_start_done(timeline: Timeline, pod: str, container: str, records: list[tuple[str, float]]) -> None:
    """LC-09: the container is not reported running before its postStart hook completed.

    Both stamps are on the node's clock, which on the local cluster is the harness's; the
    harness sees a status change after the kubelet wrote it, never before, so no tolerance
    is needed in this direction.
    """
    ends = [t for event, t in records if event == "poststart-end"]
    assert ends, f"no poststart-end record: the hook never completed (records: {[e for e, _ in records]})"
    running = timeline.first_running(container, pod)
    assert running is not None, f"{container} was never seen running"
    assert running.seen >= ends[0], (
        f"{container} was reported running {ends[0] - running.seen:.2f}s before its postStart hook completed")


def assert_absent_from_logs(log: str, text: str) -> None:
    """LC-11: hook output does not reach the container's log."""
    assert text not in log, f"{text!r} is in the container log"


@dataclass(frozen=True)
class HookTrail:
    """Where hook runs left their traces: each container's record file, and the recorder's log for httpGet hooks."""

    records: dict[str, list[tuple[str, float]]]
    recorder_log: str = ""

    def ran(self, container: str, phase: HookPhase, action: HookAction) -> bool:
        if action == "exec":
            return f"{phase}-end" in [event for event, _ in self.records.get(container, [])]
        return f"msg={recorded_message(container, phase)}&" in self.recorder_log


def assert_hook_ran(trail: HookTrail, container: str, phase: HookPhase, action: HookAction) -> None:
    """LC-14, LC-15: ``container``'s own ``phase`` hook ran to completion (exec) or reached its URL (httpGet)."""
    where = "its record file" if action == "exec" else "the recorder's log"
    assert trail.ran(container, phase, action), (
        f"{container}'s {phase} {action} hook left no trace in {where}: records {[e for e, _ in trail.records.get(container, [])]}"
    )


def assert_event(timeline: Timeline, reason: str, pod: str) -> Entry:
    """The kubelet recorded a ``reason`` event for ``pod``."""
    found = timeline.events(reason, pod)
    seen = sorted({e.event.reason for e in timeline.of("Event")}, key=str)
    assert found, f"no {reason} event for pod {pod}; events seen: {seen}"
    return found[0]


def assert_killed_by_failed_post_start(timeline: Timeline, pod: str, container: str) -> None:
    """LC-10: a failing postStart hook gets the container killed (and restarted) and a FailedPostStartHook event."""
    assert_event(timeline, "FailedPostStartHook", pod)
    restarts = timeline.most_restarts(pod, container)
    assert restarts >= 1, f"{container} was never restarted after its postStart hook failed"


def assert_terminated_despite_failed_pre_stop(shutdown: Shutdown) -> None:
    """LC-13: the preStop hook failed (FailedPreStopHook) and the container was terminated anyway."""
    assert_event(shutdown.timeline, "FailedPreStopHook", shutdown.pod)
    shutdown.final_state()  # raises if the container never terminated
    assert shutdown.timeline.removed(shutdown.pod), f"{shutdown.pod} was not removed"
