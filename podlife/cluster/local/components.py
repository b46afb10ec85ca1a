"""The processes of the local cluster: their configuration files, command lines and health checks.

Everything is written below the state directory; flags are the ones a kubeadm-style control
plane uses, trimmed to a single node: TLS with client certificates between every pair,
Node+RBAC authorization, service-account keys, and the kubelet on containerd's CRI with the
cgroupfs driver (this kind of host has no systemd and a cgroup v1 hierarchy).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3
import yaml

from podlife.cluster.local.build import Release
from podlife.cluster.local.host import CNI_BIN_DIR, POD_CGROUP_ROOT, Network
from podlife.cluster.local.paths import StateLayout
from podlife.cluster.local.pki import Pki, write_kubeconfig
from podlife.cluster.local.supervisor import Component
from podlife.errors import PodlifeError

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

NODE_NAME = "podlife-node"
REGISTRY_ADDRESS = "localhost:5000"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
KUBE_PROXY_HEALTH_PORT = 10256

#: The order components start in; ``down`` stops them in reverse.
START_ORDER = (
    "containerd",
    "registry",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)


#: Components whose command line takes ``--extra-arg`` flags.
EXTRA_ARG_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")


@dataclass(frozen=True)
class Settings:
    """What the user can vary between clusters: version and pass-through configuration.

    Checked when made, so a malformed value stops ``up`` before anything is built or started.
    """

    version: str
    feature_gates: str = ""
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    kubelet_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parse_feature_gates(self.feature_gates)
        unknown = sorted(set(self.extra_args) - set(EXTRA_ARG_COMPONENTS))
        if unknown:
            raise PodlifeError(
                f"--extra-arg names unknown component(s) {', '.join(unknown)}; choose from {', '.join(EXTRA_ARG_COMPONENTS)}"
            )

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> "Settings":
        return cls(**data)

    def changes_from(self, running: "Settings") -> list[str]:
        """What differs from the ``running`` cluster's settings, one phrase per field."""
        return [
            f"{name.replace('_', ' ')} {getattr(running, name)!r} -> {getattr(self, name)!r}"
            for name in ("version", "feature_gates", "extra_args", "kubelet_config")
            if getattr(running, name) != getattr(self, name)
        ]


