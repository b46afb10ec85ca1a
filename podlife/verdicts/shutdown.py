"""Verdicts over one pod's shutdown: deletion marking, hook/signal order, the grace period.

Tolerance for kill timing, derived: the kubelet starts the grace period when its pod watch
delivers the deletion (well under a second after the harness's delete call on a healthy
cluster) and kills at its end; ``finishedAt`` is truncated to whole seconds. So the
finishedAt of a SIGKILLed container lies within [delete + grace - 1 s, delete + grace + 2 s]
(one second of truncation below, one of resolution plus up to one of kubelet reaction above).
"""

from __future__ import annotations

from podlife.observe.clock import K8S_TIMESTAMP_RESOLUTION
from podlife.observe.shutdown import Shutdown

KILL_EARLY_TOLERANCE = K8S_TIMESTAMP_RESOLUTION
KILL_LATE_TOLERANCE = K8S_TIMESTAMP_RESOLUTION + 1.0
SIGKILL_EXIT = 137


def assert_marked_before_removed(s: Shutdown) -> None:
    """SD-01: the pod first shows a deletionTimestamp while it exists, and goes only after its containers stopped."""
    entries = list(s.timeline.of("Pod", s.pod))
    marked = next((e for e in entries if e.pod.deleting is not None and e.change != "DELETED"), None)
    removed = s.timeline.removed(s.pod)
    assert marked is not None, (f"the pod object {s.pod} vanished without a terminating phase: the API server removed it "
                                "at once instead of setting its deletionTimestamp and waiting for the kubelet")
    assert removed is not None, f"pod {s.pod} was not removed: the kubelet never confirmed its containers stopped"
    stopped = [e for e in entries if e.seen <= removed.seen and e.pod.terminated(s.container)]
    assert stopped, (f"pod {s.pod} was removed before {s.container} was reported terminated: the object went while the "
                     "container may still have run (the kubelet removes it only once its containers stopped)")


def assert_pre_stop_completed_before_sigterm(s: Shutdown) -> None:
    """LC-12, SD-02: preStop ran to completion, then the main process got SIGTERM."""
    events = [e for e, _ in s.records()]
    for needed in ("prestop-start", "prestop-end", "sigterm"):
        assert needed in events, f"no '{needed}' record in {s.container}'s file: records were {events}"
    assert events.index("sigterm") > events.index("prestop-start"), (
        f"SIGTERM reached {s.container} before its preStop hook started (records {events}): the kubelet signalled first")
    assert events.index("sigterm") > events.index("prestop-end"), (
        f"SIGTERM reached {s.container} while its preStop hook still ran (records {events}): the kubelet did not wait "
        "for the hook to end")


#: The kubelet never kills sooner than this after a graceful delete (``minimumGracePeriodInSeconds``).
KUBELET_MINIMUM_GRACE = 2.0


def kill_window(grace: float) -> tuple[float, float]:
    """Where the finish of a container SIGKILLed at ``grace`` seconds after the delete can be seen."""
    return grace - KILL_EARLY_TOLERANCE, grace + KILL_LATE_TOLERANCE


def assert_killed_at_grace(s: Shutdown, grace: float, other_periods: dict[str, float] | None = None) -> float:
    """SD-03: a SIGTERM-ignoring process is SIGKILLed (137) when the grace period, preStop included, runs out.

    ``other_periods`` names the grace periods a wrong behaviour would kill at (the pod spec's when
    a delete override is expected, the kubelet's minimum); a kill that matches one is named so.
    Returns the measured delay from the delete call to the container's finish.
    """
    code, delay = s.final_state().exit_code, s.stopped_after()
    assert code == SIGKILL_EXIT, f"{s.container} exited with {code}, not {SIGKILL_EXIT} (SIGKILL)"
    low, high = kill_window(grace)
    if not low <= delay <= high:
        candidates = {"the kubelet's minimum grace period": KUBELET_MINIMUM_GRACE, **(other_periods or {})}
        matches = [f"{name} ({period:g}s)" for name, period in candidates.items()
                   if kill_window(period)[0] <= delay <= kill_window(period)[1]]
        cause = f": that is {' or '.join(matches)}, not the grace period expected" if matches else ""
        raise AssertionError(
            f"{s.container} was killed {delay:.1f}s after the delete; the grace period is {grace}s "
            f"(allowed {low:.0f}..{high:.0f}s){cause}"
        )
    return delay
