"""Bad input to ``podlife cluster up`` is one line and a non-zero exit, and the running cluster is untouched."""

from __future__ import annotations

import subprocess

import pytest

from podlife.cluster.local.provider import LocalCluster


@pytest.mark.parametrize("args, message", [
    (["--extra-arg", "etcd=--quota-backend-bytes=1"], "unknown component(s) etcd"),
    (["--extra-arg", "kubelet=v=4"], "expected COMPONENT=--flag"),
    (["--feature-gates", "SomeGate"], "--feature-gates expects Name=true|false"),
    (["--kubelet-config", "crashLoopBackOff.maxContainerRestartPeriod=[60s"], "cannot read the value"),
    (["--kubelet-config", "crashLoopBackOff.maxRestartPeriod=60s"], "has no field crashLoopBackOff.maxRestartPeriod"),
    (["--version", "1.34"], "not supported by the local cluster: 1.35 is the oldest minor proven"),
    (["--nodes", "0"], "--nodes: a cluster needs at least one node, got 0"),
    (["--nodes", "three"], "--nodes expects a whole number of nodes, got 'three'"),
    (["--nodes", "100"], "--nodes 100 needs about 52736 MiB of memory"),
])
def test_bad_cluster_settings_are_one_line(local_cluster: LocalCluster, args: list[str], message: str) -> None:
    pids = local_cluster.supervisor.running()
    result = subprocess.run(["podlife", "cluster", "up", *args], capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("podlife: error: "), result.stderr
    assert message in lines[0]
    assert local_cluster.supervisor.running() == pids, "bad input disturbed the running cluster"


def test_down_is_refused_while_a_run_is_attached(local_cluster: LocalCluster) -> None:
    """This very test run holds a lease on the cluster, so a ``down`` from elsewhere must refuse."""
    result = subprocess.run(["podlife", "cluster", "down"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "in use by pid" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert local_cluster.is_up()
