"""The local cluster's nodes as machines: the power switch, the kubelet's service, the network cable.

Only nodes other than the first can be disrupted: the first shares the host (its address, its
network stack) with the control plane, so cutting it off or powering it off would take the
control plane with it, as it would on a single-machine cluster anywhere.

- **Power off** kills, without warning, everything the node runs: kube-proxy, the kubelet, every
  container and pause process of its pods (found by the node's cgroup root), containerd and its
  shims; then drops what a reboot loses (the runtime's state directory, the pods' mounts and
  network namespaces, their cgroups). Images and the kubelet's directory stay, as on a disk.
  **Power on** starts containerd, the kubelet and kube-proxy again.
- **Kubelet stop** stops only the kubelet, as ``systemctl stop kubelet`` does: containers keep
  running, the node stops reporting.
- **Partition** drops, inside the node's network namespace, every packet from the control
  plane's address and every packet to it, before connection tracking (the raw table) and after
  address translation (the filter table's FORWARD, for pods reaching the API server through its
  Service), so connections already open die with new ones. **Heal** removes those rules and
  resets the node's own connections to the control plane, which the partition left stalled in
  TCP's retransmission back-off (up to half a minute before they would notice the way is open
  again), so the node reports within seconds. The node's pods still reach pods on other nodes,
  as on a real network where only the link to the control plane failed.

Everything here lives in the node's namespace or below the state directory, so ``down`` takes
it back even after a test died mid-partition (deleting the namespace deletes its rules).
"""

from __future__ import annotations

import os
import signal
import time

from podlife.cluster.local import host
from podlife.cluster.local.build import Builder
from podlife.cluster.local.components import ClusterConfig, Settings, pod_cgroup_root
from podlife.cluster.local.pki import Pki
from podlife.cluster.local.provider import LocalCluster
from podlife.cluster.local.supervisor import Component
from podlife.errors import HarnessError, PodlifeError

#: The chain in the node's raw and filter tables that holds a partition's rules.
PARTITION_CHAIN = "PODLIFE-PARTITION"
#: Where the partition chain is jumped to from, in each table, and the match the jump carries.
PARTITION_HOOKS = {"raw": ("PREROUTING", "OUTPUT"), "filter": ("FORWARD",)}
#: How long a component gets to stop before it is killed when the node is shut down cleanly (kubelet stop).
STOP_GRACE = 10.0


class NodeMachines:
    """Power, kubelet and network of the local cluster's nodes (not the first)."""

    def __init__(self, cluster: LocalCluster | None = None) -> None:
        self.cluster = cluster or LocalCluster()

    def node(self, name: str) -> host.Node:
        """The node ``name``, refused in one line if it is the first (it carries the control plane)."""
        node = self.cluster.node_named(name)
        if node.netns is None:
            raise PodlifeError(f"{name} shares the host with the control plane: only the other nodes can be stopped or cut off")
        return node

    def _components(self, node: host.Node) -> list[Component]:
        """The node's containerd, kubelet and kube-proxy as ``up`` started them."""
        record = self.cluster.recorded()
        if record is None:
            raise HarnessError("the local cluster is not up")
        settings = Settings.from_record(record["settings"])
        release = Builder(settings.version).cached()
        if release is None:
            raise HarnessError(f"the build of {settings.version} the running cluster came from is gone")
        config = ClusterConfig(self.cluster.layout, release, Pki(self.cluster.layout.pki), self.cluster.net, settings)
        return config.node_components(node)

    # -- power ------------------------------------------------------------------------------------

    def power_off(self, name: str) -> None:
        """Kill everything the node runs at once and drop what a reboot loses."""
        node = self.node(name)
        layout = self.cluster.layout.node(node)
        supervisor = self.cluster.supervisor
        for base in ("kube-proxy", "kubelet"):
            supervisor.stop(layout.component(base), grace=0)
        cgroup = pod_cgroup_root(node).strip("/")
        _kill(host.pod_pids(cgroup))
        supervisor.stop(layout.component("containerd"), grace=0)
        _kill(host.shim_pids(layout.containerd_socket))
        host.unmount_all(layout.containerd_state, layout.kubelet_root)
        host.remove_path(layout.containerd_state)
        host.remove_pod_cgroups(cgroup)
        host.create_pod_cgroup_root(pod_cgroup_root(node))

    def power_on(self, name: str) -> None:
        """Start the node's containerd, kubelet and kube-proxy again (each waited for, as ``up`` does)."""
        for component in self._components(self.node(name)):
            self.cluster.supervisor.start(component)

    def powered(self, name: str) -> bool:
        layout = self.cluster.layout.node(self.node(name))
        return self.cluster.supervisor.pid(layout.component("containerd")) is not None

    # -- the kubelet ------------------------------------------------------------------------------

    def stop_kubelet(self, name: str) -> None:
        """Stop the node's kubelet the way its service manager would; containers keep running."""
        layout = self.cluster.layout.node(self.node(name))
        self.cluster.supervisor.stop(layout.component("kubelet"), grace=STOP_GRACE)

    def start_kubelet(self, name: str) -> None:
        node = self.node(name)
        kubelet = self.cluster.layout.node(node).component("kubelet")
        self.cluster.supervisor.start(next(c for c in self._components(node) if c.name == kubelet))

    # -- the network ------------------------------------------------------------------------------

    def partition(self, name: str) -> None:
        """Cut the node off from the control plane in both directions, open connections included."""
        node = self.node(name)
        if self.partitioned(name):
            return
        address = self.cluster.net.node_ip
        for table, hooks in PARTITION_HOOKS.items():
            self._iptables(node, "-t", table, "-N", PARTITION_CHAIN)
            self._iptables(node, "-t", table, "-A", PARTITION_CHAIN, "-s", address, "-j", "DROP")
            self._iptables(node, "-t", table, "-A", PARTITION_CHAIN, "-d", address, "-j", "DROP")
            for hook in hooks:
                self._iptables(node, "-t", table, "-I", hook, "1", "-j", PARTITION_CHAIN)

    def heal(self, name: str) -> None:
        """Remove the partition's rules and reset the node's stalled connections (nothing to do on a node not cut off)."""
        node = self.node(name)
        if not self.partitioned(name):
            return
        for table, hooks in PARTITION_HOOKS.items():
            for hook in hooks:
                while self._iptables(node, "-t", table, "-D", hook, "-j", PARTITION_CHAIN, check=False):
                    pass
            self._iptables(node, "-t", table, "-F", PARTITION_CHAIN, check=False)
            self._iptables(node, "-t", table, "-X", PARTITION_CHAIN, check=False)
        host.sh(*node.enter(), "ss", "-K", "-tn", "dst", self.cluster.net.node_ip, check=False)

    def partitioned(self, name: str) -> bool:
        return self._iptables(self.node(name), "-t", "raw", "-L", PARTITION_CHAIN, "-n", check=False)

    def _iptables(self, node: host.Node, *args: str, check: bool = True) -> bool:
        return host.sh(*node.enter(), "iptables", "-w", *args, check=check).returncode == 0


def _kill(pids: "set[int] | list[int]") -> None:
    """SIGKILL each of ``pids`` that still runs, and wait (briefly) until they are gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
        time.sleep(0.05)
