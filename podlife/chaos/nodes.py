"""Node-level disruptions: a drain, a node powered off, its kubelet stopped, the node cut off.

In production most pods do not die one by one: they go when a node is drained for an upgrade,
when a machine dies, or when it drops off the network. Each recipe here does what that does to
a real node and returns what it hit: the scene's pods bound to the node, and when.

- ``drain`` works on any cluster podlife may disrupt: it cordons the node and evicts every pod
  on it but DaemonSet and mirror pods through the Eviction API, so PodDisruptionBudgets are
  honoured; a refused eviction (429) is retried every second, as ``kubectl drain`` does,
  until the budget allows it. ``method="delete"`` deletes the pods instead (what a budget
  cannot stop; the control of ND-01). ``drained`` uncordons on the way out, whatever happened.
- ``node_lost`` powers a node off, stops its kubelet, or partitions it from the control plane,
  and restores it on the way out (then waits until it is Ready again). Those need the node's
  machine: the local cluster's nodes other than the first. ``confirm_lost`` waits until the
  node lifecycle controller marked the node not Ready, which is when the story of a lost node
  begins; a node that never turns not Ready is a harness problem, never a verdict.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Literal, Protocol

from kubernetes import client

from podlife.cluster.kind_machines import KindMachines
from podlife.cluster.local.machines import NodeMachines
from podlife.errors import HarnessError, NotApplicable, PodlifeError, WaitTimeout
from podlife.observe.clock import now
from podlife.observe.nodes import MONITOR_PERIOD, NodeTimers, last_heartbeat, ready_condition
from podlife.observe.window import Window
from podlife.scene import Scene
from podlife.served import meta, name_of, pod_spec, present
from podlife.waiting import wait_for

#: How a node is lost: its machine powered off, its kubelet stopped, or its link to the control plane cut.
NodeLoss = Literal["power-off", "kubelet-stop", "partition"]
#: How a drain takes the pods off: the Eviction API (budgets honoured) or plain deletes (budgets ignored).
DrainMethod = Literal["evict", "delete"]
#: A ceiling for a drain (each eviction retried until its budget allows it), not a verdict's tolerance.
DRAIN_TIMEOUT = 300.0
#: Seconds between retries of a refused eviction (``kubectl drain`` waits 5 s; 1 s keeps scenarios short).
EVICTION_RETRY = 1.0
#: The taint that tells Kubernetes a node is really shut down, so its pods and volumes may be released.
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
#: A ceiling for a restored node to report Ready again (its kubelet registers and syncs within seconds).
RECOVERY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Eviction:
    """One pod taken off a drained node: when the API accepted it, and how many refusals came first."""

    pod: str
    namespace: str
    uid: str
    at: float
    refusals: int


@dataclass(frozen=True)
class DrainHit:
    """What a drain hit: the node, when it began and ended, each pod taken off, the pods it left alone."""

    node: str
    at: float
    evictions: tuple[Eviction, ...]
    left: tuple[str, ...]
    finished: float

    def pods(self, namespace: str) -> tuple[str, ...]:
        return tuple(e.pod for e in self.evictions if e.namespace == namespace)


@dataclass(frozen=True)
class NodeHit:
    """What losing a node hit: how, which node, when, and the scene's pods bound to it then.

    ``last_heartbeat`` (the node's Lease renewal) and ``not_ready_at`` (its Ready condition's
    transition) are filled in by ``confirm_lost``.
    """

    disruption: NodeLoss
    node: str
    at: float
    pods: tuple[str, ...]
    last_heartbeat: float | None = None
    not_ready_at: float | None = None


# -- which nodes ----------------------------------------------------------------------------------


class Machines(Protocol):
    """A cluster's nodes as machines: what losing a node takes (the local cluster's processes, kind's containers)."""

    def power_off(self, name: str) -> None: ...
    def power_on(self, name: str) -> None: ...
    def stop_kubelet(self, name: str) -> None: ...
    def start_kubelet(self, name: str) -> None: ...
    def partition(self, name: str) -> None: ...
    def heal(self, name: str) -> None: ...


