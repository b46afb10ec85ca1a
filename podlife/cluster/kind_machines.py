"""A kind cluster's nodes as machines: each node is a container of the engine kind runs on.

kind names every node's container after the node, and runs the kubelet under systemd inside it.
So, through the container engine (``docker``, or ``podman`` where kind's
``KIND_EXPERIMENTAL_PROVIDER`` says so):

- **power off** is ``kill`` (SIGKILL to the node's init: every process of the node goes at
  once), **power on** is ``start``;
- **kubelet stop** is ``systemctl stop kubelet`` inside the node, **start** its ``start``;
- **partition** drops, inside the node, every packet from and to the control-plane node's
  address in the raw table (open connections included) and after address translation in
  FORWARD, as the local cluster's partition does; **heal** deletes those rules and resets the
  node's stalled connections to the control plane.

Only workers can be disrupted: the control-plane node carries the API server.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable

from podlife.errors import HarnessError, PodlifeError

#: The rules a partition puts in a node (table, hook): the same places the local cluster's use.
PARTITION_RULES = (("raw", "PREROUTING", "-s"), ("raw", "OUTPUT", "-d"), ("filter", "FORWARD", "-d"), ("filter", "FORWARD", "-s"))

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True)


def engine() -> str:
    """The container engine kind uses: ``podman`` where ``KIND_EXPERIMENTAL_PROVIDER`` says so, else ``docker``."""
    return "podman" if os.environ.get("KIND_EXPERIMENTAL_PROVIDER", "").startswith("podman") else "docker"


class KindMachines:
    """Power, kubelet and network of a kind cluster's workers, through the container engine."""

    def __init__(self, cluster: str, workers: tuple[str, ...], run: Runner = _run, container_engine: str | None = None) -> None:
        self.cluster, self.workers, self.run = cluster, workers, run
        self.engine = container_engine or engine()

    def _do(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.run([self.engine, *args])
        if check and proc.returncode != 0:
            raise HarnessError(f"{self.engine} {' '.join(args[:3])} failed: {proc.stderr.strip()[:300]}")
        return proc

    def node(self, name: str) -> str:
        if name not in self.workers:
            raise PodlifeError(f"{name} is not a worker of kind cluster {self.cluster!r}: only workers can be stopped or cut off")
        return name

    def power_off(self, name: str) -> None:
        self._do("kill", self.node(name))

    def power_on(self, name: str) -> None:
        self._do("start", self.node(name))

    def stop_kubelet(self, name: str) -> None:
        self._do("exec", self.node(name), "systemctl", "stop", "kubelet")

    def start_kubelet(self, name: str) -> None:
        self._do("exec", self.node(name), "systemctl", "start", "kubelet")

    def control_plane_address(self) -> str:
        """The control-plane node's address on kind's network, where the workers' kubelets reach the API server."""
        proc = self._do("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                        f"{self.cluster}-control-plane")
        address = proc.stdout.split()
        if not address:
            raise HarnessError(f"{self.engine} inspect found no address of {self.cluster}-control-plane")
        return address[0]

    def partition(self, name: str) -> None:
        node, address = self.node(name), self.control_plane_address()
        for table, hook, direction in PARTITION_RULES:
            self._do("exec", node, "iptables", "-w", "-t", table, "-I", hook, "1", direction, address, "-j", "DROP")

    def heal(self, name: str) -> None:
        node, address = self.node(name), self.control_plane_address()
        for table, hook, direction in PARTITION_RULES:
            while self._do("exec", node, "iptables", "-w", "-t", table, "-D", hook, direction, address, "-j", "DROP",
                           check=False).returncode == 0:
                pass
        self._do("exec", node, "ss", "-K", "-tn", "dst", address, check=False)
