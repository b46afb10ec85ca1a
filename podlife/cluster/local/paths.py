"""Where the local cluster keeps its build cache and its running state.

The cache (Go wrapper modules, binaries, image archives) is per Kubernetes version and lives
outside the repository so that a fresh clone reuses it; the state directory holds one running
cluster: configuration, certificates, data, and every component's log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from podlife.cluster.local.host import Node

CACHE_ENV = "PODLIFE_CACHE"
STATE_ENV = "PODLIFE_STATE"


def cache_root() -> Path:
    """The build cache: ``$PODLIFE_CACHE`` or ``~/.cache/podlife``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "podlife")


def state_root() -> Path:
    """The running cluster's directory: ``$PODLIFE_STATE`` or ``/var/lib/podlife``."""
    return Path(os.environ.get(STATE_ENV) or "/var/lib/podlife")


@dataclass(frozen=True)
class StateLayout:
    """Named places inside the state directory, so no module spells a path twice."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig handed to users and to the test harness."""
        return self.root / "kubeconfig"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    def node(self, node: Node) -> "NodeLayout":
        """Where ``node`` keeps its runtime and kubelet: the first node (on the host) in the state directory itself."""
        first = node.netns is None
        return NodeLayout(self.root if first else self.root / "nodes" / node.name, node.name, first)

    @property
    def registry_data(self) -> Path:
        return self.root / "registry"

    @property
    def lock(self) -> Path:
        """Held by whoever starts or stops the cluster (see ``locks.exclusive``)."""
        return self.root / "lock"

    @property
    def leases(self) -> Path:
        """One file per process attached to the running cluster (see ``locks.Leases``)."""
        return self.root / "leases"

    @property
    def host_baseline(self) -> Path:
        """The host's sysctls as ``up`` found them, for ``down`` to restore."""
        return self.root / "host-baseline.json"

    @property
    def cluster_file(self) -> Path:
        """What ``up`` started: version, addresses and options, read by ``status``."""
        return self.root / "cluster.json"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pidfile(self, component: str) -> Path:
        return self.pids / f"{component}.pid"


@dataclass(frozen=True)
class NodeLayout:
    """One node's places: its containerd, kubelet, pod network data, pod logs and configuration.

    Nodes share the host's filesystem, so each keeps its own directories (a kubelet removes the
    log directories of pods it does not know); the first node's stay where a single-node
    cluster always kept them. Its components are named plainly, every other node's ``name@node``.
    """

    root: Path
    name: str
    first: bool

    def component(self, base: str) -> str:
        """The supervisor's name of this node's ``base`` component (``kubelet``, ``containerd``, ``kube-proxy``)."""
        return base if self.first else f"{base}@{self.name}"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni_data(self) -> Path:
        return self.root / "cni"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"
