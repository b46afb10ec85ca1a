"""Prepare the host for the local cluster and take back everything the cluster put on it.

Everything the cluster creates on the host carries a name the project owns (the ``podlife0``
node interface, the ``plcni0`` pod bridge, the ``PODLIFE-FORWARD`` chain) or was created by a
component the cluster ran (``KUBE-*`` and ``CNI-*`` chains, ``cni-*`` network namespaces, the
``kubepods`` cgroups), so teardown removes exactly that and nothing else.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from podlife.errors import PodlifeError

#: Debian package -> a file it installs, used to tell whether it is there.
DEBIAN_PACKAGES = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "/usr/sbin/iptables",
    "nftables": "/usr/sbin/nft",
    "conntrack": "/usr/sbin/conntrack",
    "iproute2": "/usr/sbin/ip",
    "kmod": "/usr/sbin/modprobe",
    "busybox-static": "/bin/busybox",
    "docker-registry": "/usr/bin/docker-registry",
    "curl": "/usr/bin/curl",
    "gcc": "/usr/bin/gcc",
    "libc6-dev": "/usr/lib/x86_64-linux-gnu/libc.a",
}

CNI_BIN_DIR = Path("/usr/lib/cni")
#: Where kube-controller-manager's host-path provisioner creates volumes (fixed upstream).
HOSTPATH_PV_DIR = Path("/tmp/hostpath_pv")
FORWARD_CHAIN = "PODLIFE-FORWARD"
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Network:
    """Addresses of the single node: a port-less interface keeps all cluster traffic on this host."""

    node_interface: str = "podlife0"
    node_ip: str = "10.250.0.1"
    bridge: str = "plcni0"
    pod_cidr: str = "10.244.0.0/24"
    pod_gateway: str = "10.244.0.1"
    service_cidr: str = "10.96.0.0/16"
    apiserver_service_ip: str = "10.96.0.1"
    dns_service_ip: str = "10.96.0.10"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a host command; a failure that matters raises one line naming the command."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise PodlifeError(f"host command failed: {' '.join(cmd)}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return proc


def ensure_packages(progress: Callable[[str], None]) -> None:
    """Install the Debian packages the cluster runs on, once; a no-op when all are present."""
    missing = [pkg for pkg, path in DEBIAN_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise PodlifeError(f"missing Debian packages {' '.join(missing)}; run as root to install them")
    progress(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise PodlifeError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip().splitlines()[-1:]}")


def prepare_kernel() -> None:
    """Load the modules and set the sysctls a bridged pod network with kube-proxy needs."""
    for module in ("overlay", "br_netfilter", "nf_conntrack"):
        sh("modprobe", module, check=False)
    settings = {
        "net/ipv4/ip_forward": "1",
        "net/bridge/bridge-nf-call-iptables": "1",
        "net/bridge/bridge-nf-call-ip6tables": "1",
    }
    for key, value in settings.items():
        path = Path("/proc/sys") / key
        if not path.exists():
            raise PodlifeError(f"kernel lacks {key.replace('/', '.')} (bridge netfilter is required)")
        path.write_text(value)


def link_exists(name: str) -> bool:
    return sh("ip", "link", "show", name, check=False).returncode == 0


def setup_network(net: Network) -> None:
    """Create the node interface and pod bridge, and route the service range onto the bridge.

    The route makes service traffic that kube-proxy has not (yet) translated die on the local
    bridge instead of leaving the machine through the default route.
    """
    if not link_exists(net.node_interface):
        # A bridge without ports stands in for a dummy interface (this kernel has no dummy driver).
        sh("ip", "link", "add", net.node_interface, "type", "bridge")
        sh("ip", "addr", "add", f"{net.node_ip}/32", "dev", net.node_interface)
    sh("ip", "link", "set", net.node_interface, "up")
    if not link_exists(net.bridge):
        sh("ip", "link", "add", net.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{net.pod_gateway}/{net.pod_cidr.split('/')[1]}", "dev", net.bridge)
    sh("ip", "link", "set", net.bridge, "up")
    sh("ip", "route", "replace", net.service_cidr, "dev", net.bridge)
    if sh("iptables", "-w", "-L", FORWARD_CHAIN, "-n", check=False).returncode != 0:
        sh("iptables", "-w", "-N", FORWARD_CHAIN)
        sh("iptables", "-w", "-A", FORWARD_CHAIN, "-i", net.bridge, "-j", "ACCEPT")
        sh("iptables", "-w", "-A", FORWARD_CHAIN, "-o", net.bridge, "-j", "ACCEPT")
        sh("iptables", "-w", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN)


def _owned_chains(save: str) -> list[tuple[str, str]]:
    """(table, chain) for every chain the cluster's components or podlife created."""
    table, found = "", []
    for line in save.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif m := re.match(r":((?:KUBE|CNI)-\S+|PODLIFE-\S+) ", line):
            found.append((table, m.group(1)))
    return found


