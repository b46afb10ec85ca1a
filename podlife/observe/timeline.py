"""A recorder of what happened to a namespace's Pods, Events and EndpointSlices, on one clock.

It watches from before the disruption to after it. Each watch notification becomes an
``Entry`` stamped with the harness clock when it arrived, carrying a typed snapshot of the
object (``observe.snapshots``) with its own server timestamps, so a verdict can order "request
failed" against "pod got its deletionTimestamp" or "endpoint turned not-ready".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

import urllib3
from kubernetes import client, watch
from tenacity import retry, stop_after_delay, wait_exponential

from podlife.errors import HarnessError
from podlife.observe.clock import now
from podlife.observe.snapshots import (
    EventSnapshot,
    Kind,
    PodSnapshot,
    SliceSnapshot,
    Snapshot,
    Termination,
    event_snapshot,
    pod_snapshot,
    slice_snapshot,
)

S = TypeVar("S", bound=Snapshot)


@dataclass(frozen=True)
class Entry:
    """One watch notification: when the harness saw it, the object's name, the change, and what it said of the object."""

    seen: float
    name: str
    #: ``ADDED``, ``MODIFIED``, ``DELETED``, or ``EXISTING`` for what a list found when the watch (re)started.
    change: str
    snapshot: Snapshot

    @property
    def kind(self) -> Kind:
        return self.snapshot.kind

    @property
    def pod(self) -> PodSnapshot:
        """The snapshot of a Pod entry; a ``TypeError`` for another kind (a query that forgot to filter)."""
        return self._as(PodSnapshot)

    @property
    def slice(self) -> SliceSnapshot:
        return self._as(SliceSnapshot)

    @property
    def event(self) -> EventSnapshot:
        return self._as(EventSnapshot)

    def _as(self, wanted: type[S]) -> S:
        if not isinstance(self.snapshot, wanted):
            raise TypeError(f"the timeline's entry for {self.kind} {self.name} is read as an entry for a {wanted.kind}")
        return self.snapshot

    def line(self, origin: float) -> str:
        return f"{self.seen - origin:+8.3f}s {self.kind:<13} {self.change:<8} {self.name}: {self.snapshot.describe(origin)}"


