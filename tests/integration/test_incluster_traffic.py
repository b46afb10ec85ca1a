"""``--traffic in-cluster``: the pod-kill claim judged from a ledger sent by pods inside the cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.provider import LocalCluster
from podlife.errors import RateTooHigh
from podlife.observe.incluster import InPod, Route

ROOT = Path(__file__).resolve().parents[2]


def test_pod_kill_check_and_control_with_traffic_from_pods(local_cluster: LocalCluster) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/test_lc01_pod_kill.py", "--traffic", "in-cluster",
         "-p", "no:cacheprovider", "-p", "no:podlife-summary", "-o", "addopts="],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "2 passed" in output, output[-3000:]
    assert "traffic from a pod in the cluster" in output


def test_an_engine_pod_no_node_could_schedule_is_refused_before_it_is_made(podlife_cluster: ClusterHandle) -> None:
    """The local cluster's nodes allocate this machine's cores: 100,000 req/s would need a pod of 18 cores."""
    route = cast(Route, SimpleNamespace(api=podlife_cluster.api_client()))  # the check reads the nodes, nothing else
    with pytest.raises(RateTooHigh, match=r"need an engine pod requesting 18050m of CPU \(50m and 180 us a request\), more than "
                                          r"any node allocates \(the largest, .*, \d+ cores\): lower the rate"):
        InPod(route, 100_000).check_rate(100_000, 0)
    InPod(route, 100).check_rate(100, 0)
