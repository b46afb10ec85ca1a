"""A cluster of several nodes is one cluster: pods on every node reach each other, Services and DNS,
and a claim of the default StorageClass is used on any node.

Marked ``nodes`` (it needs ``--nodes 2`` or more, and CI runs it with the node scenarios); on a
cluster of one node it skips.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from podlife.chaos.nodes import disruptable_nodes
from podlife.kube import wait_ready
from podlife.observe.nodes import nodes
from podlife.scene import Scene
from podlife.served import name_of, pod_ip, pod_spec
from podlife.workloads.agnhost import HTTP_PORT, Netexec
from podlife.workloads.members import RECORDS, Members
from podlife.workloads.placement import only_node, spread_over_nodes

pytestmark = pytest.mark.nodes


def test_pods_on_every_node_reach_each_other_services_and_dns(scene: Scene, k8s: client.ApiClient, namespace: str) -> None:
    disruptable_nodes(scene)  # skips on a cluster of one node
    count = len(nodes(k8s))
    web = Netexec("web", replicas=count, scheduling=spread_over_nodes({"app": "web"}))
    scene.apply(web.deployment(), web.service())
    pods = wait_ready(k8s, namespace, web.selector, count)
    assert len({pod_spec(p).node_name for p in pods}) == count, "the replicas did not land one per node"
    unreached = []
    for source in pods:
        for target in pods:
            answer = scene.exec(name_of(source), ["curl", "-sS", "-m", "3", f"http://{pod_ip(target)}:{HTTP_PORT}/hostname"])
            if answer.strip() != name_of(target):
                unreached.append(f"{pod_spec(source).node_name} -> {pod_spec(target).node_name}")
        loop = f"for i in $(seq 12); do curl -sS -m 3 http://web.{namespace}.svc.cluster.local/hostname; echo; done"
        by_name = scene.exec(name_of(source), ["sh", "-c", loop])
        if not set(by_name.split()) <= {name_of(p) for p in pods} or not by_name.split():
            unreached.append(f"{pod_spec(source).node_name} -> the Service by name: {by_name[:200]!r}")
    assert not unreached, f"pods could not reach: {unreached}"


def test_a_claim_written_on_one_node_is_read_on_another(scene: Scene, k8s: client.ApiClient, namespace: str) -> None:
    first, *_ = disruptable_nodes(scene)
    others = [n for n in nodes(k8s) if n != first]
    writer = Members("store", ["record written-by-$POD_UID", "sleep 3600"], scheduling=only_node(first))
    scene.apply(writer.service(), writer.statefulset())
    old = scene.running_uid("store-0")
    assert f"written-by-{old}" in scene.exec("store-0", ["cat", RECORDS])
    scene.patch_template("StatefulSet", "store", {"spec": only_node(others[0])})  # the member moves (a rolling update)
    scene.running_uid("store-0", other_than=old, timeout=120)
    assert scene.node_of("store-0") == others[0]
    assert f"written-by-{old}" in scene.exec("store-0", ["cat", RECORDS]), "the claim's data did not follow the member to another node"