@dataclass
class Timeline:
    """Entries in arrival order; query helpers name what scenarios ask."""

    origin: float = field(default_factory=now)
    entries: list[Entry] = field(default_factory=list)
    #: Spans in which a watch was broken: (kind, broken at, resumed at or None, why).
    gaps: list[tuple[Kind, float, float | None, str]] = field(default_factory=list)

    def check_complete(self) -> None:
        """Raise ``HarnessError`` if a watch broke and never came back: what happened then is unknown."""
        open_gaps = [f"{kind} since {broken - self.origin:+.1f}s ({why})" for kind, broken, resumed, why in self.gaps if resumed is None]
        if open_gaps:
            raise HarnessError(f"the timeline's watch broke and was not re-established: {'; '.join(open_gaps)}")

    def of(self, kind: Kind, name: str | None = None) -> Iterator[Entry]:
        return (e for e in self.entries if e.kind == kind and (name is None or e.name == name))

    def first(self, kind: Kind, predicate: Callable[[Entry], bool]) -> Entry | None:
        return next((e for e in self.entries if e.kind == kind and predicate(e)), None)

    def first_running(self, container: str, pod: str | None = None) -> Entry | None:
        """The first entry showing ``container`` running (in ``pod``, or in any pod)."""
        return self.first("Pod", lambda e: (pod is None or e.name == pod) and e.pod.running(container))

    def deleting(self, pod: str) -> Entry | None:
        """The first entry showing ``pod`` with a deletionTimestamp: the harness saw its deletion start."""
        return next((e for e in self.of("Pod", pod) if e.pod.deleting is not None), None)

    def deletion_started(self) -> dict[str, float]:
        """When the harness first saw each pod carry a deletionTimestamp (its deletion started)."""
        seen: dict[str, float] = {}
        for entry in self.of("Pod"):
            if entry.pod.deleting is not None:
                seen.setdefault(entry.name, entry.seen)
        return seen

    def stopping(self, pod: str) -> Entry | None:
        """The kubelet's ``Killing`` event for ``pod``: it started stopping a container (the preStop hook, then SIGTERM).

        A container without a hook gets SIGTERM at this moment, so requests the pod got after it
        are requests such an app would have lost. Events listed when the watch started
        (``EXISTING``) happened before the window: not its landmarks.
        """
        return next((e for e in self.events("Killing", pod) if e.change != "EXISTING"), None)

    def address_holders(self) -> dict[str, list[tuple[float, str]]]:
        """Per pod address, the pods that held it and from when, in order: an address passes from a deleted pod to a new one."""
        holders: dict[str, list[tuple[float, str]]] = {}
        for entry in self.of("Pod"):
            if entry.pod.ip:
                held = holders.setdefault(entry.pod.ip, [])
                if not held or held[-1][1] != entry.name:
                    held.append((entry.seen, entry.name))
        return holders

    def pod_at(self, address: str, at: float, holders: dict[str, list[tuple[float, str]]] | None = None) -> str | None:
        """The pod that held ``address`` at ``at``: the last to take it before then (else the first ever); None if no pod did.

        ``holders`` is ``address_holders()`` computed once, for a caller that asks many times.
        """
        held = (holders if holders is not None else self.address_holders()).get(address)
        if not held:
            return None
        return next((name for since, name in reversed(held) if since <= at), held[0][1])

    def removed(self, pod: str) -> Entry | None:
        """The watch's DELETED event for ``pod``: a GET answering 404 can come before it arrives."""
        return next((e for e in self.of("Pod", pod) if e.change == "DELETED"), None)

    def most_restarts(self, pod: str | None, container: str) -> int:
        """The highest restart count seen for ``container`` (of ``pod``, or of any pod)."""
        return max((e.pod.restarts(container) for e in self.of("Pod", pod)), default=0)

    def terminations(self, pod: str) -> dict[str, Termination]:
        """Each container's last reported terminated state before ``pod`` went (a later run does not erase it)."""
        last: dict[str, Termination] = {}
        for entry in self.of("Pod", pod):
            last.update((name, c.terminated) for name, c in entry.pod.containers.items() if c.terminated)
        return last

    def events(self, reason: str, pod: str | None = None) -> list[Entry]:
        """The events of ``reason`` (about ``pod`` only, when named)."""
        return [e for e in self.of("Event") if e.event.reason == reason and (pod is None or e.event.object == f"Pod/{pod}")]

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
            threading.Thread(target=self._follow, args=(kind, lister, namespace, snapshot), daemon=True)
            for kind, lister, snapshot in (
                ("Pod", core.list_namespaced_pod, pod_snapshot),
                ("Event", core.list_namespaced_event, event_snapshot),
                ("EndpointSlice", discovery.list_namespaced_endpoint_slice, slice_snapshot),
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

    def _follow(self, kind: Kind, lister: Callable[..., Any], namespace: str, snapshot: Callable[[Any], Snapshot]) -> None:
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
                self._record(item, "EXISTING", snapshot)
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
                    self._record(event["object"], event["type"], snapshot)
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

    def _open_gap(self, kind: Kind, why: str) -> None:
        with self._lock:
            self.timeline.gaps.append((kind, now(), None, why))

    def _close_gap(self, kind: Kind) -> None:
        with self._lock:
            for i, (gap_kind, broken, resumed, why) in enumerate(self.timeline.gaps):
                if gap_kind == kind and resumed is None:
                    self.timeline.gaps[i] = (gap_kind, broken, now(), why)

    def _record(self, obj: Any, change: str, snapshot: Callable[[Any], Snapshot]) -> None:
        entry = Entry(now(), obj.metadata.name, change, snapshot(obj))
        with self._lock:
            self.timeline.entries.append(entry)
