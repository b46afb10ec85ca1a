"""``--traffic in-cluster``: the pod-kill claim judged from a ledger sent by pods inside the cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from podlife.cluster.local.provider import LocalCluster

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
