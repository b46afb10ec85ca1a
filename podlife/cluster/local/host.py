"""Prepare the host for the local cluster and take back everything the cluster put on it.

Everything the cluster creates on the host carries a name the project owns (the ``podlife0``
node interface, the ``plcni0`` pod bridge, the ``PODLIFE-*`` chains, the ``podlife`` cgroup
root that holds every pod) or was created by a component the cluster ran (``KUBE-*`` and
``CNI-*`` chains in iptables and ip6tables; pod network namespaces, which containerd mounts
below the cluster's own state directory), so teardown removes exactly that and nothing else.
``up`` refuses a host whose iptables already holds ``KUBE-*`` chains it did not make: those
names are shared with any other Kubernetes on the machine.

Nothing of the cluster may be reachable from other machines. Components bind the node address
(on a port-less interface) or loopback; the ``PODLIFE-GUARD`` chain in the mangle table, which
packets meet before kube-proxy's NAT and filter rules, drops whatever arrives on another
interface for the node address or the pod network (NodePorts, Service IPs and hostPorts all
end there); ``PODLIFE-LOOPBACK`` lets only root reach the cluster's plain-HTTP loopback ports
(the registry, etcd's peer and metrics ports). The sysctls ``up`` and the components change are
recorded first and restored by ``down``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
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
GUARD_CHAIN = "PODLIFE-GUARD"
LOOPBACK_CHAIN = "PODLIFE-LOOPBACK"
MASQUERADE_CHAIN = "PODLIFE-MASQUERADE"
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The kubelet's ``cgroupRoot``: every pod's cgroup lives below it, in every hierarchy.
POD_CGROUP_ROOT = "podlife"
#: Plain-HTTP (or unauthenticated) ports the cluster's processes open on this host's loopback or
#: the control plane's address (traffic sent here to either leaves through ``lo``): the registry,
#: etcd's peer and metrics ports, the kubelet's healthz and kube-proxy's metrics.
LOOPBACK_PORTS = (5000, 2380, 2381, 10248, 10249)
#: Sysctls that ``up`` (``prepare_kernel``), the CNI bridge plugin (ip_forward), kube-proxy
#: (route_localnet) and the kubelet (its kernel tunables) may change; ``down`` puts them back.
#: ``tests/integration/test_host_isolation.py`` compares every sysctl, so a missing entry shows.
RESTORED_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/conf/all/accept_redirects",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)


#: The first node's name; node k (k > 1) is ``podlife-node-k``.
NODE_NAME = "podlife-node"
#: Where node network namespaces are named (``ip netns`` keeps its bind mounts there).
NETNS_DIR = Path("/run/netns")
#: The address block nodes live on and the /16 each node takes a /24 of for its pods.
NODE_SUBNET, POD_RANGE = "10.250.0", "10.244"


@dataclass(frozen=True)
class Node:
    """One node's place on the cluster's network.

    The first node is the host itself (it shares the control plane's address); every other node
    is a network namespace of its own, joined to the nodes' bridge by a veth pair, so a node can
    be cut off or powered off without touching the others. Each node has a /24 of the pod range
    and a pod bridge of the same name inside its own namespace.
    """

    index: int

    @property
    def name(self) -> str:
        return NODE_NAME if self.index == 1 else f"{NODE_NAME}-{self.index}"

    @property
    def ip(self) -> str:
        return f"{NODE_SUBNET}.{self.index}"

    @property
    def pod_cidr(self) -> str:
        return f"{POD_RANGE}.{self.index - 1}.0/24"

    @property
    def pod_gateway(self) -> str:
        return f"{POD_RANGE}.{self.index - 1}.1"

    @property
    def netns(self) -> str | None:
        """The node's network namespace; None for the first node, which is the host's."""
        return None if self.index == 1 else self.name

    @property
    def link(self) -> str:
        """The host end of the node's veth pair, a port of the nodes' bridge."""
        return f"plnode{self.index}"

    def enter(self) -> list[str]:
        """The command prefix that runs a program in the node's network namespace (nothing for the first node).

        ``nsenter --net`` switches the network namespace only: ``ip netns exec`` would also
        remount /sys, hiding the cgroup tree the kubelet manages pods in.
        """
        return [] if self.netns is None else ["nsenter", f"--net={NETNS_DIR / self.netns}", "--"]


#: More nodes than this leave no room in the /24 the nodes share (and no host has the memory for them).
MAX_NODES = 250


@dataclass(frozen=True)
class Network:
    """The cluster's addresses: a port-less bridge keeps all cluster traffic on this host.

    ``node_interface`` carries the control plane's address (also the first node's) and is the
    bridge every other node's veth pair hangs off.
    """

    node_interface: str = "podlife0"
    node_ip: str = f"{NODE_SUBNET}.1"
    node_prefix: int = 24
    bridge: str = "plcni0"
    pod_cidr: str = f"{POD_RANGE}.0.0/16"
    service_cidr: str = "10.96.0.0/16"
    apiserver_service_ip: str = "10.96.0.1"
    dns_service_ip: str = "10.96.0.10"

    def nodes(self, count: int) -> list[Node]:
        return [Node(index) for index in range(1, count + 1)]


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a host command; a failure that matters raises one line naming the command.

    A tool that is not installed yet (a fresh machine before ``ensure_packages``) fails like a
    command that ran and failed (exit 127, no output): a host without ``iptables`` has no chains
    to find or remove.
    """
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True)
    except FileNotFoundError:
        proc = subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: not installed")
    if check and proc.returncode != 0:
        raise PodlifeError(f"host command failed: {' '.join(cmd)}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return proc


def ensure_private_dir(path: Path, what: str) -> None:
    """Create ``path`` (mode 0700), or accept it only if root owns it and nobody else can write to it.

    The cluster runs binaries and keeps keys from these directories as root: a directory another
    user could write to would let them swap a binary or read a key.
    """
    if path.is_symlink():
        raise PodlifeError(f"{what} {path} is a symbolic link; podlife needs a real directory owned by root")
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        return
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise PodlifeError(
            f"{what} {path} must be a directory owned by root and writable by root only "
            f"(it is owner uid {info.st_uid}, mode {stat.filemode(info.st_mode)})"
        )
    path.chmod(0o700)


def read_sysctls(keys: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for key in keys:
        try:
            values[key] = (Path("/proc/sys") / key).read_text().strip()
        except OSError:
            continue
    return values


def save_baseline(path: Path) -> None:
    """Record the sysctls ``up`` may change, once: a second ``up`` after a crash keeps the first record."""
    if not path.exists():
        path.write_text(json.dumps({"sysctls": read_sysctls(RESTORED_SYSCTLS)}, indent=2))


def restore_baseline(path: Path) -> None:
    """Write back every recorded sysctl that now differs; then forget the record."""
    try:
        recorded = json.loads(path.read_text())["sysctls"]
    except (OSError, ValueError, KeyError):
        return
    current = read_sysctls(tuple(recorded))
    for key, value in recorded.items():
        if current.get(key) != value:
            try:
                (Path("/proc/sys") / key).write_text(value)
            except OSError:
                continue
    path.unlink()


def foreign_kube_chains() -> list[str]:
    """``KUBE-*`` chains present before the cluster starts: another Kubernetes owns them."""
    return [c for c in leftover_chains() if "/KUBE-" in c]


def ensure_packages(progress: Callable[[str], None]) -> None:
    """Install the Debian packages the cluster runs on, once; a no-op when all are present."""
    missing = [pkg for pkg, path in DEBIAN_PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise PodlifeError(f"missing Debian packages {' '.join(missing)}; run as root to install them")
    progress(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # apt waits for its own lock (another install on the machine) instead of failing at once.
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    for cmd in (["apt-get", *wait, "update", "-qq"], ["apt-get", *wait, "install", "-y", "-qq", "--no-install-recommends", *missing]):
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


def setup_network(net: Network, nodes: list[Node]) -> None:
    """Create the nodes' bridge, the first node's pod bridge, every other node's namespace, and the routes.

    The service range is routed onto the pod bridge so that service traffic kube-proxy has not
    (yet) translated dies on this host instead of leaving it through the default route.
    """
    first = nodes[0]
    if not link_exists(net.node_interface):
        # A bridge with no port to the outside: only the nodes' veth pairs ever join it.
        sh("ip", "link", "add", net.node_interface, "type", "bridge")
        sh("ip", "addr", "add", f"{net.node_ip}/{net.node_prefix}", "dev", net.node_interface)
    sh("ip", "link", "set", net.node_interface, "up")
    if not link_exists(net.bridge):
        sh("ip", "link", "add", net.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{first.pod_gateway}/24", "dev", net.bridge)
    sh("ip", "link", "set", net.bridge, "up")
    sh("ip", "route", "replace", net.service_cidr, "dev", net.bridge)
    for node in nodes[1:]:
        _setup_node_namespace(net, node, nodes)
    established = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
    _chain("filter", FORWARD_CHAIN, [
        ["-i", net.bridge, "-j", "ACCEPT"],
        ["-o", net.bridge, *established, "-j", "ACCEPT"],
        ["-i", net.node_interface, "-j", "ACCEPT"],
        ["-o", net.node_interface, *established, "-j", "ACCEPT"],
    ], {"FORWARD": []})
    _chain("mangle", GUARD_CHAIN, [
        ["-i", "lo", "-j", "RETURN"],
        ["-i", net.bridge, "-j", "RETURN"],
        ["-i", net.node_interface, "-j", "RETURN"],
        ["-d", f"{net.node_ip}/{net.node_prefix}", "-j", "DROP"],
        ["-d", net.pod_cidr, "-j", "DROP"],
        ["-d", net.service_cidr, "-j", "DROP"],
    ], {
        "PREROUTING": [],
        # A hostPort is DNAT'ed from any local address to a pod: the forwarded packet is caught here.
        "FORWARD": ["-o", net.bridge, "!", "-i", net.bridge, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED"],
    })
    ports = ",".join(str(p) for p in LOOPBACK_PORTS)
    _chain("filter", LOOPBACK_CHAIN, [
        ["-m", "owner", "--uid-owner", "0", "-j", "RETURN"],
        ["-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "REJECT"],
    ], {"OUTPUT": ["-o", "lo"]})
    # Pods keep their own addresses inside the cluster (the pod bridges do not masquerade), so what
    # leaves the cluster for the host's own networks leaves as the host, as on any node.
    _chain("nat", MASQUERADE_CHAIN, [
        ["-o", net.node_interface, "-j", "RETURN"],
        ["-o", net.bridge, "-j", "RETURN"],
        ["-d", net.pod_cidr, "-j", "RETURN"],
        ["-j", "MASQUERADE"],
    ], {"POSTROUTING": ["-s", net.pod_cidr]})


def _setup_node_namespace(net: Network, node: Node, nodes: list[Node]) -> None:
    """Give ``node`` its namespace, its address on the nodes' bridge, and routes to every other node's pods.

    The host routes the node's pod range to the node's address; inside, the host (the control
    plane) is the default route and the other nodes' pod ranges are reached directly on the bridge.
    """
    assert node.netns is not None
    if not (NETNS_DIR / node.netns).exists():
        sh("ip", "netns", "add", node.netns)
        if link_exists(node.link):  # the host end of an earlier namespace's pair: its peer is not in the new one
            sh("ip", "link", "del", node.link)
    inside = ["ip", "-n", node.netns]
    if not link_exists(node.link):
        sh("ip", "link", "add", node.link, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        sh(*inside, "addr", "add", f"{node.ip}/{net.node_prefix}", "dev", "eth0")
    sh("ip", "link", "set", node.link, "master", net.node_interface, "up")
    sh(*inside, "link", "set", "lo", "up")
    sh(*inside, "link", "set", "eth0", "up")
    sh(*inside, "route", "replace", "default", "via", net.node_ip)
    for other in nodes[1:]:
        if other != node:
            sh(*inside, "route", "replace", other.pod_cidr, "via", other.ip)
    sh("ip", "route", "replace", node.pod_cidr, "via", node.ip)
    for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
        sh(*node.enter(), "sysctl", "-qw", f"{key}=1")


def node_links() -> list[str]:
    """The host ends of nodes' veth pairs still present (empty after a clean teardown)."""
    return sorted(p.name for p in Path("/sys/class/net").glob("plnode*"))


def node_namespaces() -> list[str]:
    """The nodes' network namespaces present on the host (empty after a clean teardown)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"{NODE_NAME}-*")) if NETNS_DIR.exists() else []


def _chain(table: str, chain: str, rules: list[list[str]], hooks: dict[str, list[str]]) -> None:
    """Create ``chain`` with ``rules`` and jump to it first thing in each hook (with that hook's match)."""
    if sh("iptables", "-w", "-t", table, "-L", chain, "-n", check=False).returncode == 0:
        return
    sh("iptables", "-w", "-t", table, "-N", chain)
    for rule in rules:
        sh("iptables", "-w", "-t", table, "-A", chain, *rule)
    for hook, match in hooks.items():
        sh("iptables", "-w", "-t", table, "-I", hook, "1", *match, "-j", chain)


def _owned_chains(save: str) -> list[tuple[str, str]]:
    """(table, chain) for every chain the cluster's components or podlife created."""
    table, found = "", []
    for line in save.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif m := re.match(r":((?:KUBE|CNI)-\S+|PODLIFE-\S+) ", line):
            found.append((table, m.group(1)))
    return found


#: The IPv4 and IPv6 tools: the kubelet and kube-proxy make ``KUBE-*`` chains in both.
IPTABLES = (("iptables", "iptables-save"), ("ip6tables", "ip6tables-save"))


def leftover_chains() -> list[str]:
    """The owned iptables and ip6tables chains still present; empty after a clean teardown."""
    return [
        f"{tool}/{table}/{chain}"
        for tool, save in IPTABLES
        for table, chain in _owned_chains(sh(save, check=False).stdout)
    ]


def _remove_owned_chains(tool: str, save: str) -> None:
    """Delete the rules of built-in chains that jump to owned chains, then flush and delete those."""
    for table, chain in _owned_chains(sh(save, check=False).stdout):
        for rule in sh(save, "-t", table, check=False).stdout.splitlines():
            if rule.startswith("-A ") and rule.endswith(f"-j {chain}") and not rule.split()[1].startswith(("KUBE-", "CNI-", "PODLIFE-")):
                sh(tool, "-w", "-t", table, "-D", *shlex.split(rule)[1:], check=False)
    owned = _owned_chains(sh(save, check=False).stdout)
    for table, chain in owned:
        sh(tool, "-w", "-t", table, "-F", chain, check=False)
    for table, chain in owned:
        sh(tool, "-w", "-t", table, "-X", chain, check=False)


def teardown_network(net: Network) -> None:
    """Remove the nodes' namespaces (their links, routes and rules go with them), interfaces, routes and owned chains.

    A namespace lives on, unnamed, while a socket in it does: the TCP connections of a node's
    killed processes linger as orphans, and behind a partition's rules they retransmit for
    minutes. They are destroyed first, so the namespace, and its link on the nodes' bridge, go
    at once.
    """
    for netns in node_namespaces():
        sh("nsenter", f"--net={NETNS_DIR / netns}", "--", "ss", "-K", "-ta", check=False)
        sh("ip", "netns", "del", netns, check=False)
    for tool, save in IPTABLES:
        _remove_owned_chains(tool, save)
    for name in (net.bridge, net.node_interface):
        if link_exists(name):
            sh("ip", "link", "del", name, check=False)
    sh("ip", "route", "del", net.service_cidr, check=False)


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


def pod_cgroups(root: str = POD_CGROUP_ROOT) -> list[Path]:
    """A cgroup root (the cluster's, or a node's below it) in every v1 hierarchy and the unified one."""
    return sorted(p for p in CGROUP_ROOT.glob(f"*/{root}") if p.is_dir())


def create_pod_cgroup_root(path: str) -> None:
    """Create a kubelet's ``cgroupRoot`` (``/podlife`` or below it) in every hierarchy; the kubelet refuses one that is missing.

    A new cpuset cgroup starts with no CPUs and no memory nodes, so those are copied from the parent.
    """
    for hierarchy in sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and (p / "cgroup.procs").exists()):
        parent = hierarchy
        for part in path.strip("/").split("/"):
            root = parent / part
            root.mkdir(exist_ok=True)
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if (root / knob).exists() and not (root / knob).read_text().strip():
                    (root / knob).write_text((parent / knob).read_text())
            parent = root


def _cgroup_dirs(base: Path) -> list[Path]:
    """``base`` and every cgroup below it, deepest first; cgroups vanishing meanwhile are skipped."""
    found = [Path(top) / d for top, dirs, _ in os.walk(base) for d in dirs]
    return sorted(found, key=lambda p: len(p.parts), reverse=True) + [base]


def pod_pids(root: str = POD_CGROUP_ROOT) -> set[int]:
    """Every process in a pod cgroup below ``root``: containers, their children, and the pause processes."""
    pids: set[int] = set()
    for base in pod_cgroups(root):
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


def remove_pod_cgroups(root: str = POD_CGROUP_ROOT) -> None:
    """Remove the pod cgroup trees below ``root`` bottom-up (rmdir is how cgroups are deleted)."""
    for base in pod_cgroups(root):
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


def available_memory_mib() -> int | None:
    """MemAvailable of /proc/meminfo in MiB; None where the kernel does not say."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return None


def shim_pids(containerd_socket: Path) -> list[int]:
    """containerd shims serving the given containerd (or any below a directory): they outlive it by design."""
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
