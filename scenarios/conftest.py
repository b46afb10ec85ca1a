"""Fixtures scenarios share: a hook recorder (the jig factory comes with the plugin, for users' tests too)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from kubernetes import client

from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig

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
