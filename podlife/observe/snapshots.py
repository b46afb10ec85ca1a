"""What one watch notification said of a Pod, an Event or an EndpointSlice, as typed values.

The timeline (``observe.timeline``) keeps one snapshot per notification. Only what verdicts and
pictures read is kept, and each field is as optional as the API server leaves it (a pod's IP
before it is scheduled, a container's state before the kubelet reports one): a reader that
needs a field the server did not fill raises ``HarnessError`` (``served.present``), never
guesses. Times are epoch seconds on the harness's clock (``observe.clock``), from the objects'
whole-second stamps.

``describe`` renders a snapshot for the "timeline" attachment a person reads, its times in
seconds from the timeline's origin, like the entries' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from kubernetes import client

from podlife.observe.clock import epoch
from podlife.served import meta, pod_status

#: The kinds of object the timeline watches.
Kind = Literal["Pod", "Event", "EndpointSlice"]


def _at(stamp: float | None, origin: float) -> str:
    return "?" if stamp is None else f"{stamp - origin:+.3f}s"


@dataclass(frozen=True)
class Waiting:
    """A container not running yet or again: ``reason`` says why (``CrashLoopBackOff``, ``PodInitializing``, ...)."""

    reason: str | None

    def describe(self, origin: float) -> str:
        return f"waiting ({self.reason})"


@dataclass(frozen=True)
class Running:
    """A container running since ``started``."""

    started: float | None

    def describe(self, origin: float) -> str:
        return f"running since {_at(self.started, origin)}"


@dataclass(frozen=True)
class Termination:
    """A container's run that ended: its exit code, the kubelet's reason, its span, and its termination message.

    The message is where podlife's witnesses leave their records (``observe.records``).
    """

    exit_code: int
    reason: str | None
    started: float | None
    finished: float | None
    message: str | None

    def describe(self, origin: float) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        message = f", message {self.message!r}" if self.message else ""
        return f"exit {self.exit_code}{reason}, ran {_at(self.started, origin)}..{_at(self.finished, origin)}{message}"


#: A container's current state, as its status reports it.
ContainerState = Waiting | Running | Termination


@dataclass(frozen=True)
class ContainerSnapshot:
    """One container of a pod (init containers too): its state, restart count and previous run (``lastState``).

    ``state`` is None while the container is listed before the kubelet reported a state for it.
    """

    state: ContainerState | None
    restarts: int
    last: Termination | None

    @property
    def started(self) -> float | None:
        """When the current run started: with ``last.finished``, it gives a restart's delay."""
        return self.state.started if isinstance(self.state, (Running, Termination)) else None

    @property
    def terminated(self) -> Termination | None:
        """The current run, if it has ended."""
        return self.state if isinstance(self.state, Termination) else None

    def describe(self, origin: float) -> str:
        state = "no state yet" if self.state is None else self.state.describe(origin)
        restarts = f", {self.restarts} restarts" if self.restarts else ""
        last = f", last run {self.last.describe(origin)}" if self.last else ""
        return f"{state}{restarts}{last}"


@dataclass(frozen=True)
class PodSnapshot:
    """A pod's phase, readiness, address, UID, deletionTimestamp and containers by name.

    ``deleting`` is the deletionTimestamp. It appears when the deletion starts but names when the
    grace period ends (the delete's time plus its grace): it tells that the deletion started, and
    the entry's ``seen`` tells when.
    """

    kind: ClassVar[Kind] = "Pod"

    phase: str | None
    ready: bool
    ip: str | None
    uid: str | None
    deleting: float | None
    containers: dict[str, ContainerSnapshot]

    def state(self, container: str) -> ContainerState | None:
        found = self.containers.get(container)
        return found.state if found else None

    def running(self, container: str) -> bool:
        return isinstance(self.state(container), Running)

    def terminated(self, container: str) -> Termination | None:
        """``container``'s current run, if it has ended."""
        found = self.containers.get(container)
        return found.terminated if found else None

    def restarts(self, container: str) -> int:
        """``container``'s restart count; 0 for a container the pod does not list (yet)."""
        found = self.containers.get(container)
        return found.restarts if found else 0

    def describe(self, origin: float) -> str:
        pod = [self.phase or "no phase", "ready" if self.ready else "not ready"]
        pod += [f"ip {self.ip}"] if self.ip else []
        pod += [f"uid {self.uid}"] if self.uid else []
        pod += [f"deletionTimestamp {_at(self.deleting, origin)}"] if self.deleting is not None else []
        containers = [f"{name}: {container.describe(origin)}" for name, container in self.containers.items()]
        return "; ".join([", ".join(pod), *containers])


