"""Crashing a container from its node: the process dies at once, as in a segfault or an OOM kill.

Nothing inside the pod can do this to an arbitrary app: a SIGKILL sent to PID 1 from its own
PID namespace (``kubectl exec``, an ephemeral container) is ignored, and many images have no
shell. The node's container runtime can, so this needs the harness on the node: the local
cluster, whose containerd ``ctr`` reaches. Elsewhere the recipe is ``NotApplicable``.
"""

from __future__ import annotations

import subprocess

from kubernetes import client

from podlife.cluster.local.provider import LocalCluster
from podlife.errors import ExecFailed, NotApplicable
from podlife.scene import Scene
from podlife.served import pod_status
from podlife.waiting import wait_for


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


def node_runtime(scene: Scene, pod: str | None = None) -> list[str]:
    """The ``ctr`` command of the node ``pod`` runs on (any node's when None, to ask whether there is one);
    ``NotApplicable`` where the harness is not on the nodes."""
    if not scene.cluster.on_this_host:
        raise NotApplicable("crashing a container takes the node's container runtime: the local cluster only")
    cluster = LocalCluster()
    return cluster.ctr_command(cluster.node_named(scene.node_of(pod)) if pod else None)


def crash(scene: Scene, pod: str, container: str, killed: set[str], timeout: float) -> str:
    """Wait until ``container`` of ``pod`` runs as a process not yet in ``killed``, kill it, and return its id.

    The id joins ``killed``, so repeated crashes each hit the next run of the container, never
    the same one twice.
    """
    ctr = node_runtime(scene, pod)

    def next_run() -> str | None:
        found = running_container(scene.api, scene.namespace, pod, container)
        return found if found not in killed else None

    running = wait_for(next_run, timeout, f"{container} of {pod} to run again")
    kill_container(ctr, running)
    killed.add(running)
    return running


def crash_all(scene: Scene, pods: list[str], container: str) -> list[str]:
    """Kill ``container`` in each of ``pods`` where it runs now; the ids of those killed."""
    hit = []
    for pod in pods:
        running = running_container(scene.api, scene.namespace, pod, container)
        if running:
            kill_container(node_runtime(scene, pod), running)
            hit.append(running)
    return hit