def leftover_chains() -> list[str]:
    """The owned iptables chains still present; empty after a clean teardown."""
    return [f"{table}/{chain}" for table, chain in _owned_chains(sh("iptables-save").stdout)]


def teardown_network(net: Network) -> None:
    """Remove interfaces, routes, owned chains (rules jumping to them first), and pod netns."""
    for table, chain in _owned_chains(sh("iptables-save").stdout):
        rules = sh("iptables-save", "-t", table).stdout
        for rule in rules.splitlines():
            if rule.startswith("-A ") and rule.endswith(f"-j {chain}") and not rule.split()[1].startswith(("KUBE-", "CNI-", "PODLIFE-")):
                sh("iptables", "-w", "-t", table, "-D", *shlex.split(rule)[1:], check=False)
    owned = _owned_chains(sh("iptables-save").stdout)
    for table, chain in owned:
        sh("iptables", "-w", "-t", table, "-F", chain, check=False)
    for table, chain in owned:
        sh("iptables", "-w", "-t", table, "-X", chain, check=False)
    for name in (net.bridge, net.node_interface):
        if link_exists(name):
            sh("ip", "link", "del", name, check=False)
    sh("ip", "route", "del", net.service_cidr, check=False)
    for ns in Path("/run/netns").glob("cni-*"):
        sh("umount", str(ns), check=False)
        ns.unlink(missing_ok=True)


def mounts_under(*roots: Path) -> list[str]:
    """Mount points below any of ``roots``, deepest first, so they can be unmounted in order."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_all(*roots: Path) -> None:
    for point in mounts_under(*roots):
        sh("umount", "-l", point, check=False)


def pod_cgroups() -> list[Path]:
    """Every ``kubepods`` cgroup directory, in every v1 hierarchy and the unified one."""
    return sorted(
        (p for p in CGROUP_ROOT.glob("*/kubepods*") if p.is_dir()),
        key=lambda p: len(p.parts),
    )


def _cgroup_dirs(base: Path) -> list[Path]:
    """``base`` and every cgroup below it, deepest first; cgroups vanishing meanwhile are skipped."""
    found = [Path(top) / d for top, dirs, _ in os.walk(base) for d in dirs]
    return sorted(found, key=lambda p: len(p.parts), reverse=True) + [base]


def pod_pids() -> set[int]:
    """Every process in a pod cgroup: containers, their children, and the pause processes."""
    pids: set[int] = set()
    for base in pod_cgroups():
        for directory in _cgroup_dirs(base):
            try:
                pids |= {int(pid) for pid in (directory / "cgroup.procs").read_text().split()}
            except OSError:
                continue
    return pids


def kill_pod_processes() -> None:
    """SIGKILL whatever still runs in a pod cgroup (containers outliving a stopped kubelet)."""
    for pid in pod_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def remove_pod_cgroups() -> None:
    """Remove the kubepods trees bottom-up (rmdir is how cgroups are deleted)."""
    for base in pod_cgroups():
        for directory in _cgroup_dirs(base):
            try:
                directory.rmdir()
            except OSError:
                pass


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def shim_pids(containerd_socket: Path) -> list[int]:
    """containerd shims serving the given containerd: they outlive it by design."""
    needle = str(containerd_socket).encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and needle in cmdline:
            pids.append(int(proc.name))
    return pids
