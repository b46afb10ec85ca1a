"""The ``local`` provider: a real single-node Kubernetes run as processes on this host."""

from __future__ import annotations

import json
import os
import signal
import socket
import string
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from podlife.cluster.local import host
from podlife.cluster.local.build import Builder, Progress, Release, default_progress
from podlife.cluster.local.components import NODE_NAME, START_ORDER, ClusterConfig, Settings
from podlife.cluster.local.local_images import BUSYBOX, preload
from podlife.cluster.local.paths import StateLayout, cache_root, state_root
from podlife.cluster.local.pki import ensure_pki
from podlife.cluster.local.supervisor import Supervisor
from podlife.errors import PodlifeError

#: How long the cluster may take, once its processes run, to have a Ready node and answering DNS.
SETTLE_TIMEOUT = 180.0


@dataclass(frozen=True)
class UpResult:
    kubeconfig: Path
    version: str
    already_running: bool
    seconds_to_ready: float
    cold_build_seconds: float


class LocalCluster:
    """One local cluster per host, kept in the state directory."""

    def __init__(self, state: Path | None = None, progress: Progress = default_progress) -> None:
        self.layout = StateLayout(state or state_root())
        self.net = host.Network()
        self.supervisor = Supervisor(self.layout)
        self.progress = progress

    # -- queries ------------------------------------------------------------------------------

    def recorded(self) -> dict | None:
        """What the last ``up`` recorded (version and settings), or None when there is no cluster."""
        try:
            return json.loads(self.layout.cluster_file.read_text())
        except (OSError, ValueError):
            return None

    def is_up(self) -> bool:
        running = self.supervisor.running()
        return self.recorded() is not None and all(name in running for name in START_ORDER)

    def status(self) -> dict[str, object]:
        record = self.recorded() or {}
        running = self.supervisor.running()
        return {
            "up": self.is_up(),
            "version": record.get("version"),
            "kubeconfig": str(self.layout.kubeconfig) if record else None,
            "state_dir": str(self.layout.root),
            "components": {name: running.get(name) for name in START_ORDER},
        }

    # -- up -----------------------------------------------------------------------------------

    def up(self, settings: Settings) -> UpResult:
        """Start the cluster (building what is missing); a no-op when the same version runs."""
        if os.geteuid() != 0:
            raise PodlifeError("the local cluster runs kubelet and containerd and needs root")
        record = self.recorded()
        if record and self.is_up():
            if record["version"] != settings.version:
                raise PodlifeError(
                    f"a local cluster v{record['version']} is running; run `podlife cluster down` before starting v{settings.version}"
                )
            return UpResult(self.layout.kubeconfig, settings.version, True, 0.0, 0.0)
        if record or self.supervisor.running():
            self.progress("cleaning up what an earlier cluster left")
            self.down()
        host.ensure_packages(self.progress)
        builder = Builder(settings.version, self.progress)
        release = builder.ensure()
        started = time.monotonic()
        config = self._configure(release, settings)
        try:
            self._start(config, release)
        except BaseException:
            self.progress(f"start-up failed; component logs are in {self.layout.logs}")
            self.down()
            raise
        took = time.monotonic() - started
        self.progress(f"cluster v{settings.version} ready in {took:.1f}s")
        return UpResult(self.layout.kubeconfig, settings.version, False, took, builder.cold_build_seconds)

    def _configure(self, release: Release, settings: Settings) -> ClusterConfig:
        host.prepare_kernel()
        for directory in (self.layout.config, self.layout.logs, self.layout.pids):
            directory.mkdir(parents=True, exist_ok=True)
        pki = ensure_pki(self.layout.pki, NODE_NAME, self.net.node_ip, self.net.apiserver_service_ip, [socket.gethostname()])
        config = ClusterConfig(self.layout, release, pki, self.net, settings)
        config.write()
        host.setup_network(self.net)
        self.layout.cluster_file.write_text(json.dumps({"version": settings.version, "settings": asdict(settings)}, indent=2))
        return config

    def _start(self, config: ClusterConfig, release: Release) -> None:
        for component in config.components():
            self.progress(f"starting {component.name}")
            self.supervisor.start(component)
            if component.name == "containerd":
                preload(release, cache_root() / "k8s" / f"v{release.version}" / "images", config.ctr, self.progress)
        self.progress("installing cluster DNS and the default StorageClass")
        template = string.Template(resources.files("podlife.cluster.local").joinpath("manifests/addons.yaml").read_text())
        addons = template.substitute(
            coredns_image=f"registry.k8s.io/coredns/coredns:{release.coredns_tag}", dns_service_ip=self.net.dns_service_ip
        )
        self._kubectl(release, "apply", "-f", "-", stdin=addons)
        self.progress("waiting for the node to be Ready and DNS to answer")
        self._kubectl(release, "wait", "--for=condition=Ready", f"node/{NODE_NAME}", f"--timeout={SETTLE_TIMEOUT:.0f}s")
        self._kubectl(release, "-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={SETTLE_TIMEOUT:.0f}s")
        self._wait_for_dns()

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

    # -- down ---------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop everything and remove what the cluster created; return what could not be removed."""
        record = self.recorded()
        for name in reversed(START_ORDER):
            if name != "containerd":
                self.supervisor.stop(name)
        host.kill_pod_processes()
        self.supervisor.stop("containerd")
        for pid in host.shim_pids(self.layout.containerd_socket):
            os.kill(pid, signal.SIGKILL)
        if record:
            kube_proxy = Builder(record["version"]).bin_dir / "kube-proxy"
            if kube_proxy.exists():
                subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True)
        host.teardown_network(self.net)
        host.unmount_all(self.layout.root)
        host.remove_pod_cgroups()
        host.remove_path(host.HOSTPATH_PV_DIR)
        # Logs stay for the post-mortem; the CA stays so kubeconfigs handed out keep working after `up`.
        kept = {self.layout.pki, self.layout.logs}
        if self.layout.root.exists():
            for child in self.layout.root.iterdir():
                if child not in kept:
                    host.remove_path(child)
        return self.leftovers()

    def leftovers(self) -> list[str]:
        """Anything of the cluster still on the host: processes, mounts, links, chains, cgroups."""
        found = [f"process {name} ({pid})" for name, pid in self.supervisor.running().items()]
        found += [f"process containerd-shim ({pid})" for pid in host.shim_pids(self.layout.containerd_socket)]
        found += [f"mount {m}" for m in host.mounts_under(self.layout.root)]
        found += [f"link {name}" for name in (self.net.bridge, self.net.node_interface) if host.link_exists(name)]
        found += [f"chain {c}" for c in host.leftover_chains()]
        found += [f"cgroup {c}" for c in host.pod_cgroups()]
        found += [f"netns {ns.name}" for ns in Path("/run/netns").glob("cni-*")]
        return found
