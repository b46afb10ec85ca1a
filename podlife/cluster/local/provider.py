"""The ``local`` provider: a real Kubernetes run as processes on this host, one node or several."""

from __future__ import annotations

import json
import os
import signal
import socket
import string
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable, TypedDict

from podlife.cluster.local import host, kubelet_schema
from podlife.cluster.local.build import Builder, Release
from podlife.cluster.local.components import ClusterConfig, Settings, ctr_command, pod_cgroup_root, start_order
from podlife.cluster.local.local_images import BUSYBOX, preload
from podlife.cluster.local.locks import Leases, exclusive
from podlife.cluster.local.logging_build import LoggingBuild
from podlife.cluster.local.paths import NodeLayout, StateLayout, cache_root, state_root
from podlife.cluster.local.pki import ensure_pki
from podlife.cluster.local.progress import Progress, default_progress
from podlife.cluster.local.supervisor import Supervisor
from podlife.errors import PodlifeError

#: How long the cluster may take, once its processes run, to have Ready nodes and answering DNS.
SETTLE_TIMEOUT = 180.0
#: Memory ``up`` asks of the host: the control plane with the first node (0.8 GiB idle, measured)
#: and its pods, then each further node (its kubelet, containerd and kube-proxy idle at about
#: 200 MiB, measured) with room for the pods a scenario puts on it.
BASE_MEMORY_MIB, NODE_MEMORY_MIB = 2048, 512


@dataclass(frozen=True)
class UpResult:
    kubeconfig: Path
    version: str
    already_running: bool
    seconds_to_ready: float
    #: What this ``up`` spent building: the Kubernetes version and companions, then the logging add-on.
    cold_build_seconds: float


class Status(TypedDict):
    """What ``podlife cluster status`` reports, also as JSON; ``components`` maps each to its pid, None when not running."""

    up: bool
    version: str | None
    kubeconfig: str | None
    state_dir: str
    components: dict[str, int | None]


@dataclass(frozen=True)
class UpgradeResult:
    from_version: str
    to_version: str
    seconds: float
    #: Per component, how long its new binary took to be ready.
    restarts_s: dict[str, float]


#: The control plane's components an in-place upgrade replaces, in order, before each node's
#: kubelet and kube-proxy; etcd, containerd and the registry stay.
UPGRADED_CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


