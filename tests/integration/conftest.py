"""Fixtures for tests of the local cluster provider itself (they need ``--cluster=local``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import Builder
from podlife.cluster.local.provider import LocalCluster


@dataclass(frozen=True)
class Kubectl:
    """The cluster's own kubectl, pointed at one namespace."""

    binary: Path
    kubeconfig: Path
    namespace: str

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), f"--kubeconfig={self.kubeconfig}", f"--namespace={self.namespace}", *args]

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, check=True, timeout=timeout)


@pytest.fixture(scope="session")
def local_cluster(podlife_cluster: ClusterHandle) -> LocalCluster:
    if not podlife_cluster.on_this_host:
        pytest.skip("tests the local provider")
    return LocalCluster()


@pytest.fixture
def kubectl(local_cluster: LocalCluster, podlife_cluster: ClusterHandle, namespace: str) -> Kubectl:
    binary = Builder(podlife_cluster.version.lstrip("v")).bin_dir / "kubectl"
    return Kubectl(binary, podlife_cluster.kubeconfig, namespace)
