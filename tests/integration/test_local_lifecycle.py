"""``podlife cluster down`` takes back everything, ``up`` is safe under concurrent callers, and
``up`` with other settings restarts the cluster or refuses while someone uses it.

Marked ``lifecycle``: these stop the shared cluster, so CI runs them on their own, last.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Iterator

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import resolve_version
from podlife.cluster.local.components import Settings
from podlife.cluster.local.machines import NodeMachines
from podlife.cluster.local.provider import LocalCluster
from podlife.kube import wait_ready
from podlife.scene import Scene
from podlife.workloads.agnhost import Netexec
from tests.integration import hostsnap

BACKOFF_OVERRIDE = "crashLoopBackOff.maxContainerRestartPeriod=60s"


def podlife(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podlife", *args], capture_output=True, text=True, timeout=900)


@pytest.mark.lifecycle
def test_down_restores_the_host_and_concurrent_ups_start_one_cluster(scene: Scene, podlife_cluster: ClusterHandle, k8s: client.ApiClient,
                                                                     namespace: str) -> None:
    if not podlife_cluster.on_this_host:
        pytest.skip("tests the local provider")
    db = Netexec("db", replicas=2)
    scene.apply(db.service(), db.statefulset(claim_size="1Mi"))
    wait_ready(k8s, namespace, db.selector, 2)
    cluster = LocalCluster()
    version = resolve_version(podlife_cluster.version)
    assert cluster.down() == []
    before = hostsnap.snapshot()

    ups = [subprocess.Popen(["podlife", "cluster", "up", "--version", version], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [up.communicate(timeout=900)[1] for up in ups]
    assert [up.returncode for up in ups] == [0, 0], outputs
    assert sum("ready in" in out for out in outputs) == 1, f"the cluster was started twice: {outputs}"
    # The waiter names the holder by the pid it wrote into the lock file, or "another process" when it
    # looked between the holder's lock and that write (as one CI run did).
    assert any("waiting for " in out and "to finish starting" in out and "already up" in out for out in outputs), outputs
    assert cluster.is_up()

    assert cluster.down() == []
    assert hostsnap.differences(before, hostsnap.snapshot()) == []
    cluster.up(Settings(version=version))
    assert cluster.is_up()


@pytest.mark.lifecycle
def test_down_restores_the_host_after_nodes_were_left_cut_off_and_powered_off(podlife_cluster: ClusterHandle) -> None:
    """A test that died mid-partition leaves its node cut off (and another powered off): ``down`` still takes it all back."""
    if not podlife_cluster.on_this_host:
        pytest.skip("tests the local provider")
    cluster = LocalCluster()
    version = resolve_version(podlife_cluster.version)
    assert cluster.down() == []
    before = hostsnap.snapshot()
    cluster.up(Settings(version=version, nodes=3))
    machines = NodeMachines(cluster)
    machines.partition("podlife-node-2")
    machines.power_off("podlife-node-3")
    assert machines.partitioned("podlife-node-2") and not machines.powered("podlife-node-3")
    assert cluster.down() == []
    assert hostsnap.differences(before, hostsnap.snapshot()) == []
    cluster.up(Settings(version=version))


@pytest.fixture
def as_a_terminal_user(local_cluster: LocalCluster) -> Iterator[None]:
    """This test run lets go of its own lease, so ``podlife cluster up`` sees only the users the test makes."""
    local_cluster.leases.release()
    yield
    local_cluster.leases.hold()


@pytest.mark.lifecycle
@pytest.mark.usefixtures("as_a_terminal_user")
def test_up_with_other_settings_refuses_while_used_and_restarts_otherwise(local_cluster: LocalCluster) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "from podlife.cluster.local.provider import LocalCluster; import time; "
                               "LocalCluster().leases.hold(); print('held', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = podlife("cluster", "up", "--kubelet-config", BACKOFF_OVERRIDE)
        assert refused.returncode == 1 and f"in use by pid {holder.pid}" in refused.stderr, refused.stderr
        assert "maxContainerRestartPeriod" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()

    restarted = podlife("cluster", "up", "--kubelet-config", BACKOFF_OVERRIDE)
    assert restarted.returncode == 0, restarted.stderr
    assert "restarting the local cluster with new settings: kubelet config {} -> " in restarted.stderr
    kubelet_yaml = (local_cluster.layout.config / "kubelet.yaml").read_text()
    assert "maxContainerRestartPeriod: 60s" in kubelet_yaml

    same = podlife("cluster", "up", "--kubelet-config", BACKOFF_OVERRIDE)
    assert same.returncode == 0 and "already up" in same.stderr, same.stderr
    back = podlife("cluster", "up")
    assert back.returncode == 0 and "restarting" in back.stderr, back.stderr
    assert "maxContainerRestartPeriod" not in (local_cluster.layout.config / "kubelet.yaml").read_text()
