"""Timeline entries built by hand, as the watch would have delivered them: what a test leaves out is empty.

A pod has no phase, is not ready, has no address, UID or deletionTimestamp and lists no
container unless the test says so; an endpoint is never terminating; an event is about a pod.
"""

from __future__ import annotations

from podlife.observe.datapath import DataPath
from podlife.observe.snapshots import (
    ContainerSnapshot,
    ContainerState,
    EndpointState,
    EventSnapshot,
    PodSnapshot,
    SliceSnapshot,
    Termination,
)
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger
from podlife.observe.window import Window


def exited(code: int, finished: float, message: str = "", started: float | None = None) -> Termination:
    """A container's run that ended with ``code`` at ``finished``, its termination message ``message``."""
    return Termination(code, None, started, finished, message)


def container(state: ContainerState | None = None, restarts: int = 0, last: Termination | None = None) -> ContainerSnapshot:
    return ContainerSnapshot(state, restarts, last)


def pod_entry(seen: float, name: str, change: str = "MODIFIED", *, phase: str | None = None, ready: bool = False,
              ip: str | None = None, uid: str | None = None, deleting: float | None = None,
              containers: dict[str, ContainerSnapshot] | None = None) -> Entry:
    return Entry(seen, name, change, PodSnapshot(phase, ready, ip, uid, deleting, containers or {}))


def slice_entry(seen: float, ready: dict[str, bool], change: str = "MODIFIED", name: str = "web-x", service: str = "web") -> Entry:
    """Slice ``name`` of ``service`` listing each pod of ``ready``, ready or not."""
    endpoints = {pod: EndpointState(ready=r, terminating=False) for pod, r in ready.items()}
    return Entry(seen, name, change, SliceSnapshot(service, endpoints))


def event_entry(seen: float, reason: str, pod: str, change: str = "ADDED", message: str = "") -> Entry:
    return Entry(seen, f"{pod}.1", change, EventSnapshot(reason, f"Pod/{pod}", message, 1))


class Recorded:
    """A finished traffic run: the ledger a generator would have left behind."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __enter__(self) -> "Recorded":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def window_of(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float] | None = None,
              data_path: DataPath | None = None) -> Window:
    """The window a scenario would have observed: ``timeline`` and ``ledger``, the rules sampled or not."""
    return Window(timeline, Recorded(ledger), landmarks or {}, data_path=data_path)
