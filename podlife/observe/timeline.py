"""A recorder of what happened to a namespace's Pods, Events and EndpointSlices, on one clock.

It watches from before the disruption to after it. Each watch notification becomes an
``Entry`` stamped with the harness clock when it arrived, next to the object's own server
timestamps, so a verdict can order "request failed" against "pod got its deletionTimestamp"
or "endpoint turned not-ready".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import urllib3
from kubernetes import client, watch
from tenacity import retry, stop_after_delay, wait_exponential

from podlife.errors import HarnessError
from podlife.observe.clock import epoch, now
from podlife.served import meta, pod_status


@dataclass(frozen=True)
class Entry:
    seen: float
    kind: str
    name: str
    change: str
    facts: dict[str, Any]

    def line(self, origin: float) -> str:
        return f"{self.seen - origin:+8.3f}s {self.kind:<13} {self.change:<8} {self.name}: {self.facts}"


def _terminated(state: client.V1ContainerStateTerminated) -> dict[str, Any]:
    return {
        "exit_code": state.exit_code,
        "reason": state.reason,
        "started": epoch(state.started_at),
        "finished": epoch(state.finished_at),
        "message": state.message,
    }


def pod_facts(pod: client.V1Pod) -> dict[str, Any]:
    """The pod's phase, readiness and, per container, its state, restart count and terminations.

    ``terminated`` is each container's current terminated state; ``last`` its previous one
    (``lastState``), which with ``started`` of the current run gives a restart's delay.
    """
    status = pod_status(pod)
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or []))
    containers, terminated, last, restarts, started = {}, {}, {}, {}, {}
    for cs in (status.init_container_statuses or []) + (status.container_statuses or []):
        state = cs.state
        restarts[cs.name] = cs.restart_count
        if state is None:  # listed before the kubelet reported a state: no state to record yet
            pass
        elif state.waiting:
            containers[cs.name] = f"waiting:{state.waiting.reason}"
        elif state.running:
            containers[cs.name] = "running"
            started[cs.name] = epoch(state.running.started_at)
        elif state.terminated:
            containers[cs.name] = f"terminated:{state.terminated.exit_code}"
            terminated[cs.name] = _terminated(state.terminated)
            started[cs.name] = terminated[cs.name]["started"]
        if cs.last_state and cs.last_state.terminated:
            last[cs.name] = _terminated(cs.last_state.terminated)
    return {
        "phase": status.phase,
        "ready": ready,
        "ip": status.pod_ip,
        "uid": meta(pod).uid,
        "deleting": epoch(meta(pod).deletion_timestamp),
        "containers": containers,
        "restarts": restarts,
        "started": started,
        "terminated": terminated,
        "last": last,
    }


def slice_facts(eps: client.V1EndpointSlice) -> dict[str, Any]:
    """Per pod: whether the endpoint is ready (gets new traffic) and whether it is terminating."""
    pods = {}
    for ep in eps.endpoints or []:
        pod = ep.target_ref.name if ep.target_ref else ",".join(ep.addresses)
        cond = ep.conditions
        pods[pod] = {"ready": bool(cond and cond.ready), "terminating": bool(cond and cond.terminating)}
    return {"service": (meta(eps).labels or {}).get("kubernetes.io/service-name"), "endpoints": pods}


def event_facts(ev: client.CoreV1Event) -> dict[str, Any]:
    return {
        "reason": ev.reason,
        "object": f"{ev.involved_object.kind}/{ev.involved_object.name}",
        "message": (ev.message or "")[:200],
        "count": ev.count,
    }


@dataclass
class Timeline:
    """Entries in arrival order; query helpers name what scenarios ask."""

    origin: float = field(default_factory=now)
    entries: list[Entry] = field(default_factory=list)
    #: Spans in which a watch was broken: (kind, broken at, resumed at or None, why).
    gaps: list[tuple[str, float, float | None, str]] = field(default_factory=list)

    def check_complete(self) -> None:
        """Raise ``HarnessError`` if a watch broke and never came back: what happened then is unknown."""
        open_gaps = [f"{kind} since {broken - self.origin:+.1f}s ({why})" for kind, broken, resumed, why in self.gaps if resumed is None]
        if open_gaps:
            raise HarnessError(f"the timeline's watch broke and was not re-established: {'; '.join(open_gaps)}")

    def of(self, kind: str, name: str | None = None) -> Iterator[Entry]:
        return (e for e in self.entries if e.kind == kind and (name is None or e.name == name))

    def first(self, kind: str, predicate: Callable[[Entry], bool]) -> Entry | None:
        return next((e for e in self.entries if e.kind == kind and predicate(e)), None)

    def deletion_started(self) -> dict[str, float]:
        """When the harness first saw each pod carry a deletionTimestamp (its deletion started)."""
        seen: dict[str, float] = {}
        for entry in self.of("Pod"):
            if entry.facts["deleting"] is not None:
                seen.setdefault(entry.name, entry.seen)
        return seen

    def removed(self, pod: str) -> Entry | None:
        """The watch's DELETED event for ``pod``: a GET answering 404 can come before it arrives."""
        return next((e for e in self.of("Pod", pod) if e.change == "DELETED"), None)

    def most_restarts(self, pod: str | None, container: str) -> int:
        """The highest restart count seen for ``container`` (of ``pod``, or of any pod)."""
        return max((e.facts["restarts"].get(container, 0) for e in self.of("Pod", pod)), default=0)

    def events(self, reason: str) -> list[Entry]:
        return [e for e in self.of("Event") if e.facts["reason"] == reason]

    def render(self) -> str:
        lines = [e.line(self.origin) for e in self.entries]
        lines += [
            f"gap in the {kind} watch: {broken - self.origin:+.3f}s .. "
            f"{f'{resumed - self.origin:+.3f}s' if resumed is not None else 'never resumed'} ({why})"
            for kind, broken, resumed, why in self.gaps
        ]
        return "\n".join(lines)


