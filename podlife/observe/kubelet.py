"""What a node's kubelet is configured to do, read from its ``/configz`` through the API server.

Clusters differ in the timers scenarios measure (crash-loop back-off above all), so the
expectation comes from the kubelet that runs the pod, not from a constant. Reading configz
needs ``nodes/proxy``; without it the upstream defaults are assumed and the scenario says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from podlife.errors import HarnessError
from podlife.kube import unread

#: Upstream defaults (kubelet.go: initialCrashLoopBackOff, MaxContainerBackOff; syncFrequency).
DEFAULT_INITIAL, DEFAULT_CAP, DEFAULT_SYNC = 10.0, 300.0, 60.0
#: With the ReduceDefaultCrashLoopBackOffDecay feature gate (alpha since 1.33).
REDUCED_INITIAL, REDUCED_CAP = 1.0, 60.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(duration: str) -> float:
    """A Go duration string (``5m0s``, ``1m30s``, ``500ms``) in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != duration:
        raise ValueError(f"not a Go duration: {duration!r}")
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True)
class BackoffPolicy:
    """Crash-loop back-off: restart 1 is immediate, restart n waits ``initial * factor**(n-2)``, at most ``cap``."""

    initial: float = DEFAULT_INITIAL
    factor: float = 2.0
    cap: float = DEFAULT_CAP
    #: The kubelet's resync interval: no requeue of a pod in back-off waits longer (see verdicts.backoff).
    sync: float = DEFAULT_SYNC
    source: str = "upstream defaults"

    def delay(self, restart: int) -> float:
        return 0.0 if restart == 1 else min(self.initial * self.factor ** (restart - 2), self.cap)

    def restarts_until_cap(self) -> int:
        """The first restart whose delay is the cap."""
        restart = 2
        while self.delay(restart) < self.cap:
            restart += 1
        return restart


def backoff_policy(config: dict[str, Any], source: str) -> BackoffPolicy:
    """The policy a kubelet with this configuration applies (mirrors the kubelet's own precedence)."""
    gates = config.get("featureGates") or {}
    initial, cap = (REDUCED_INITIAL, REDUCED_CAP) if gates.get("ReduceDefaultCrashLoopBackOffDecay") else (DEFAULT_INITIAL, DEFAULT_CAP)
    configured = (config.get("crashLoopBackOff") or {}).get("maxContainerRestartPeriod")
    if configured and gates.get("KubeletCrashLoopBackOffMax", True):
        cap = seconds(configured)
        initial = min(initial, cap)
    return BackoffPolicy(initial=initial, cap=cap, sync=seconds(config.get("syncFrequency", "1m0s")), source=source)


def node_configz(api: client.ApiClient, node: str) -> dict[str, Any]:
    response = unread(client.CoreV1Api(api).connect_get_node_proxy_with_path(node, "configz", _preload_content=False))
    return json.loads(response.data)["kubeletconfig"]


def unreadable(err: Exception) -> str:
    """Why configz could not be read: the API server's reason, else the kind of failure."""
    return getattr(err, "reason", None) or type(err).__name__


def expected_backoff(api: client.ApiClient, node: str) -> BackoffPolicy:
    """The back-off policy of ``node``'s kubelet, or the upstream defaults when configz cannot be read."""
    try:
        return backoff_policy(node_configz(api, node), f"kubelet configz of {node}")
    except (client.ApiException, KeyError, ValueError) as err:
        return BackoffPolicy(source=f"upstream defaults (configz of {node} unreadable: {unreadable(err)})")


#: The kubelet's default ``podLogsDir``.
DEFAULT_POD_LOGS_DIR = "/var/log/pods"


def pod_logs_dir(api: client.ApiClient, node: str) -> str:
    """Where ``node``'s kubelet writes container logs, which a node-level log collector reads from the host.

    The local cluster keeps them in its state directory; a kubelet whose configz cannot be read
    leaves the question open, which is a harness problem, not an answer.
    """
    try:
        return str(node_configz(api, node).get("podLogsDir") or DEFAULT_POD_LOGS_DIR)
    except (client.ApiException, KeyError, ValueError) as err:
        raise HarnessError(f"cannot tell where the kubelet of {node} writes pod logs: its configz is unreadable "
                           f"({unreadable(err)})") from None
