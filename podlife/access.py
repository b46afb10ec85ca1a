"""How the harness reaches a Service through its real data path (never ``kubectl port-forward``).

On the local cluster the harness runs on the node, so it uses the ClusterIP through kube-proxy's
rules, as an in-cluster client would. Elsewhere it uses the Service's NodePort on a node's
address, which crosses the same kube-proxy rules from outside; or, with ``--traffic
in-cluster``, the ClusterIP from pods of the harness's (``observe.incluster``), so nothing of
the cluster needs to be reachable from the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from kubernetes import client

from podlife.cluster.base import ClusterHandle


@dataclass(frozen=True)
class Target:
    """Where traffic goes, and whether it must be sent from inside the cluster (``--traffic in-cluster``)."""

    url: str
    in_cluster: bool = False


def service_target(api: client.ApiClient, cluster: ClusterHandle, namespace: str, service: str,
                   path: str = "/hostname") -> Target:
    core = client.CoreV1Api(api)
    svc = core.read_namespaced_service(service, namespace)
    port = svc.spec.ports[0]
    if cluster.traffic == "in-cluster" or cluster.provider == "local":
        return Target(f"http://{svc.spec.cluster_ip}:{port.port}{path}", in_cluster=cluster.traffic == "in-cluster")
    try:
        node = core.list_node().items[0]
    except client.ApiException as err:
        if err.status != 403:
            raise
        pytest.skip("sending traffic from here needs a node address for the Service's NodePort, "
                    "and this cluster's credentials may not list nodes (namespace-scoped mode; use --traffic in-cluster)")
    address = next(a.address for a in node.status.addresses if a.type in ("InternalIP", "ExternalIP"))
    return Target(f"http://{address}:{port.node_port}{path}")


def served_by(url: str, timeout: float = 2.0) -> str | None:
    """The pod name agnhost's ``/hostname`` answers at ``url``, or None when it does not answer 200."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return response.text if response.status_code == 200 else None