def parse_feature_gates(text: str) -> dict[str, bool]:
    """``A=true,B=false`` -> {"A": True, "B": False}; anything else is one clear error."""
    gates: dict[str, bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) or value.lower() not in ("true", "false"):
            raise PodlifeError(f"--feature-gates expects Name=true|false[,Name=true|false...], got {item!r}")
        gates[name] = value.lower() == "true"
    return gates


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``, recursing into nested mappings."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _get_ok(url: str, pki: Pki | None = None) -> bool:
    """GET ``url`` (as the admin when ``pki`` is given); self-signed serving certs are accepted.

    A readiness probe of our own component on this host: urllib3's warning about the unverified
    certificate would only clutter the output of a test that restarts components.
    """
    cert = (str(pki.cert("admin")), str(pki.key("admin"))) if pki else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            return requests.get(url, cert=cert, verify=False, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def ctr_command(layout: StateLayout) -> list[str]:
    """The ``ctr`` command line against the local cluster's containerd, in the CRI namespace (the kubelet's)."""
    return ["ctr", "--address", str(layout.containerd_socket), "--namespace", "k8s.io"]


class ClusterConfig:
    """Writes the configuration files and builds the component list for one cluster."""

    def __init__(self, layout: StateLayout, release: Release, pki: Pki, net: Network, settings: Settings) -> None:
        self.layout, self.release, self.pki, self.net, self.settings = layout, release, pki, net, settings

    @property
    def server(self) -> str:
        return f"https://{self.net.node_ip}:{APISERVER_PORT}"

    def kubeconfig(self, user: str) -> Path:
        return self.layout.config / f"{user}.kubeconfig"

    def ctr(self, *args: str) -> list[str]:
        return [*ctr_command(self.layout), *args]

    def write(self) -> None:
        cfg = self.layout.config
        (cfg / "cni").mkdir(parents=True, exist_ok=True)
        for user in ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet-client"):
            write_kubeconfig(self.kubeconfig(user), self.server, self.pki.ca_cert, self.pki.cert(user), self.pki.key(user), user)
        write_kubeconfig(self.layout.kubeconfig, self.server, self.pki.ca_cert, self.pki.cert("admin"), self.pki.key("admin"), "admin")
        (cfg / "containerd.toml").write_text(self._containerd_toml())
        hosts = cfg / "certs.d" / REGISTRY_ADDRESS
        hosts.mkdir(parents=True, exist_ok=True)
        (hosts / "hosts.toml").write_text(
            f'server = "http://{REGISTRY_ADDRESS}"\n\n[host."http://{REGISTRY_ADDRESS}"]\n'
            '  capabilities = ["pull", "resolve", "push"]\n'
        )
        (cfg / "cni" / "10-podlife.conflist").write_text(json.dumps(self._cni_conflist(), indent=2))
        (cfg / "registry.yaml").write_text(yaml.safe_dump(self._registry_config()))
        (cfg / "kubelet.yaml").write_text(yaml.safe_dump(self._kubelet_config()))
        (cfg / "kube-proxy.yaml").write_text(yaml.safe_dump(self._kube_proxy_config()))
        (cfg / "scheduler.yaml").write_text(yaml.safe_dump(self._scheduler_config()))

    # -- configuration files --------------------------------------------------------------------

    def _containerd_toml(self) -> str:
        cri = '[plugins."io.containerd.grpc.v1.cri"]'
        return "\n".join([
            "version = 2",
            f'root = "{self.layout.containerd_root}"',
            f'state = "{self.layout.containerd_state}"',
            "[grpc]",
            f'  address = "{self.layout.containerd_socket}"',
            cri,
            f'  sandbox_image = "registry.k8s.io/pause:{self.release.pause_tag}"',
            # This VM lacks CAP_SYS_RESOURCE: containers may not get a lower oom_score_adj than containerd.
            "  restrict_oom_score_adj = true",
            # Pod network namespaces under the cluster's own state directory, not /run/netns:
            # nobody else's namespaces are ever mistaken for the cluster's.
            "  netns_mounts_under_state_dir = true",
            f"{cri[:-1]}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"{cri[:-1]}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"{cri[:-1]}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"{cri[:-1]}.cni]",
            f'  bin_dir = "{CNI_BIN_DIR}"',
            f'  conf_dir = "{self.layout.config / "cni"}"',
            f"{cri[:-1]}.registry]",
            f'  config_path = "{self.layout.config / "certs.d"}"',
            "",
        ])

    def _cni_conflist(self) -> dict[str, Any]:
        return {
            "cniVersion": "1.0.0",
            "name": "podlife",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.net.bridge,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.net.pod_cidr, "gateway": self.net.pod_gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.layout.cni_data),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }

    def _registry_config(self) -> dict[str, Any]:
        return {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(self.layout.registry_data)}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{REGISTRY_ADDRESS.split(':')[1]}"},
        }

    def _kubelet_config(self) -> dict[str, Any]:
        base = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.pki.ca_cert)},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs",
            # Pods live below a cgroup root of podlife's own, so teardown never touches another kubelet's pods.
            "cgroupRoot": f"/{POD_CGROUP_ROOT}",
            # The kubelet's API on the node address only (the port-less interface), its healthz on loopback.
            "address": self.net.node_ip,
            "healthzBindAddress": "127.0.0.1",
            "readOnlyPort": 0,
            # cgroup v1 is deprecated upstream but is what this kind of host offers.
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{self.layout.containerd_socket}",
            "clusterDNS": [self.net.dns_service_ip],
            "clusterDomain": CLUSTER_DOMAIN,
            "tlsCertFile": str(self.pki.cert("kubelet-serving")),
            "tlsPrivateKeyFile": str(self.pki.key("kubelet-serving")),
            "podLogsDir": str(self.layout.root / "pod-logs"),
            "failSwapOn": False,
            "oomScoreAdj": 0,
            # Preloaded images have no registry to come back from: never garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "serializeImagePulls": False,
            "resolvConf": "/etc/resolv.conf",
        }
        if self.settings.feature_gates:
            base["featureGates"] = parse_feature_gates(self.settings.feature_gates)
        return deep_merge(base, self.settings.kubelet_config)

    def _kube_proxy_config(self) -> dict[str, Any]:
        return {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.kubeconfig("kube-proxy"))},
            "mode": "iptables",
            "clusterCIDR": self.net.pod_cidr,
            "hostnameOverride": NODE_NAME,
            "bindAddress": self.net.node_ip,
            # Health on the node address, metrics on loopback, NodePorts on the node address only:
            # nothing kube-proxy serves or forwards is open on the machine's real interfaces.
            "healthzBindAddress": f"{self.net.node_ip}:{KUBE_PROXY_HEALTH_PORT}",
            "metricsBindAddress": "127.0.0.1:10249",
            "nodePortAddresses": [f"{self.net.node_ip}/32"],
            # Leave conntrack sysctls as they are: setting them needs privileges this VM lacks.
            "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "oomScoreAdj": 0,
        }

    def _scheduler_config(self) -> dict[str, Any]:
        return {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(self.kubeconfig("scheduler"))},
            "leaderElection": {"leaderElect": False},
        }

    # -- components -----------------------------------------------------------------------------

    def _feature_gates(self) -> list[str]:
        return [f"--feature-gates={self.settings.feature_gates}"] if self.settings.feature_gates else []

    def components(self) -> list[Component]:
        """Every component, in start order, with its health check."""
        bin_ = self.release.binary
        pki, net, cfg = self.pki, self.net, self.layout.config
        extra = self.settings.extra_args
        etcd_url = "https://127.0.0.1:2379"
        comps = {
            "containerd": Component(
                "containerd",
                ["/usr/bin/containerd", "--config", str(cfg / "containerd.toml")],
                lambda: subprocess.run(self.ctr("version"), capture_output=True).returncode == 0,
            ),
            "registry": Component(
                "registry",
                ["/usr/bin/docker-registry", "serve", str(cfg / "registry.yaml")],
                lambda: _answers(f"http://{REGISTRY_ADDRESS}/v2/"),
            ),
            "etcd": Component(
                "etcd",
                [
                    str(bin_("etcd")),
                    "--name=podlife",
                    f"--data-dir={self.layout.etcd_data}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    "--listen-peer-urls=http://127.0.0.1:2380",
                    "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                    "--initial-cluster=podlife=http://127.0.0.1:2380",
                    "--listen-metrics-urls=http://127.0.0.1:2381",
                    f"--cert-file={pki.cert('etcd-server')}",
                    f"--key-file={pki.key('etcd-server')}",
                    f"--trusted-ca-file={pki.ca_cert}",
                    "--client-cert-auth=true",
                    "--snapshot-count=10000",
                    "--quota-backend-bytes=2147483648",
                ],
                lambda: _get_ok("http://127.0.0.1:2381/health"),
            ),
            "kube-apiserver": Component(
                "kube-apiserver",
                [
                    str(bin_("kube-apiserver")),
                    f"--advertise-address={net.node_ip}",
                    f"--bind-address={net.node_ip}",
                    f"--secure-port={APISERVER_PORT}",
                    f"--etcd-servers={etcd_url}",
                    f"--etcd-cafile={pki.ca_cert}",
                    f"--etcd-certfile={pki.cert('apiserver-etcd-client')}",
                    f"--etcd-keyfile={pki.key('apiserver-etcd-client')}",
                    f"--service-cluster-ip-range={net.service_cidr}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki.sa_pub}",
                    f"--service-account-signing-key-file={pki.sa_key}",
                    f"--client-ca-file={pki.ca_cert}",
                    f"--tls-cert-file={pki.cert('apiserver')}",
                    f"--tls-private-key-file={pki.key('apiserver')}",
                    f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
                    f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
                    f"--kubelet-certificate-authority={pki.ca_cert}",
                    "--kubelet-preferred-address-types=InternalIP,Hostname",
                    f"--requestheader-client-ca-file={pki.front_proxy_ca_cert}",
                    "--requestheader-allowed-names=front-proxy-client",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-username-headers=X-Remote-User",
                    f"--proxy-client-cert-file={pki.cert('front-proxy-client')}",
                    f"--proxy-client-key-file={pki.key('front-proxy-client')}",
                    "--authorization-mode=Node,RBAC",
                    "--enable-admission-plugins=NodeRestriction",
                    "--allow-privileged=true",
                    "--profiling=false",
                    *self._feature_gates(),
                    *extra.get("kube-apiserver", []),
                ],
                lambda: _get_ok(f"{self.server}/readyz", pki),
                timeout=90,
            ),
            "kube-controller-manager": Component(
                "kube-controller-manager",
                [
                    str(bin_("kube-controller-manager")),
                    f"--kubeconfig={self.kubeconfig('controller-manager')}",
                    f"--authentication-kubeconfig={self.kubeconfig('controller-manager')}",
                    f"--authorization-kubeconfig={self.kubeconfig('controller-manager')}",
                    "--bind-address=127.0.0.1",
                    f"--cluster-signing-cert-file={pki.ca_cert}",
                    f"--cluster-signing-key-file={pki.ca_key}",
                    f"--root-ca-file={pki.ca_cert}",
                    f"--service-account-private-key-file={pki.sa_key}",
                    "--use-service-account-credentials=true",
                    "--controllers=*,bootstrapsigner,tokencleaner",
                    "--enable-hostpath-provisioner=true",
                    f"--service-cluster-ip-range={net.service_cidr}",
                    "--cluster-name=podlife",
                    "--leader-elect=false",
                    "--profiling=false",
                    *self._feature_gates(),
                    *extra.get("kube-controller-manager", []),
                ],
                lambda: _get_ok("https://127.0.0.1:10257/healthz"),
            ),
            "kube-scheduler": Component(
                "kube-scheduler",
                [
                    str(bin_("kube-scheduler")),
                    f"--config={cfg / 'scheduler.yaml'}",
                    f"--authentication-kubeconfig={self.kubeconfig('scheduler')}",
                    f"--authorization-kubeconfig={self.kubeconfig('scheduler')}",
                    "--bind-address=127.0.0.1",
                    "--profiling=false",
                    *self._feature_gates(),
                    *extra.get("kube-scheduler", []),
                ],
                lambda: _get_ok("https://127.0.0.1:10259/healthz"),
            ),
            "kubelet": Component(
                "kubelet",
                [
                    str(bin_("kubelet")),
                    f"--config={cfg / 'kubelet.yaml'}",
                    f"--kubeconfig={self.kubeconfig('kubelet-client')}",
                    f"--root-dir={self.layout.kubelet_root}",
                    f"--hostname-override={NODE_NAME}",
                    f"--node-ip={net.node_ip}",
                    *extra.get("kubelet", []),
                ],
                lambda: _get_ok("http://127.0.0.1:10248/healthz"),
                timeout=90,
            ),
            "kube-proxy": Component(
                "kube-proxy",
                [
                    str(bin_("kube-proxy")),
                    f"--config={cfg / 'kube-proxy.yaml'}",
                    *self._feature_gates(),
                    *extra.get("kube-proxy", []),
                ],
                lambda: _port_open(net.node_ip, KUBE_PROXY_HEALTH_PORT),
            ),
        }
        return [comps[name] for name in START_ORDER]
