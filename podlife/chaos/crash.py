"""Crashing a container from its node: the process dies at once, as in a segfault or an OOM kill.

Nothing inside the pod can do this to an arbitrary app: a SIGKILL sent to PID 1 from its own
PID namespace (``kubectl exec``, an ephemeral container) is ignored, and many images have no
shell. The node's container runtime can, so this needs the harness on the node: the local
cluster, whose containerd ``ctr`` reaches.
"""

from __future__ import annotations

import subprocess

from kubernetes import client

from podlife.errors import ExecFailed
from podlife.served import pod_status


def running_container(api: client.ApiClient, namespace: str, pod: str, container: str) -> str | None:
    """The runtime's id of ``container`` of ``pod`` while it runs (None while it waits or is gone)."""
    status = pod_status(client.CoreV1Api(api).read_namespaced_pod(pod, namespace))
    for cs in status.container_statuses or []:
        if cs.name == container and cs.state and cs.state.running and cs.container_id:
            return str(cs.container_id).split("://", 1)[-1]
    return None


def kill_container(ctr: list[str], container_id: str) -> None:
    """SIGKILL the container's task through the node's containerd (``ctr`` names it, in the kubelet's namespace)."""
    proc = subprocess.run([*ctr, "tasks", "kill", "--signal", "SIGKILL", container_id], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExecFailed(f"could not kill container {container_id[:12]}: {proc.stderr.strip()[:300]}")