class LocalCluster:
    """One local cluster per host, kept in the state directory."""

    def __init__(self, state: Path | None = None, progress: Progress = default_progress) -> None:
        self.layout = StateLayout(state or state_root())
        self.net = host.Network()
        self.supervisor = Supervisor(self.layout)
        self.leases = Leases(self.layout.leases)
        self.progress = progress

    # -- queries ------------------------------------------------------------------------------

    def recorded(self) -> dict | None:
        """What the last ``up`` recorded (version and settings), or None when there is no cluster."""
        try:
            return json.loads(self.layout.cluster_file.read_text())
        except (OSError, ValueError):
            return None

    def node_count(self) -> int:
        """How many nodes the running (or last) cluster has."""
        return int(((self.recorded() or {}).get("settings") or {}).get("nodes", 1))

    def nodes(self) -> list[host.Node]:
        return self.net.nodes(self.node_count())


    def node_named(self, name: str) -> host.Node:
        """The node called ``name``; one line naming the nodes there are when there is none."""
        for node in self.nodes():
            if node.name == name:
                return node
        raise PodlifeError(f"the local cluster has no node {name!r} (it has {', '.join(n.name for n in self.nodes())})")

    def ctr_command(self, node: host.Node | None = None) -> list[str]:
        """``ctr`` against ``node``'s containerd (the first node's by default)."""
        return ctr_command(self.layout.node(node or self.net.nodes(1)[0]))

    def ctr_commands(self) -> list[list[str]]:
        """``ctr`` against every node's containerd: what reaches all nodes (an image load) goes through each."""
        return [self.ctr_command(node) for node in self.nodes()]

    def component_names(self) -> list[str]:
        return start_order([self.layout.node(n) for n in self.nodes()])

    def is_up(self) -> bool:
        running = self.supervisor.running()
        return self.recorded() is not None and all(name in running for name in self.component_names())

    def status(self) -> Status:
        record = self.recorded() or {}
        running = self.supervisor.running()
        return {
            "up": self.is_up(),
            "version": record.get("version"),
            "kubeconfig": str(self.layout.kubeconfig) if record else None,
            "state_dir": str(self.layout.root),
            "components": {name: running.get(name) for name in self.component_names()},
        }

    # -- up -----------------------------------------------------------------------------------

    def up(self, settings: Settings, attach: bool = False, hold_lease: bool = False) -> UpResult:
        """Start the cluster with ``settings`` (building what is missing); safe under concurrent callers.

        A cluster already running with the same settings is used as it is; with ``attach``, a
        running cluster is used whatever its settings (a test run that asked for no particular
        version). Different settings restart it, unless another process is using it: then ``up``
        refuses in one line rather than pulling the cluster from under that run. ``hold_lease``
        registers the caller as a user before the lock is let go, so no ``down`` slips in between.
        """
        if os.geteuid() != 0:
            raise PodlifeError("the local cluster runs kubelet and containerd and needs root")
        if settings.nodes > self.node_count() or not self.is_up():
            _check_memory(settings.nodes)  # before anything running is stopped for the new settings
        host.ensure_private_dir(self.layout.root, "the state directory ($PODLIFE_STATE)")
        host.ensure_private_dir(cache_root(), "the build cache ($PODLIFE_CACHE)")
        with exclusive(self.layout.lock, "starting or stopping the local cluster", self.progress):
            result = self._up_locked(settings, attach)
            if hold_lease:
                self.leases.hold()
            return result

    def _up_locked(self, settings: Settings, attach: bool) -> UpResult:
        # Checked now when this version's sources are at hand, else once a cold build fetched them.
        schema_checked = kubelet_schema.check(settings.kubelet_config, settings.version)
        record = self.recorded()
        if record and self.is_up():
            running = Settings.from_record(record["settings"])
            changes = settings.changes_from(running)
            if attach or not changes:
                return UpResult(self.layout.kubeconfig, running.version, True, 0.0, 0.0)
            self._refuse_if_used(f"restart it with other settings ({'; '.join(changes)})")
            self.progress(f"restarting the local cluster with new settings: {'; '.join(changes)}")
            self._down_locked()
        elif record or self.supervisor.running():
            self._refuse_if_used("clean up the partly stopped cluster it is using")
            self.progress("cleaning up what an earlier cluster left")
            self._down_locked()
        foreign = host.foreign_kube_chains()
        if foreign:
            raise PodlifeError(
                f"iptables already holds Kubernetes chains podlife did not make ({', '.join(foreign[:3])}, ...): "
                "another Kubernetes runs on this host; stop it first"
            )
        host.ensure_packages(self.progress)
        builder = Builder(settings.version, self.progress)
        release = builder.ensure()
        logging = LoggingBuild(self.progress)
        logging.ensure()
        if not schema_checked:
            kubelet_schema.check(settings.kubelet_config, settings.version)
        started = time.monotonic()
        config = self._configure(release, settings)
        try:
            self._start(config, release)
        except BaseException:
            self.progress(f"start-up failed; component logs are in {self.layout.logs}")
            self._down_locked()
            raise
        took = time.monotonic() - started
        self.progress(f"cluster v{settings.version} ready in {took:.1f}s")
        return UpResult(self.layout.kubeconfig, settings.version, False, took,
                        builder.cold_build_seconds + logging.cold_build_seconds)

    def _refuse_if_used(self, action: str) -> None:
        users = self.leases.others()
        if users:
            raise PodlifeError(f"will not {action}: the local cluster is in use by {'; '.join(users)}")

    def _configure(self, release: Release, settings: Settings) -> ClusterConfig:
        host.save_baseline(self.layout.host_baseline)
        host.prepare_kernel()
        for directory in (self.layout.config, self.layout.logs, self.layout.pids):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.layout.logs.chmod(0o700)
        for log in self.layout.logs.iterdir():
            log.chmod(0o600)
        host.ensure_private_dir(host.HOSTPATH_PV_DIR, "the host-path provisioner's directory")
        nodes = self.net.nodes(settings.nodes)
        for node in nodes:
            host.create_pod_cgroup_root(pod_cgroup_root(node))
        pki = ensure_pki(self.layout.pki, [(n.name, n.ip) for n in nodes], self.net.apiserver_service_ip, [socket.gethostname()])
        config = ClusterConfig(self.layout, release, pki, self.net, settings)
        # Recorded before anything is created, so a failed start's teardown knows every node.
        self.layout.cluster_file.write_text(json.dumps({"version": settings.version, "settings": asdict(settings)}, indent=2))
        config.write()
        host.setup_network(self.net, nodes)
        return config

    def _start(self, config: ClusterConfig, release: Release) -> None:
        """Start the components in order, then the add-ons; wait until every node is Ready and DNS answers.

        The reference images are imported into each node's containerd while etcd and the control
        plane start (about 4 s each on 2 cores, the bulk of a warm start), and are all in before
        that node's kubelet, the first that runs pods there, starts. The pool is joined on the way
        out whatever happens, so no import outlives a failed start.
        """
        layouts = {config.layout.node(n).component("containerd"): config.layout.node(n) for n in config.nodes}
        kubelets = {layout.component("kubelet"): runtime for runtime, layout in layouts.items()}
        with ThreadPoolExecutor(max_workers=1) as pool:
            images: dict[str, Future[None]] = {}
            for component in config.components():
                if component.name in kubelets:
                    images[kubelets[component.name]].result()
                self.progress(f"starting {component.name}")
                self.supervisor.start(component)
                if component.name in layouts:
                    images[component.name] = pool.submit(self._preload, release, layouts[component.name])
            for done in images.values():
                done.result()
        self.progress("installing cluster DNS and the default StorageClass")
        template = string.Template(resources.files("podlife.cluster.local").joinpath("manifests/addons.yaml").read_text())
        addons = template.substitute(
            coredns_image=f"registry.k8s.io/coredns/coredns:{release.coredns_tag}", dns_service_ip=self.net.dns_service_ip,
            first_node=config.nodes[0].name,
        )
        self._kubectl(release, "apply", "-f", "-", stdin=addons)
        self.progress("waiting for the nodes to be Ready and DNS to answer")
        self._wait_nodes_ready(release, config.nodes)
        self._kubectl(release, "-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={SETTLE_TIMEOUT:.0f}s")
        self._wait_for_dns()

    def _wait_nodes_ready(self, release: Release, nodes: list[host.Node]) -> None:
        self._kubectl(release, "wait", "--for=condition=Ready", *(f"node/{n.name}" for n in nodes), f"--timeout={SETTLE_TIMEOUT:.0f}s")

    def _kubectl(self, release: Release, *args: str, stdin: str | None = None) -> str:
        cmd = [str(release.binary("kubectl")), f"--kubeconfig={self.layout.kubeconfig}", *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            raise PodlifeError(f"kubectl {' '.join(args[:3])} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return proc.stdout

    def _wait_for_dns(self) -> None:
        """Ask the cluster DNS Service, through kube-proxy, for the API server's Service name."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        query = [str(BUSYBOX), "nslookup", "kubernetes.default.svc.cluster.local", self.net.dns_service_ip]
        while time.monotonic() < deadline:
            if self.net.apiserver_service_ip in subprocess.run(query, capture_output=True, text=True).stdout:
                return
            time.sleep(0.3)
        raise PodlifeError(f"cluster DNS at {self.net.dns_service_ip} does not answer; see {self.layout.logs}")

    def preload_images(self, version: str) -> None:
        """Import ``version``'s reference images into every node of the running cluster (its build is made if missing)."""
        release = Builder(version, self.progress).ensure()
        for node in self.nodes():
            self._preload(release, self.layout.node(node))

    def _preload(self, release: Release, node: NodeLayout) -> None:
        """Import ``release``'s reference images into the node's containerd, assembling their archives in its cache."""
        preload(release, cache_root() / "k8s" / f"v{release.version}" / "images",
                lambda *args: [*ctr_command(node), *args], self.progress)

    # -- in-place upgrade -----------------------------------------------------------------------

    def upgrade(self, version: str, before_kubelet: Callable[[], None] | None = None) -> UpgradeResult:
        """Replace the running cluster's binaries with ``version``'s, in the order a real upgrade uses.

        etcd, containerd and the pods stay; the API server, controller-manager and scheduler are
        restarted on the new binaries, then each node's kubelet and kube-proxy (kubeadm's order:
        control plane first, then node by node). The new version's images are imported first, so
        its reference images are there when a new kubelet asks. ``before_kubelet`` runs while
        the first node's old kubelet is stopped and the new one not yet started: a negative
        control uses it to do what a careless upgrade does there. Refused while another run uses the cluster.
        """
        with exclusive(self.layout.lock, "upgrading the local cluster", self.progress):
            record = self.recorded()
            if not record or not self.is_up():
                raise PodlifeError("the local cluster is not up; start the version to upgrade from with `podlife cluster up`")
            running = Settings.from_record(record["settings"])
            if running.version == version:
                raise PodlifeError(f"the local cluster already runs {version}")
            self._refuse_if_used(f"upgrade it to {version}")
            target = replace(running, version=version)
            release = Builder(version, self.progress).ensure()
            kubelet_schema.check(target.kubelet_config, version)
            config = self._configure(release, target)
            for node in config.nodes:
                self._preload(release, config.layout.node(node))
            components = {c.name: c for c in config.components()}
            nodes = [config.layout.node(n) for n in config.nodes]
            started, steps = time.monotonic(), {}
            for name in [*UPGRADED_CONTROL_PLANE, *(n.component(base) for n in nodes for base in ("kubelet", "kube-proxy"))]:
                self.supervisor.stop(name)
                if name == "kubelet" and before_kubelet:
                    before_kubelet()
                self.progress(f"upgrade: {name} on v{version}")
                step = time.monotonic()
                self.supervisor.start(components[name])
                steps[name] = round(time.monotonic() - step, 1)
            self._wait_nodes_ready(release, config.nodes)
            took = time.monotonic() - started
            self.progress(f"upgraded from v{running.version} to v{version} in {took:.1f}s")
            return UpgradeResult(running.version, version, took, steps)

    # -- down ---------------------------------------------------------------------------------

    def down(self, force: bool = False) -> list[str]:
        """Stop everything and remove what the cluster created; return what could not be removed.

        Refused while another process is attached to the cluster, unless ``force``.
        """
        with exclusive(self.layout.lock, "starting or stopping the local cluster", self.progress):
            if not force:
                self._refuse_if_used("stop it (pass --force to stop it anyway)")
            return self._down_locked()

    def _down_locked(self) -> list[str]:
        record = self.recorded()
        layouts = [self.layout.node(n) for n in self.nodes()]
        runtimes = [n.component("containerd") for n in layouts]
        for name in reversed(start_order(layouts)):
            if name not in runtimes:
                self.supervisor.stop(name)
        host.kill_pod_processes()
        for layout in layouts:
            self.supervisor.stop(layout.component("containerd"))
            for pid in host.shim_pids(layout.containerd_socket):
                os.kill(pid, signal.SIGKILL)
        if record:
            kube_proxy = Builder(record["version"]).bin_dir / "kube-proxy"
            if kube_proxy.exists():
                subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True)
        host.teardown_network(self.net)
        host.unmount_all(self.layout.root)
        host.remove_pod_cgroups()
        host.remove_path(host.HOSTPATH_PV_DIR)
        host.restore_baseline(self.layout.host_baseline)
        # Logs stay for the post-mortem; the CA stays so kubeconfigs handed out keep working after
        # `up`; the lock and the leases belong to processes that may still be waiting or attached.
        kept = {self.layout.pki, self.layout.logs, self.layout.lock, self.layout.leases}
        if self.layout.root.exists():
            for child in self.layout.root.iterdir():
                if child not in kept:
                    host.remove_path(child)
        return self.leftovers()

    def leftovers(self) -> list[str]:
        """Anything of the cluster still on the host: processes, mounts, links, chains, cgroups."""
        found = [f"process {name} ({pid})" for name, pid in self.supervisor.running().items()]
        found += [f"process containerd-shim ({pid})" for pid in host.shim_pids(self.layout.root)]
        found += [f"mount {m}" for m in host.mounts_under(self.layout.root)]
        found += [f"link {name}" for name in (self.net.bridge, self.net.node_interface) if host.link_exists(name)]
        found += [f"network namespace {name}" for name in host.node_namespaces()]
        found += [f"link {name}" for name in host.node_links()]
        found += [f"chain {c}" for c in host.leftover_chains()]
        found += [f"cgroup {c}" for c in host.pod_cgroups()]
        return found


def _check_memory(nodes: int) -> None:
    """Refuse in one line a cluster the host's available memory cannot hold, naming what it needs."""
    needed = BASE_MEMORY_MIB + NODE_MEMORY_MIB * (nodes - 1)
    available = host.available_memory_mib()
    if nodes > 1 and available is not None and needed > available:
        raise PodlifeError(
            f"--nodes {nodes} needs about {needed} MiB of memory ({BASE_MEMORY_MIB} for the control plane and the "
            f"first node, {NODE_MEMORY_MIB} for each other node); this host has {available} MiB available"
        )
