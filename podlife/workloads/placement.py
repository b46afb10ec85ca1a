"""Where an app's pods may run across nodes, and how much of it may be taken down at once.

Fragments of a pod spec (merged into a builder's ``scheduling``) and the PodDisruptionBudget:
the node scenarios place an app on one node, spread it over all, or let it tolerate a lost
node for a set time, and protect it with a budget, the way users do.
"""

from __future__ import annotations

from typing import Any

#: The label every kubelet puts on its node: the node's name.
HOSTNAME_KEY = "kubernetes.io/hostname"
#: The taints the node lifecycle controller puts on a node it lost (NoExecute evicts after the pod's toleration).
UNREACHABLE_TAINT, NOT_READY_TAINT = "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"


def prefer_node(node: str) -> dict[str, Any]:
    """Start on ``node`` when it can take the pod; anywhere else when it cannot (cordoned, lost)."""
    term = {"matchExpressions": [{"key": HOSTNAME_KEY, "operator": "In", "values": [node]}]}
    return {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": term}]}}}


def only_node(node: str) -> dict[str, Any]:
    """Run on ``node`` and nowhere else."""
    return {"nodeSelector": {HOSTNAME_KEY: node}}


def spread_over_nodes(selector: dict[str, str]) -> dict[str, Any]:
    """At most one more replica on any node than on another (a topology spread constraint per hostname)."""
    return {"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": HOSTNAME_KEY, "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": selector},
    }]}


def tolerate_node_loss(seconds: int) -> dict[str, Any]:
    """Stay bound to a lost node for ``seconds`` before being evicted (instead of the cluster's default)."""
    return {"tolerations": [
        {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
        for taint in (UNREACHABLE_TAINT, NOT_READY_TAINT)
    ]}


def merged(*fragments: dict[str, Any]) -> dict[str, Any]:
    """One pod-spec fragment from several (their keys do not overlap: each fragment sets its own field)."""
    out: dict[str, Any] = {}
    for fragment in fragments:
        out.update(fragment)
    return out


def disruption_budget(name: str, selector: dict[str, str], min_available: int) -> dict[str, Any]:
    """A PodDisruptionBudget: evictions that would leave fewer than ``min_available`` ready pods are refused."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": selector}},
    }