def machines(scene: Scene) -> Machines:
    """The node machines of the local cluster or of kind; ``NotApplicable`` elsewhere (only a drain needs no machine)."""
    if scene.cluster.on_this_host:
        return NodeMachines()
    if scene.cluster.kind_cluster:
        return KindMachines(scene.cluster.kind_cluster, scene.cluster.disruptable_nodes)
    raise NotApplicable("stopping or cutting off a node takes the node's machine: the local cluster's or kind's "
                        "(on an existing cluster only the drain runs)")


def disruptable_nodes(scene: Scene) -> list[str]:
    """The nodes a scenario may drain (and on the local cluster stop or cut off): every node but the first
    of a cluster podlife made, the nodes ``--allow-node-disruption`` names on an existing one."""
    if scene.cluster.node_count is None:
        raise NotApplicable("namespace-scoped mode sees no nodes: the node scenarios need cluster-wide rights")
    if not scene.cluster.disruptable_nodes:
        raise NotApplicable("needs a node it may disrupt: `podlife cluster up --nodes 3` (or pytest --nodes 3); "
                            "on an existing cluster, --allow-node-disruption=NODE")
    return list(scene.cluster.disruptable_nodes)


def pods_on(scene: Scene, node: str, selector: dict[str, str] | None = None) -> tuple[str, ...]:
    """The scene's pods (matching ``selector``) bound to ``node`` now."""
    return tuple(sorted(name_of(p) for p in scene.pods(selector or {}) if pod_spec(p).node_name == node))


# -- drain ----------------------------------------------------------------------------------------


def cordon(scene: Scene, node: str, unschedulable: bool = True) -> None:
    scene.core.patch_node(node, {"spec": {"unschedulable": unschedulable}})


@contextmanager
def drained(scene: Scene, node: str, window: Window | None = None, method: DrainMethod = "evict") -> Iterator[DrainHit]:
    """Drain ``node`` (see ``drain``) and uncordon it on the way out, also when the test failed."""
    try:
        yield drain(scene, node, window, method)
    finally:
        cordon(scene, node, unschedulable=False)


def drain(scene: Scene, node: str, window: Window | None = None, method: DrainMethod = "evict") -> DrainHit:
    """Cordon ``node`` and take every pod off it but DaemonSet and mirror pods; wait until they are gone.

    Pods are evicted (or deleted) all at once, each retried on its own while its budget refuses,
    as ``kubectl drain`` does; the landmarks ``drain`` and ``drained`` go on the window's clock.
    """
    started = window.mark("drain") if window else now()
    cordon(scene, node)
    on_node = scene.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    left = tuple(name_of(p) for p in on_node if _left_alone(p))
    targets = [p for p in on_node if not _left_alone(p) and not meta(p).deletion_timestamp]
    deadline = time.monotonic() + DRAIN_TIMEOUT
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        evictions = tuple(pool.map(lambda p: _take_off(scene, p, method, deadline), targets))
    for taken in evictions:
        wait_for(lambda: _gone(scene, taken), max(1.0, deadline - time.monotonic()), f"{taken.pod} to leave {node}")
    finished = window.mark("drained") if window else now()
    return DrainHit(node, started, evictions, left, finished)


def _left_alone(pod: client.V1Pod) -> bool:
    """DaemonSet pods (their controller would put them back) and mirror pods (the kubelet's own) stay, as with kubectl."""
    owners = meta(pod).owner_references or []
    mirror = "kubernetes.io/config.mirror" in (meta(pod).annotations or {})
    return mirror or any(o.kind == "DaemonSet" for o in owners)


def _take_off(scene: Scene, pod: client.V1Pod, method: DrainMethod, deadline: float) -> Eviction:
    name, refusals = name_of(pod), 0
    namespace, uid = present(meta(pod).namespace, "namespace of a pod"), present(meta(pod).uid, "uid of a pod")
    if method == "delete":
        scene.core.delete_namespaced_pod(name, namespace)
        return Eviction(name, namespace, uid, now(), 0)
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
    while True:
        try:
            scene.core.create_namespaced_pod_eviction(name, namespace, body)
            return Eviction(name, namespace, uid, now(), refusals)
        except client.ApiException as err:
            if err.status == 404:
                return Eviction(name, namespace, uid, now(), refusals)
            if err.status != 429:
                raise
            refusals += 1
            if time.monotonic() > deadline:
                raise HarnessError(f"the drain could not evict {namespace}/{name} within {DRAIN_TIMEOUT:.0f}s: "
                                   f"its disruption budget refused {refusals} times") from None
            time.sleep(EVICTION_RETRY)


