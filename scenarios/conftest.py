"""Fixtures scenarios share: a jig factory bound to the test's namespace and cluster."""

from __future__ import annotations

from typing import Callable

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import AppJig

MakeJig = Callable[[Netexec], AppJig]


@pytest.fixture
def jig(k8s: client.ApiClient, podlife_cluster: ClusterHandle, namespace: str, request: pytest.FixtureRequest) -> MakeJig:
    image_repo = request.config.getoption("image_repo")

    def make(app: Netexec) -> AppJig:
        app.image_repo = image_repo
        return AppJig(k8s, podlife_cluster, namespace, app)

    return make
