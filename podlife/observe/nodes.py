"""What the cluster says about its nodes: the lifecycle timers in force, readiness, heartbeats, taints.

The timers are read from the cluster under test, not assumed: the node monitor grace period
from the controller-manager's command line, the default tolerations of the unreachable and
not-ready taints from the API server's (the local cluster's processes, or the static pods of a
kubeadm or kind control plane). Where neither is visible (a managed control plane), the
upstream defaults are used and the source says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.served import name_of, present

#: Upstream defaults (kube-controller-manager's nodelifecycle defaults, the DefaultTolerationSeconds
#: admission plugin): used only where the cluster's own flags cannot be read.
DEFAULT_MONITOR_GRACE, DEFAULT_TOLERATION = 50.0, 300.0
#: How often the node lifecycle controller looks at nodes (its default ``--node-monitor-period``):
#: a node is marked at most this long after its grace period ran out.
MONITOR_PERIOD = 5.0
GRACE_FLAG = "--node-monitor-grace-period"
TOLERATION_FLAGS = ("--default-unreachable-toleration-seconds", "--default-not-ready-toleration-seconds")


@dataclass(frozen=True)
class NodeTimers:
    """The timers a lost node's story runs on, in seconds, and where they were read."""

    monitor_grace: float
    unreachable_toleration: float
    not_ready_toleration: float
    source: str


def go_duration(text: str) -> float:
    """Seconds in a Go duration (``40s``, ``1m0s``, ``500ms``); a bare number is seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def flag(args: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in a command line; the last one wins, as in Go's flag package."""
    found = None
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            found = arg.split("=", 1)[1]
        elif arg == name and i + 1 < len(args):
            found = args[i + 1]
    return found


def timers_from(controller_manager: list[str] | None, apiserver: list[str] | None, where: str) -> NodeTimers:
    """The timers the two command lines set (their defaults where a flag is absent); None lines are unknown."""
    if controller_manager is None or apiserver is None:
        return NodeTimers(DEFAULT_MONITOR_GRACE, DEFAULT_TOLERATION, DEFAULT_TOLERATION,
                          "upstream defaults: the control plane's command lines are not visible here")
    grace = flag(controller_manager, GRACE_FLAG)
    unreachable, not_ready = (flag(apiserver, f) for f in TOLERATION_FLAGS)
    return NodeTimers(
        go_duration(grace) if grace else DEFAULT_MONITOR_GRACE,
        float(unreachable) if unreachable else DEFAULT_TOLERATION,
        float(not_ready) if not_ready else DEFAULT_TOLERATION,
        f"read from {where}",
    )


def read_timers(api: client.ApiClient, cluster: ClusterHandle) -> NodeTimers:
    """The node lifecycle timers of the cluster under test."""
    if cluster.on_this_host:
        from podlife.cluster.local.provider import LocalCluster

        running = LocalCluster().supervisor.running()
        lines = [_cmdline(running.get(name)) for name in ("kube-controller-manager", "kube-apiserver")]
        return timers_from(lines[0], lines[1], "the local cluster's kube-controller-manager and kube-apiserver command lines")
    return timers_from(_static_pod_command(api, "kube-controller-manager"), _static_pod_command(api, "kube-apiserver"),
                       "the control plane's static pods in kube-system")


def _cmdline(pid: int | None) -> list[str] | None:
    if pid is None:
        return None
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return None


def _static_pod_command(api: client.ApiClient, component: str) -> list[str] | None:
    """The command line of a kubeadm-style static pod (label ``component=<name>``), if the runner may read it."""
    try:
        pods = client.CoreV1Api(api).list_namespaced_pod("kube-system", label_selector=f"component={component}").items
    except client.ApiException:
        return None
    for pod in pods:
        for container in present(pod.spec, "spec of a pod").containers:
            if container.name == component:
                return [*(container.command or []), *(container.args or [])]
    return None


# -- node facts -------------------------------------------------------------------------------------


def ready_condition(api: client.ApiClient, node: str) -> tuple[str, float]:
    """The node's Ready condition: its status (``True``, ``False``, ``Unknown``) and when it last changed."""
    status = present(client.CoreV1Api(api).read_node(node).status, f"status of node {node}")
    for condition in status.conditions or []:
        if condition.type == "Ready":
            return str(condition.status), _epoch(condition.last_transition_time)
    return "Unknown", 0.0


def last_heartbeat(api: client.ApiClient, node: str) -> float:
    """When the node's kubelet last renewed its Lease (microsecond precision): its last sign of life."""
    lease = client.CoordinationV1Api(api).read_namespaced_lease(node, "kube-node-lease")
    return _epoch(present(lease.spec, f"spec of node {node}'s lease").renew_time)


def taint_added(api: client.ApiClient, node: str, key: str, effect: str = "NoExecute") -> float | None:
    """When the taint ``key:effect`` was put on the node; None while it is not there."""
    for taint in _spec(api, node).taints or []:
        if taint.key == key and taint.effect == effect:
            return _epoch(taint.time_added) if taint.time_added else None
    return None


def nodes(api: client.ApiClient) -> list[str]:
    return sorted(name_of(n) for n in client.CoreV1Api(api).list_node().items)


def _spec(api: client.ApiClient, node: str) -> client.V1NodeSpec:
    return present(client.CoreV1Api(api).read_node(node).spec, f"spec of node {node}")


def _epoch(when: dt.datetime | None) -> float:
    return when.timestamp() if when else 0.0