def _gone(scene: Scene, eviction: Eviction) -> bool:
    """The pod taken off is gone (a StatefulSet member back under the same name is another pod: another UID)."""
    pods = scene.core.list_namespaced_pod(eviction.namespace, field_selector=f"metadata.name={eviction.pod}").items
    return all(meta(p).uid != eviction.uid for p in pods)


# -- losing a node --------------------------------------------------------------------------------


@contextmanager
def node_lost(scene: Scene, node: str, how: NodeLoss, window: Window | None = None) -> Iterator[NodeHit]:
    """Lose ``node`` the way ``how`` says; restore it on the way out and wait until it is Ready again."""
    machine = machines(scene)
    pods = pods_on(scene, node)
    cut, restore = {
        "power-off": (machine.power_off, machine.power_on),
        "kubelet-stop": (machine.stop_kubelet, machine.start_kubelet),
        "partition": (machine.partition, machine.heal),
    }[how]
    at = window.mark(how) if window else now()
    try:
        cut(node)
        yield NodeHit(how, node, at, pods)
    finally:
        try:
            restore(node)
        except PodlifeError as err:  # a component that would not start again: the harness's problem, not the claim's
            raise HarnessError(f"{node} could not be restored after the {how}: {err}") from None
        wait_for(lambda: ready_condition(scene.api, node)[0] == "True", RECOVERY_TIMEOUT, f"{node} to be Ready again")


def confirm_lost(scene: Scene, hit: NodeHit, timers: NodeTimers) -> NodeHit:
    """Wait until the node lifecycle controller marks the node not Ready; the hit with its last heartbeat and that time.

    It must happen within the grace period read from the cluster, plus the controller's period
    and a margin for the API's one-second timestamps; past that the disruption did not take,
    which is the harness's problem, not the claim's.
    """
    limit = timers.monitor_grace + 2 * MONITOR_PERIOD + 10

    def marked() -> float | None:
        status, since = ready_condition(scene.api, hit.node)
        return since if status != "True" and since >= hit.at - 1 else None

    try:
        not_ready_at = wait_for(marked, limit, f"{hit.node} to be marked not Ready after the {hit.disruption}")
    except WaitTimeout:
        raise HarnessError(f"{hit.node} was still Ready {limit:.0f}s after the {hit.disruption}: the disruption did not take") from None
    return replace(hit, last_heartbeat=last_heartbeat(scene.api, hit.node), not_ready_at=not_ready_at)


@contextmanager
def out_of_service(scene: Scene, node: str) -> Iterator[float]:
    """Taint a stopped node ``out-of-service:NoExecute`` (non-graceful shutdown); yield when; remove the taint on the way out.

    The pod garbage collector then force-deletes the node's terminating pods and their volumes
    are released: the documented safe way to move a StatefulSet member off a dead node. Only for
    a node that is really stopped: on a node still running, its pods would run on unseen.
    """
    taint = {"key": OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}
    has_taints = bool(_node_spec(scene, node).taints)
    scene.core.patch_node(node, [{"op": "add", "path": "/spec/taints/-" if has_taints else "/spec/taints",
                                  "value": taint if has_taints else [taint]}])
    try:
        yield now()
    finally:
        for index, present_taint in enumerate(_node_spec(scene, node).taints or []):
            if present_taint.key == OUT_OF_SERVICE:
                scene.core.patch_node(node, [{"op": "test", "path": f"/spec/taints/{index}/key", "value": OUT_OF_SERVICE},
                                             {"op": "remove", "path": f"/spec/taints/{index}"}])
                break


def _node_spec(scene: Scene, node: str) -> client.V1NodeSpec:
    return present(scene.core.read_node(node).spec, f"spec of node {node}")
