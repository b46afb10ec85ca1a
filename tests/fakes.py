"""A fake scene, in the manner of a fake clientset: one Deployment's pods, a ReplicaSet's moves, traffic.

The disruption recipes of ``podlife.chaos.apps`` are driven through a real ``AppJig`` over this
scene, so they are unit-tested without a cluster. The fake is deliberately small: a Deployment
that surges one pod at a time in a rollout, scales down newest first (lowest deletion cost before that), keeps a deleted pod
(``deletionTimestamp`` set, seen on the timeline) for a few ticks, and readies a new pod a few
ticks after it is created. A traffic thread ticks it every ``TICK`` seconds and sends one request
per tick to the ready pods in turn, answered with the pod's name; with ``failing`` set, requests
fail while a pod is shutting down, as they do for an app without a preStop delay.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kubernetes import client

from podlife.observe.clock import now
from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.observe.window import Window
from podlife.workloads.jig import DELETION_COST
from tests.entries import pod_entry

TICK = 0.01
#: Ticks from creation to Ready, and from the deletion to the pod's removal.
READY_AFTER, GONE_AFTER = 3, 5


@dataclass
class FakePod:
    name: str
    revision: int
    born: int
    deleted_at: int | None = None
    #: ``controller.kubernetes.io/pod-deletion-cost``: lower goes first on a scale-down.
    deletion_cost: int = 0

    def ready(self, tick: int) -> bool:
        return self.deleted_at is None and tick - self.born >= READY_AFTER


@dataclass
class KeptEvidence:
    """An evidence sink that keeps what it is given."""

    figures: dict[str, object] = field(default_factory=dict)

    def measure(self, name: str, value: object) -> None:
        self.figures[name] = value

    def waits_on(self, **timers: float) -> None:
        self.figures["timers"] = timers

    def attach(self, name: str, text: str | Iterable[str], kind: str = "text") -> None:
        pass

    def illustrate(self, observation: object) -> None:
        pass


class FakeScene:
    """The scene of one app: ``Netexec``'s Deployment, the only object it knows."""

    namespace = "fake"

    def __init__(self, replicas: int) -> None:
        self.replicas, self.revision, self.tick = replicas, 1, 0
        self.evidence = KeptEvidence()
        #: Requests fail while a pod shuts down (an app without a preStop delay).
        self.failing = False
        self._names = (f"web-{i}" for i in itertools.count())
        self.pods_by_name: dict[str, FakePod] = {}
        self._lock = threading.Lock()
        self.timeline = Timeline()
        self.ledger = Ledger("http://fake", 1 / TICK)
        for _ in range(replicas):
            self._create(born=-READY_AFTER)

    # -- what AppJig asks of a scene -------------------------------------------------------------

    def scale(self, kind: str, name: str, replicas: int) -> None:
        with self._lock:
            self.replicas = replicas

    def patch_template(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        with self._lock:
            self.revision += 1

    def delete_pod(self, name: str, grace_period: int | None = None) -> None:
        with self._lock:
            self._delete(self.pods_by_name[name])

    def annotate_pod(self, name: str, annotations: dict[str, str]) -> None:
        with self._lock:
            self.pods_by_name[name].deletion_cost = int(annotations.get(DELETION_COST, 0))

    def pods(self, selector: dict[str, str]) -> list[client.V1Pod]:
        with self._lock:
            return [self._model(p) for p in self.pods_by_name.values()]

    def ready_pods(self, selector: dict[str, str]) -> list[client.V1Pod]:
        with self._lock:
            return [self._model(p) for p in self.pods_by_name.values() if p.ready(self.tick)]

    @property
    def apps(self) -> "FakeScene":
        return self

    def read_namespaced_deployment(self, name: str, namespace: str) -> client.V1Deployment:
        with self._lock:
            live = [p for p in self.pods_by_name.values() if p.deleted_at is None]
            ready = [p for p in live if p.ready(self.tick)]
            status = client.V1DeploymentStatus(
                observed_generation=self.revision, replicas=len(live), ready_replicas=len(ready),
                updated_replicas=len([p for p in ready if p.revision == self.revision]))
            return client.V1Deployment(metadata=client.V1ObjectMeta(name=name, generation=self.revision),
                                       spec=client.V1DeploymentSpec(replicas=self.replicas, selector=client.V1LabelSelector(),
                                                                    template=client.V1PodTemplateSpec()),
                                       status=status)

    @contextlib.contextmanager
    def traffic(self) -> Iterator[Window]:
        """The window a scenario opens: the fake ticks and sends one request a tick until the block ends."""
        stop = threading.Event()
        ticker = threading.Thread(target=self._run, args=(stop,), daemon=True)
        ticker.start()
        try:
            yield Window(self.timeline, _Sent(self.ledger))
        finally:
            stop.set()
            ticker.join()

    # -- the controller and the traffic ----------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        seq = itertools.count()
        while not stop.wait(TICK):
            with self._lock:
                self._step()
                ready = sorted(p.name for p in self.pods_by_name.values() if p.ready(self.tick))
                n = next(seq)
                pod = ready[n % len(ready)] if ready else None
                stopping = any(p.deleted_at is not None for p in self.pods_by_name.values())
                ok = pod is not None and not (self.failing and stopping)
                sent = now()
                self.ledger.requests.append(Request(n, sent, sent, 0.001, 200 if ok else None,
                                                    None if ok else "Connection refused", pod if ok else None))

    def _step(self) -> None:
        self.tick += 1
        for pod in [p for p in self.pods_by_name.values() if p.deleted_at is not None and self.tick - p.deleted_at >= GONE_AFTER]:
            del self.pods_by_name[pod.name]
        live = sorted((p for p in self.pods_by_name.values() if p.deleted_at is None), key=lambda p: p.born)
        old = [p for p in live if p.revision != self.revision]
        current = [p for p in live if p.revision == self.revision]
        if len(current) < self.replicas and len(live) <= self.replicas:
            self._create(born=self.tick)
        elif old and len(live) > self.replicas:
            if any(p.ready(self.tick) for p in current):  # surge one: an old pod goes once a new one is ready
                self._delete(old[0])
        elif len(live) > self.replicas:  # scale-down: the lowest deletion cost first, then the newest
            self._delete(min(live, key=lambda p: (p.deletion_cost, -p.born)))

    def _create(self, born: int) -> None:
        name = next(self._names)
        self.pods_by_name[name] = FakePod(name, self.revision, born)

    def _delete(self, pod: FakePod) -> None:
        if pod.deleted_at is None:
            pod.deleted_at = self.tick
            self.timeline.entries.append(pod_entry(now(), pod.name, deleting=now()))

    def _model(self, pod: FakePod) -> client.V1Pod:
        deleting = None if pod.deleted_at is None else datetime.now(timezone.utc)
        return client.V1Pod(metadata=client.V1ObjectMeta(name=pod.name, deletion_timestamp=deleting))


@dataclass
class _Sent:
    """The traffic source of a fake window: the ledger the ticker fills."""

    ledger: Ledger
