"""The test's namespace on its cluster: the one route scenarios, and the traffic they send from pods, take to it.

Every scenario, podlife's own and a user's, changes the cluster through a ``Scene``: it applies
manifests, deletes pods (gracefully, with a grace override, or by force), scales and rolls out
through a jig, execs into containers and watches the namespace; the in-cluster traffic pods
are applied through it too. What must hold for every change lives here once: each applied
object goes through ``kube.apply`` with the run's reference images (``--image-repo``, the
agnhost of the cluster's version) and the test's labels, both held here and nowhere else, and
its YAML is attached to the report, so a failing test shows exactly what it ran. Reads are
plain API calls (``core``, ``apps``, ``batch``), or the named waits below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client

from podlife import kube
from podlife.access import Target
from podlife.cluster.base import ClusterHandle
from podlife.kernel.evidence import EvidenceSink
from podlife.kernel.images import ReferenceImages
from podlife.observe.datapath import DataPath, sampled
from podlife.observe.timeline import TimelineRecorder
from podlife.observe.window import Window, observe

#: Requests per second a scene's traffic sends unless the scenario says otherwise: a steady
#: trickle for scenarios that watch where answers come from (OP-03, LC-08, the upgrade). The
#: disruptions of ``chaos.apps`` send ``ROLLOUT_RATE`` or ``STEADY_RATE``, and say why.
TRAFFIC_RATE = 25.0


@dataclass(frozen=True)
class Session:
    """What one test process knows of its cluster, the same for each of its tests.

    Made once per process by the plugin: the API client, the cluster, how the cluster names the
    reference images (its version's agnhost, ``--image-repo``), and its discovery of kinds.
    """

    api: client.ApiClient
    cluster: ClusterHandle
    images: ReferenceImages
    discovery: kube.Discovery

    @classmethod
    def of(cls, api: client.ApiClient, cluster: ClusterHandle, images: ReferenceImages) -> "Session":
        return cls(api, cluster, images, kube.Discovery(api))


@dataclass
class Scene:
    """One test namespace on one cluster, with the labels the test stamps on what it creates, and its evidence."""

    session: Session
    namespace: str
    #: Put on every object applied, its pod and claim templates: how the test's objects are found again.
    labels: dict[str, str]
    evidence: EvidenceSink

    @property
    def api(self) -> client.ApiClient:
        return self.session.api

    @property
    def cluster(self) -> ClusterHandle:
        return self.session.cluster

    @property
    def images(self) -> ReferenceImages:
        return self.session.images

    # -- changes ---------------------------------------------------------------------------------

    def apply(self, *manifests: dict[str, Any], source: str = "scenario") -> None:
        """Server-side apply ``manifests`` into the namespace; their YAML goes to the report."""
        self.evidence.attach(f"applied: {source}", yaml.safe_dump_all(manifests, sort_keys=False))
        kube.apply(self.api, self.namespace, *manifests, images=self.images, labels=self.labels,
                   discovery=self.session.discovery, source=source)

    def delete_pod(self, name: str, grace_period: int | None = None) -> None:
        """``kubectl delete pod NAME [--grace-period=N]``; ``grace_period=0`` is ``--force``."""
        self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace_period)

    def annotate_pod(self, name: str, annotations: dict[str, str]) -> None:
        """``kubectl annotate pod NAME KEY=VALUE...``."""
        self.core.patch_namespaced_pod(name, self.namespace, {"metadata": {"annotations": annotations}})

    def scale(self, kind: str, name: str, replicas: int) -> None:
        """``kubectl scale KIND/NAME --replicas=N`` for a Deployment or a StatefulSet."""
        patch = {"spec": {"replicas": replicas}}
        if kind == "StatefulSet":
            self.apps.patch_namespaced_stateful_set_scale(name, self.namespace, patch)
        else:
            self.apps.patch_namespaced_deployment_scale(name, self.namespace, patch)

    def patch_template(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        """Change a Deployment's or StatefulSet's pod template, which starts a rollout."""
        body = {"spec": {"template": patch}}
        if kind == "StatefulSet":
            self.apps.patch_namespaced_stateful_set(name, self.namespace, body)
        else:
            self.apps.patch_namespaced_deployment(name, self.namespace, body)

    def exec(self, pod: str, command: list[str], container: str | None = None, stdin: bytes | None = None) -> str:
        """``kubectl exec``: the command's standard output (``stdin`` its input); a non-zero exit is a ``HarnessError``."""
        return kube.exec_in(self.api, self.namespace, pod, command, container, stdin)

    # -- watching --------------------------------------------------------------------------------

    def watch(self) -> TimelineRecorder:
        """A recorder of the namespace's pods, events and endpoint slices, for a ``with`` block."""
        return TimelineRecorder(self.api, self.namespace)

    @contextlib.contextmanager
    def traffic(self, target: Target, rate: float = TRAFFIC_RATE, keepalive: int = 0) -> Iterator[Window]:
        """Watch the namespace and send traffic to ``target`` for the block (see ``observe.window``); ``keepalive``
        clients each keep a connection, else every request opens its own."""
        with observe(self, target, self.evidence, rate, keepalive) as window:
            yield window

    @contextlib.contextmanager
    def data_path(self) -> Iterator[DataPath | None]:
        """The node's rules sampled for the block where this host routes the cluster's Services (the local
        cluster's first node); None elsewhere (see ``observe.datapath``)."""
        with sampled(self.namespace, self.cluster.on_this_host) as data_path:
            yield data_path

    # -- reads -----------------------------------------------------------------------------------

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    def pod(self, name: str) -> client.V1Pod:
        return self.core.read_namespaced_pod(name, self.namespace)

    def log(self, pod: str, container: str | None = None) -> str:
        text: str = self.core.read_namespaced_pod_log(pod, self.namespace, container=container)
        return text

    def pods(self, selector: dict[str, str]) -> list[client.V1Pod]:
        return kube.pods_of(self.api, self.namespace, selector)

    def ready_pods(self, selector: dict[str, str]) -> list[client.V1Pod]:
        return kube.ready_pods(self.api, self.namespace, selector)

    def wait_ready(self, selector: dict[str, str], count: int, timeout: float = 120) -> list[client.V1Pod]:
        return kube.wait_ready(self.api, self.namespace, selector, count, timeout)

    def all_running(self, pod: str) -> bool:
        return kube.all_running(self.api, self.namespace, pod)

    def running_uid(self, pod: str, other_than: str | None = None, timeout: float = 90) -> str:
        return kube.running_uid(self.api, self.namespace, pod, other_than, timeout)

    def gone(self, pod: str) -> bool:
        return kube.pod_gone(self.api, self.namespace, pod)

    def node_of(self, pod: str) -> str:
        return kube.scheduled_node(self.api, self.namespace, pod)

    def ready_endpoints(self, service: str) -> int:
        return kube.ready_endpoints(self.api, self.namespace, service)
