"""Fixtures scenarios share: a hook recorder (the scene and jig fixtures come with the plugin, for users' tests too)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from kubernetes import client

from podlife.scene import Scene
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig


@dataclass
class Recorder:
    """An agnhost netexec pod that httpGet hooks call: it logs each ``/echo?msg=...`` it receives."""

    scene: Scene
    pod: client.V1Pod

    @property
    def ip(self) -> str:
        return self.pod.status.pod_ip

    def log(self) -> str:
        return self.scene.log(self.pod.metadata.name)


@pytest.fixture
def recorder(jig: MakeJig) -> Recorder:
    app = jig(Netexec("recorder"))
    app.deploy()
    return Recorder(app.scene, app.pods()[0])
