"""RQ-02 judged on the EndpointSlice itself: a pod's endpoint turns not ready as its deletion starts.

Removal from the Service and SIGTERM run in parallel: the API server's deletionTimestamp goes to
the kubelet (preStop hook, SIGTERM) and to the EndpointSlice controller, which marks the pod's
endpoint not ready and terminating at once, whatever its containers are doing; kube-proxy then
drops it. A cluster whose controller waits for the container (or a Service whose
``publishNotReadyAddresses`` keeps terminating endpoints ready) still routes new requests to a
pod that is shutting down; the requests lost then are RQ-03's symptom, and this is the step.

How soon is soon enough is the pod's own: its preStop delay. SIGTERM comes no sooner than that
after the deletion, so an endpoint seen not ready within it left while the app still served,
beside the hook, as the claim says; one still ready then got new requests after SIGTERM (or
waited for the container). A fixed bound would not do: the controller took 0.004 to 0.04 s for a
lone deletion here, but in a rollout under two test workers it found its informer cache behind
its own last write and retried the Service after its back-off (1 s, then 2 s: upstream's
``defaultSyncBackOff``), 2.19 s once.
"""

from __future__ import annotations

from dataclasses import dataclass

from podlife.observe.timeline import Entry, Timeline


@dataclass(frozen=True)
class EndpointExit:
    """How a deleted pod's endpoint left the ready set: the slice entry that showed it, and whether the container still ran."""

    pod: str
    since: float
    #: The first slice entry after ``since`` showing the endpoint not ready, or None.
    not_ready: Entry | None
    #: The first slice entry after ``since`` no longer listing it (in a slice that did), when that came first; else None.
    vanished: Entry | None
    #: Whether the container still ran when the endpoint left (False also when it never left).
    container_running: bool

    @property
    def left(self) -> Entry | None:
        return self.not_ready or self.vanished

    @property
    def lag(self) -> float | None:
        return None if self.left is None else self.left.seen - self.since


def endpoint_exit(timeline: Timeline, pod: str, container: str) -> EndpointExit:
    """How ``pod``'s endpoint left the ready set after its deletion started (see ``EndpointExit``)."""
    since = timeline.deletion_started()[pod]
    listed: set[str] = set()  # slices that have listed the pod
    not_ready = vanished = None
    for entry in timeline.of("EndpointSlice"):
        endpoint = entry.slice.endpoints.get(pod)
        if endpoint is not None:
            listed.add(entry.name)
        if entry.seen < since:
            continue
        if endpoint is not None and not endpoint.ready:
            not_ready = entry
            break
        if endpoint is None and entry.name in listed:
            vanished = entry
            break
    left = not_ready or vanished
    running = False
    if left is not None:
        last = [e for e in timeline.of("Pod", pod) if e.seen <= left.seen]
        running = bool(last) and last[-1].pod.running(container)
    return EndpointExit(pod, since, not_ready, vanished, running)


def _broken(ex: EndpointExit, timeline: Timeline, container: str, pre_stop: float) -> str | None:
    """The step of RQ-02 that broke for one pod, in words; None when its endpoint left in time."""
    if ex.left is not None and ex.container_running and (ex.lag or 0.0) < pre_stop:
        return None
    if ex.not_ready is None:
        if ex.vanished is not None:
            until = f"until it vanished from the slice {ex.lag:.2f}s later"
        elif (end := timeline.removed(ex.pod)) is not None:
            until = f"until the pod was gone {end.seen - ex.since:.2f}s later"
        else:
            until = "for as long as the harness watched"
        stopped = f", after {container} had stopped" if ex.vanished is not None and not ex.container_running else ""
        return (f"the endpoint of {ex.pod} stayed ready in the EndpointSlice after its deletion started, {until}{stopped}: "
                "the Service kept routing new requests to a pod that was shutting down (a Service with "
                "publishNotReadyAddresses: true keeps terminating endpoints ready)")
    if not ex.container_running:
        return (f"the endpoint of {ex.pod} turned not ready only {ex.lag:.2f}s after its deletion started, once "
                f"{container} had stopped: removal waited for the app instead of running beside SIGTERM")
    return (f"the endpoint of {ex.pod} stayed ready for {ex.lag:.2f}s after its deletion started, past its {pre_stop:g}s "
            "preStop delay: it still got new requests after SIGTERM")


def assert_endpoints_left_on_deletion(timeline: Timeline, pods: tuple[str, ...] | list[str], container: str,
                                      pre_stop: float) -> dict[str, float]:
    """RQ-02: each deleted pod's endpoint turned not ready within its ``pre_stop`` delay of its deletion
    starting, while ``container`` still ran; returns the lag per pod. A failure names the pod and the step."""
    exits = [endpoint_exit(timeline, pod, container) for pod in pods]
    broken = [text for ex in exits if (text := _broken(ex, timeline, container, pre_stop))]
    assert not broken, "RQ-02: " + "; ".join(broken)
    return {ex.pod: round(ex.lag or 0.0, 3) for ex in exits}
