"""The test's namespace on its cluster: the one route scenarios take to it.

Every scenario, podlife's own and a user's, changes the cluster through a ``Scene``: it applies
manifests, deletes pods (gracefully, with a grace override, or by force), scales and rolls out
through a jig, execs into containers and watches the namespace. What must hold for every
change lives here once: each applied object goes through ``kube.apply`` (the session's image
mirror and the test's labels) and its YAML is attached to the report, so a failing test shows
exactly what it ran. Reads are plain API calls (``core``, ``apps``, ``batch``), or the named
waits below.
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
from podlife.observe.timeline import TimelineRecorder
from podlife.observe.window import Window, observe
from podlife.report.summary import Evidence


@dataclass
class Scene:
    """One test namespace on one cluster, with the test's evidence."""

    api: client.ApiClient
    cluster: ClusterHandle
    namespace: str
    evidence: Evidence

    # -- changes ---------------------------------------------------------------------------------

    def apply(self, *manifests: dict[str, Any], source: str = "scenario") -> None:
        """Server-side apply ``manifests`` into the namespace; their YAML goes to the report."""
        self.evidence.attach(f"applied: {source}", yaml.safe_dump_all(manifests, sort_keys=False))
        kube.apply(self.api, self.namespace, *manifests, source=source)

    def delete_pod(self, name: str, grace_period: int | None = None) -> None:
        """``kubectl delete pod NAME [--grace-period=N]``; ``grace_period=0`` is ``--force``."""
        self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace_period)

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

    def exec(self, pod: str, command: list[str], container: str | None = None) -> str:
        """``kubectl exec``: the command's standard output; a non-zero exit is a ``HarnessError``."""
        return kube.exec_in(self.api, self.namespace, pod, command, container)

    # -- watching --------------------------------------------------------------------------------

    def watch(self) -> TimelineRecorder:
        """A recorder of the namespace's pods, events and endpoint slices, for a ``with`` block."""
        return TimelineRecorder(self.api, self.namespace)

    @contextlib.contextmanager
    def traffic(self, target: Target, rate: float = 25.0) -> Iterator[Window]:
        """Watch the namespace and send traffic to ``target`` for the block (see ``observe.window``)."""
        with observe(self.api, self.namespace, target, self.evidence, rate=rate) as window:
            yield window

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
