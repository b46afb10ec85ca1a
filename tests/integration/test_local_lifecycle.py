"""``podlife cluster down`` takes back everything, and ``up`` works again afterwards.

Marked ``lifecycle``: it stops the shared cluster, so CI runs it on its own, last.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import resolve_version
from podlife.cluster.local.components import Settings
from podlife.cluster.local.provider import LocalCluster
from podlife.kube import apply, wait_ready
from podlife.workloads.agnhost import Netexec


@pytest.mark.lifecycle
def test_down_leaves_nothing_and_up_works_again(podlife_cluster: ClusterHandle, k8s: client.ApiClient, namespace: str) -> None:
    if podlife_cluster.provider != "local":
        pytest.skip("tests the local provider")
    db = Netexec("db", replicas=2)
    apply(k8s, namespace, db.service(), db.statefulset(claim_size="1Mi"))
    wait_ready(k8s, namespace, db.selector, 2)
    cluster = LocalCluster()

    assert cluster.down() == []

    result = cluster.up(Settings(version=resolve_version(podlife_cluster.version)))
    assert not result.already_running
    assert cluster.is_up()
