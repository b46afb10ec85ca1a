"""Fixtures scenarios share: a hook recorder, a shelf for built images.

(The scene and jig fixtures come with the plugin, for users' tests too.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from podlife.cluster.local.local_images import BUSYBOX
from podlife.cluster.registry import NO_REGISTRY, Shelf, cluster_shelf
from podlife.scene import Scene
from podlife.served import name_of, pod_ip
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig


@dataclass
class Recorder:
    """An agnhost netexec pod that httpGet hooks call: it logs each ``/echo?msg=...`` it receives."""

    scene: Scene
    pod: client.V1Pod

    @property
    def ip(self) -> str:
        return pod_ip(self.pod)

    def log(self) -> str:
        return self.scene.log(name_of(self.pod))


@pytest.fixture
def recorder(jig: MakeJig) -> Recorder:
    app = jig(Netexec("recorder"))
    app.deploy()
    return Recorder(app.scene, app.pods()[0])


@pytest.fixture
def shelf(scene: Scene, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shelf]:
    """A repository of the test's own in a registry its cluster pulls from, emptied (and the node's copies removed) at the end."""
    if not BUSYBOX.is_file():
        pytest.skip(f"the test images are built from a static busybox at {BUSYBOX}, which this host lacks")
    found = cluster_shelf(scene.cluster, request.config.getoption("image_registry"), f"podlife/{scene.namespace}", tmp_path)
    if found is None:
        pytest.skip(NO_REGISTRY)
    yield found
    left = found.clear()
    if left:
        scene.evidence.attach("images left behind", "\n".join(left))