@dataclass(frozen=True)
class EndpointState:
    """One pod's endpoint in a slice: ready gets new connections; terminating belongs to a pod being deleted."""

    ready: bool
    terminating: bool


@dataclass(frozen=True)
class SliceSnapshot:
    """The Service an EndpointSlice serves, and its endpoints by pod name (by address where no pod is named)."""

    kind: ClassVar[Kind] = "EndpointSlice"

    service: str | None
    endpoints: dict[str, EndpointState]

    def ready(self, pod: str) -> bool:
        """Whether ``pod`` is in the slice and ready: new connections go to it."""
        endpoint = self.endpoints.get(pod)
        return endpoint is not None and endpoint.ready

    def describe(self, origin: float) -> str:
        endpoints = [f"{pod} {'ready' if e.ready else 'not ready'}{', terminating' if e.terminating else ''}"
                     for pod, e in self.endpoints.items()]
        return f"service {self.service}: {'; '.join(endpoints) or 'no endpoints'}"


@dataclass(frozen=True)
class EventSnapshot:
    """An event's reason, the object it is about (``Pod/web-1``), its message (cut to 200 characters) and count."""

    kind: ClassVar[Kind] = "Event"

    reason: str | None
    object: str
    message: str
    count: int | None

    def describe(self, origin: float) -> str:
        return f"{self.reason} {self.object} x{self.count}" + (f": {self.message!r}" if self.message else "")


#: What one timeline entry says of its object.
Snapshot = PodSnapshot | SliceSnapshot | EventSnapshot


def _termination(state: client.V1ContainerStateTerminated) -> Termination:
    return Termination(state.exit_code, state.reason, epoch(state.started_at), epoch(state.finished_at), state.message)


def _state(state: client.V1ContainerState | None) -> ContainerState | None:
    if state is None:  # listed before the kubelet reported a state: no state to record yet
        return None
    if state.waiting:
        return Waiting(state.waiting.reason)
    if state.running:
        return Running(epoch(state.running.started_at))
    if state.terminated:
        return _termination(state.terminated)
    return None


def pod_snapshot(pod: client.V1Pod) -> PodSnapshot:
    """The pod as its status reports it; each container's previous run comes from its ``lastState``."""
    status = pod_status(pod)
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or []))
    containers = {
        cs.name: ContainerSnapshot(_state(cs.state), cs.restart_count,
                                   _termination(cs.last_state.terminated) if cs.last_state and cs.last_state.terminated else None)
        for cs in (status.init_container_statuses or []) + (status.container_statuses or [])
    }
    return PodSnapshot(status.phase, ready, status.pod_ip, meta(pod).uid, epoch(meta(pod).deletion_timestamp), containers)


def slice_snapshot(eps: client.V1EndpointSlice) -> SliceSnapshot:
    """Per pod: whether the endpoint is ready (gets new traffic) and whether it is terminating."""
    endpoints = {}
    for ep in eps.endpoints or []:
        pod = ep.target_ref.name if ep.target_ref and ep.target_ref.name else ",".join(ep.addresses)
        cond = ep.conditions
        endpoints[pod] = EndpointState(ready=bool(cond and cond.ready), terminating=bool(cond and cond.terminating))
    return SliceSnapshot((meta(eps).labels or {}).get("kubernetes.io/service-name"), endpoints)


def event_snapshot(ev: client.CoreV1Event) -> EventSnapshot:
    return EventSnapshot(ev.reason, f"{ev.involved_object.kind}/{ev.involved_object.name}", (ev.message or "")[:200], ev.count)
