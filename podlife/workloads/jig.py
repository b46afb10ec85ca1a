"""A jig for one Netexec app in one namespace: deploy it, reach it, disrupt it.

Modelled on the upstream e2e framework's jigs: scenarios say *what* they do to the app
(``scale``, ``roll_out``, ``delete_pod``) and the jig knows how, so each scenario reads as
its story.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kubernetes import client

from podlife.access import Target, served_by, service_target
from podlife.cluster.base import ClusterHandle
from podlife.kube import apply, pod_gone, pods_of, ready_endpoints, ready_pods, wait_ready
from podlife.waiting import wait_for
from podlife.workloads.agnhost import Netexec


@dataclass
class AppJig:
    api: client.ApiClient
    cluster: ClusterHandle
    namespace: str
    app: Netexec

    def create(self) -> Target:
        """Create the Deployment and its Service; return where to send traffic at once, ready or not."""
        apply(self.api, self.namespace, self.app.deployment(), self.app.service())
        return service_target(self.api, self.cluster, self.namespace, self.app.name)

    def deploy(self, timeout: float = 120) -> Target:
        """Create the Deployment and its Service; return the target once the app answers through it.

        From inside the cluster only a pod could ask, so there the Service's ready endpoints stand in.
        """
        target = self.create()
        wait_ready(self.api, self.namespace, self.app.selector, self.app.replicas, timeout)
        if target.in_cluster:
            wait_for(lambda: ready_endpoints(self.api, self.namespace, self.app.name) >= self.app.replicas, timeout,
                     f"{self.app.name}'s Service to list its ready endpoints")
        else:
            wait_for(lambda: served_by(target.url), timeout, f"{self.app.name} to answer through its Service")
        return target

    def pods(self) -> list[client.V1Pod]:
        return ready_pods(self.api, self.namespace, self.app.selector)

    def scale(self, replicas: int) -> None:
        client.AppsV1Api(self.api).patch_namespaced_deployment_scale(
            self.app.name, self.namespace, {"spec": {"replicas": replicas}}
        )

    def roll_out(self) -> None:
        """Trigger a rolling update by changing the pod template (an annotation), as a new release would."""
        patch = {"spec": {"template": {"metadata": {"annotations": {"podlife.io/revision": str(time.time_ns())}}}}}
        client.AppsV1Api(self.api).patch_namespaced_deployment(self.app.name, self.namespace, patch)

    def rolled_out(self) -> bool:
        d = client.AppsV1Api(self.api).read_namespaced_deployment(self.app.name, self.namespace)
        s = d.status
        return (
            s.observed_generation == d.metadata.generation
            and s.updated_replicas == d.spec.replicas
            and s.ready_replicas == d.spec.replicas
            and (s.replicas or 0) == d.spec.replicas
        )

    def settled(self) -> bool:
        """Rolled out, and no pod of the app is still terminating: the whole shutdown is behind us."""
        pods = pods_of(self.api, self.namespace, self.app.selector)
        return self.rolled_out() and all(p.metadata.deletion_timestamp is None for p in pods)

    def delete_pod(self, name: str, grace_period: int | None = None) -> None:
        client.CoreV1Api(self.api).delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace_period)

    def gone(self, name: str) -> bool:
        return pod_gone(self.api, self.namespace, name)
