"""Fixtures scenarios share: a jig factory bound to the test's namespace and cluster, and a hook recorder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import AppJig

MakeJig = Callable[[Netexec], AppJig]


@pytest.fixture
def jig(k8s: client.ApiClient, podlife_cluster: ClusterHandle, namespace: str) -> MakeJig:
    def make(app: Netexec) -> AppJig:
        return AppJig(k8s, podlife_cluster, namespace, app)

    return make


@dataclass
class Recorder:
    """An agnhost netexec pod that httpGet hooks call: it logs each ``/echo?msg=...`` it receives."""

    api: client.ApiClient
    namespace: str
    pod: client.V1Pod

    @property
    def ip(self) -> str:
        return self.pod.status.pod_ip

    def log(self) -> str:
        return client.CoreV1Api(self.api).read_namespaced_pod_log(self.pod.metadata.name, self.namespace)


@pytest.fixture
def recorder(jig: MakeJig) -> Recorder:
    app = jig(Netexec("recorder"))
    app.deploy()
    return Recorder(app.api, app.namespace, app.pods()[0])
