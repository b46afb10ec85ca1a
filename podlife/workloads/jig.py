"""A jig for one app in one namespace: deploy it, reach it, disrupt it.

Modelled on the upstream e2e framework's jigs: scenarios say *what* they do to the app
(``scale``, ``roll_out``, ``delete_pod``) and the jig knows how, so each scenario reads as
its story. The app is anything that satisfies ``App``: podlife's reference apps
(``agnhost.Netexec``) and a user's own workload (``user.UserApp``) are driven the same way,
through the test's ``Scene``, so the image mirror, the test's labels and the report's copy of
what was applied are the same for both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from kubernetes import client

from podlife.access import ServiceAccess, Target, answers, service_target
from podlife.errors import ExecFailed
from podlife.kernel.defaults import TRAFFIC_POD_PREFIX
from podlife.observe.datapath import routes_to_all
from podlife.scene import Scene
from podlife.served import meta
from podlife.waiting import wait_for
from podlife.workloads.agnhost import client_pod

#: The pod in-cluster traffic's deploys ask the app from: an idle agnhost with curl, one per namespace.
PROBE_POD = f"{TRAFFIC_POD_PREFIX}probe"


class App(Protocol):
    """What the jig needs to know of an app: its controller, its pods and how to reach them."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def selector(self) -> dict[str, str]: ...

    @property
    def replicas(self) -> int: ...

    @property
    def access(self) -> ServiceAccess: ...

    @property
    def source(self) -> str: ...

    def manifests(self) -> list[dict[str, Any]]: ...


@dataclass
class AppJig:
    """One app in one test's scene."""

    scene: Scene
    app: App

    def create(self) -> Target:
        """Apply the app's manifests; return where to send traffic at once, ready or not."""
        self.scene.apply(*self.app.manifests(), source=self.app.source)
        return service_target(self.scene.api, self.scene.cluster, self.scene.namespace, self.app.access)

    def deploy(self, timeout: float = 120) -> Target:
        """Apply the app's manifests; return the target once the app answers through its Service.

        Asked from where the traffic will come from: for in-cluster traffic, from a pod (``PROBE_POD``),
        once the Service lists the app's ready endpoints. The endpoints alone were not enough: the
        node's rules follow them up to a kube-proxy sync (1 s) later, and the engine's pod, up within
        a second, had its first request refused by a Service the rules still had no endpoint for.
        """
        target = self.create()
        self.scene.wait_ready(self.app.selector, self.app.replicas, timeout)
        if target.in_cluster:
            wait_for(lambda: self.scene.ready_endpoints(self.app.access.service) >= self.app.replicas,
                     timeout, f"{self.app.access.service}'s Service to list its ready endpoints")
            self.scene.apply(client_pod(PROBE_POD), source="the in-cluster probe")
            wait_for(lambda: self.scene.all_running(PROBE_POD), timeout, f"the probe pod {PROBE_POD} to run")
            wait_for(lambda: self._answers_inside(target), timeout, f"{self.app.name} to answer through its Service from a pod")
        else:
            wait_for(lambda: answers(target), timeout, f"{self.app.name} to answer through its Service")
            if target.service_address:  # this host's rules route the Service (the local cluster)
                wait_for(lambda: routes_to_all(self.scene.namespace, self.app.access.service, self.app.replicas), timeout,
                         f"this node's rules to route {self.app.access.service} to all {self.app.replicas} replicas")
        return target

    def _answers_inside(self, target: Target) -> bool:
        try:
            said = self.scene.exec(PROBE_POD, ["curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}", target.url])
        except ExecFailed:  # curl's own failure (refused, timed out): not yet
            return False
        return said.strip() == str(target.expect)

    def pods(self) -> list[client.V1Pod]:
        return self.scene.ready_pods(self.app.selector)

    def scale(self, replicas: int) -> None:
        self.scene.scale(self.app.kind, self.app.name, replicas)

    def roll_out(self) -> None:
        """Trigger a rolling update by changing the pod template (an annotation), as a new release would."""
        self.scene.patch_template(self.app.kind, self.app.name,
                                  {"metadata": {"annotations": {"podlife.io/revision": str(time.time_ns())}}})

    def rolled_out(self) -> bool:
        """Every replica runs the current template and is ready, and no extra pod is left.

        No status at all means the controller has not reported on the object yet: not rolled out.
        """
        apps, namespace = self.scene.apps, self.scene.namespace
        if self.app.kind == "StatefulSet":
            s = apps.read_namespaced_stateful_set(self.app.name, namespace)
            return bool(
                s.status is not None
                and s.status.observed_generation == meta(s).generation
                and s.status.current_revision == s.status.update_revision
                and s.status.ready_replicas == s.spec.replicas
                and (s.status.replicas or 0) == s.spec.replicas
            )
        d = apps.read_namespaced_deployment(self.app.name, namespace)
        st = d.status
        return bool(
            st is not None
            and st.observed_generation == meta(d).generation
            and st.updated_replicas == d.spec.replicas
            and st.ready_replicas == d.spec.replicas
            and (st.replicas or 0) == d.spec.replicas
        )

    def settled(self) -> bool:
        """Rolled out, and no pod of the app is still terminating: the whole shutdown is behind us."""
        return self.rolled_out() and all(meta(p).deletion_timestamp is None for p in self.scene.pods(self.app.selector))

    def delete_pod(self, name: str, grace_period: int | None = None) -> None:
        self.scene.delete_pod(name, grace_period)

    def remove_first(self, pods: list[str]) -> None:
        """Have the next scale-down remove ``pods`` first: a lower ``controller.kubernetes.io/pod-deletion-cost``
        goes first among ready pods. A StatefulSet always removes its highest ordinal: nothing to mark."""
        if self.app.kind == "StatefulSet":
            return
        for pod in pods:
            self.scene.annotate_pod(pod, {DELETION_COST: "-1"})


#: The annotation by which a ReplicaSet orders pods of equal readiness on a scale-down (lower first).
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

#: The ``jig`` fixture: a jig for an app, bound to the test's cluster, namespace and evidence.
MakeJig = Callable[[App], AppJig]