class TimelineRecorder:
    """Watches Pods, Events and EndpointSlices of one namespace in background threads."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
        self.timeline = Timeline()
        self._lock = threading.Lock()
        self._watches: list[watch.Watch] = []
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._follow, args=(kind, lister, namespace, facts), daemon=True)
            for kind, lister, facts in (
                ("Pod", core.list_namespaced_pod, pod_facts),
                ("Event", core.list_namespaced_event, event_facts),
                ("EndpointSlice", discovery.list_namespaced_endpoint_slice, slice_facts),
            )
        ]
        self._started = threading.Barrier(len(self._threads) + 1)

    def __enter__(self) -> Timeline:
        for thread in self._threads:
            thread.start()
        self._started.wait(timeout=30)
        return self.timeline

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Stop watching; a block that ended normally with a watch still broken is inconclusive."""
        self._stopping.set()
        for w in self._watches:
            w.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        if exc_type is None:
            self.timeline.check_complete()

    def _follow(self, kind: str, lister: Callable[..., Any], namespace: str, facts: Callable[[Any], dict[str, Any]]) -> None:
        """List, then watch from the list's version; a broken watch is listed and watched again.

        An expired version (410) is routine. Any other failure opens a gap in the timeline,
        closed when a new list succeeds (its items are recorded as ``EXISTING``, so the state
        after the gap is known); verdicts over a timeline with a gap still open are inconclusive.
        """
        signalled = False
        while not self._stopping.is_set():
            w = watch.Watch()
            self._watches.append(w)
            try:
                listing = self._list(lister, namespace)
            except Exception:
                return  # the gap stays open: the recorder stopped, or the API never came back
            self._close_gap(kind)
            version = listing.metadata.resource_version
            for item in listing.items:
                self._record(kind, item, "EXISTING", facts)
            if not signalled:
                self._started.wait(timeout=30)
                signalled = True
            try:
                for event in w.stream(lister, namespace, resource_version=version, timeout_seconds=60):
                    if self._stopping.is_set():
                        break
                    if event is None:  # a line that was not JSON: an event may be lost, so list again
                        self._open_gap(kind, "watch sent a line that was not an event")
                        break
                    self._record(kind, event["object"], event["type"], facts)
            except client.ApiException as err:
                if err.status != 410:  # an expired resourceVersion just means: list again
                    self._open_gap(kind, f"watch answered {err.status} {err.reason}")
            except (urllib3.exceptions.HTTPError, OSError) as err:
                if self._stopping.is_set():  # stopping a watch cuts its response short
                    return
                self._open_gap(kind, f"watch connection failed: {type(err).__name__}")

    @retry(wait=wait_exponential(multiplier=0.2, max=5), stop=stop_after_delay(60), reraise=True)
    def _list(self, lister: Callable[..., Any], namespace: str) -> Any:
        if self._stopping.is_set():
            raise InterruptedError("the recorder is stopping")
        return lister(namespace)

    def _open_gap(self, kind: str, why: str) -> None:
        with self._lock:
            self.timeline.gaps.append((kind, now(), None, why))

    def _close_gap(self, kind: str) -> None:
        with self._lock:
            for i, (gap_kind, broken, resumed, why) in enumerate(self.timeline.gaps):
                if gap_kind == kind and resumed is None:
                    self.timeline.gaps[i] = (gap_kind, broken, now(), why)

    def _record(self, kind: str, obj: Any, change: str, facts: Callable[[Any], dict[str, Any]]) -> None:
        entry = Entry(now(), kind, obj.metadata.name, change, facts(obj))
        with self._lock:
            self.timeline.entries.append(entry)
