"""How the harness reaches a Service through its real data path (never ``kubectl port-forward``).

On the local cluster the harness runs on the node, so it uses the ClusterIP through kube-proxy's
rules, as an in-cluster client would. Elsewhere it uses the Service's NodePort on a node's
address, which crosses the same kube-proxy rules from outside; or, with ``--traffic
in-cluster``, the ClusterIP from pods of the harness's (``observe.incluster``), so nothing of
the cluster needs to be reachable from the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.errors import HarnessError, NotApplicable
from podlife.served import name_of, present


@dataclass(frozen=True)
class PodNaming:
    """How an answer names the pod that served it, when the app says so at all.

    podlife's reference apps answer ``/hostname`` with the pod's name (``body``); a user's app may
    put it in a response header. Otherwise ``observe.attribution`` may still tell from the node's
    connection tracking, or the ledger says it does not know.
    """

    body: bool = False
    header: str | None = None

    @property
    def argument(self) -> str:
        """Where an answer names its pod, as the generators are told: the shell schedule's ninth argument, the engine's ``-naming``."""
        return f"header:{self.header}" if self.header else "body" if self.body else "none"


@dataclass(frozen=True)
class Target:
    """Where traffic goes, what a healthy answer is, and whether it must be sent from inside the cluster."""

    url: str
    in_cluster: bool = False
    expect: int = 200
    naming: PodNaming = PodNaming()
    #: The Service's ClusterIP and port, when this host's connection tracking sees them rewritten
    #: to a pod's (the local cluster: see ``observe.attribution``).
    service_address: tuple[str, int] | None = None


@dataclass(frozen=True)
class ServiceAccess:
    """The Service an app is reached through (its ``port``, else its first), and what a healthy answer is."""

    service: str
    path: str = "/"
    port: int | None = None
    expect: int = 200
    naming: PodNaming = PodNaming()


def service_target(api: client.ApiClient, cluster: ClusterHandle, namespace: str, access: ServiceAccess) -> Target:
    """The Target for the Service as this run reaches it (see the module's docstring)."""
    core = client.CoreV1Api(api)
    spec = present(core.read_namespaced_service(access.service, namespace).spec, f"spec of Service {access.service}")
    if not spec.ports:
        raise HarnessError(f"Service {access.service} in {namespace} has no ports to send traffic to")
    port_spec = next((p for p in spec.ports if access.port is None or p.port == access.port), spec.ports[0])
    address = (present(spec.cluster_ip, f"clusterIP of Service {access.service}"), port_spec.port)
    tracked = address if cluster.on_this_host else None
    path, expect, naming = access.path, access.expect, access.naming
    if cluster.traffic_in_cluster or cluster.on_this_host:
        return Target(f"http://{address[0]}:{address[1]}{path}", cluster.traffic_in_cluster, expect, naming, tracked)
    try:
        node = core.list_node().items[0]
    except client.ApiException as err:
        if err.status != 403:
            raise
        raise NotApplicable("sending traffic from here needs a node address for the Service's NodePort, and this "
                            "cluster's credentials may not list nodes (namespace-scoped mode; use --traffic in-cluster)") from None
    addresses = present(node.status, f"status of node {name_of(node)}").addresses or []
    node_address = next((a.address for a in addresses if a.type in ("InternalIP", "ExternalIP")), None)
    if node_address is None:
        raise HarnessError(f"node {name_of(node)} reports no InternalIP or ExternalIP to reach the Service's NodePort at")
    return Target(f"http://{node_address}:{port_spec.node_port}{path}", False, expect, naming)


def answers(target: Target, timeout: float = 2.0) -> bool:
    """Whether ``target`` answers with the status a healthy app gives."""
    try:
        return requests.get(target.url, timeout=timeout).status_code == target.expect
    except requests.RequestException:
        return False


def served_by(url: str, timeout: float = 2.0) -> str | None:
    """The pod name agnhost's ``/hostname`` answers at ``url``, or None when it does not answer 200."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return response.text if response.status_code == 200 else None
