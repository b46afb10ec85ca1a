"""The processes of the local cluster: their configuration files, command lines and health checks.

Everything is written below the state directory; flags are the ones a kubeadm-style control
plane uses: TLS with client certificates between every pair, Node+RBAC authorization,
service-account keys, and on every node a kubelet on a containerd of its own through the CRI,
with the cgroupfs driver (this kind of host has no systemd and a cgroup v1 hierarchy), and a
kube-proxy. The first node shares the host with the control plane; every other node's processes
run in its network namespace.
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
from podlife.cluster.local.host import CNI_BIN_DIR, MAX_NODES, POD_CGROUP_ROOT, Network, Node
from podlife.cluster.local.paths import NodeLayout, StateLayout
from podlife.cluster.local.pki import Pki, node_leaf, write_kubeconfig
from podlife.cluster.local.supervisor import Component
from podlife.errors import PodlifeError

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

#: The cluster's registry, on the control plane's address so every node's runtime reaches it.
REGISTRY_ADDRESS = f"{Network().node_ip}:5000"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
KUBE_PROXY_HEALTH_PORT = 10256

#: The control plane's components in start order.
CONTROL_PLANE = ("registry", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def start_order(layouts: list[NodeLayout]) -> list[str]:
    """Every component's name in start order for nodes laid out as ``layouts``; ``down`` stops them in reverse.

    Every node's containerd starts first, so the reference images are imported into it while the
    control plane starts; each node's kubelet and kube-proxy come last.
    """
    return [*(n.component("containerd") for n in layouts), *CONTROL_PLANE,
            *(n.component(base) for n in layouts for base in ("kubelet", "kube-proxy"))]


#: Components whose command line takes ``--extra-arg`` flags.
EXTRA_ARG_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")


@dataclass(frozen=True)
class Settings:
    """What the user can vary between clusters: version and pass-through configuration.

    Checked when made, so a malformed value stops ``up`` before anything is built or started.
    """

    version: str
    #: How many nodes: the first on the host beside the control plane, each other in a network namespace.
    nodes: int = 1
    feature_gates: str = ""
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    kubelet_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise PodlifeError(f"--nodes must be between 1 and {MAX_NODES}, got {self.nodes}")
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
            for name in ("version", "nodes", "feature_gates", "extra_args", "kubelet_config")
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


def ctr_command(layout: NodeLayout) -> list[str]:
    """The ``ctr`` command line against a node's containerd, in the CRI namespace (the kubelet's)."""
    return ["ctr", "--address", str(layout.containerd_socket), "--namespace", "k8s.io"]


def pod_cgroup_root(node: Node) -> str:
    """The node's kubelet ``cgroupRoot``: the first node's is podlife's root, every other node's a child of it."""
    return f"/{POD_CGROUP_ROOT}" if node.index == 1 else f"/{POD_CGROUP_ROOT}/{node.name}"


class ClusterConfig:
    """Writes the configuration files and builds the component list for one cluster."""

    def __init__(self, layout: StateLayout, release: Release, pki: Pki, net: Network, settings: Settings) -> None:
        self.layout, self.release, self.pki, self.net, self.settings = layout, release, pki, net, settings
        self.nodes = net.nodes(settings.nodes)

    @property
    def server(self) -> str:
        return f"https://{self.net.node_ip}:{APISERVER_PORT}"


    def kubeconfig(self, user: str) -> Path:
        return self.layout.config / f"{user}.kubeconfig"

    def write(self) -> None:
        cfg = self.layout.config
        cfg.mkdir(parents=True, exist_ok=True)
        for user in ("admin", "controller-manager", "scheduler", "kube-proxy"):
            write_kubeconfig(self.kubeconfig(user), self.server, self.pki.ca_cert, self.pki.cert(user), self.pki.key(user), user)
        write_kubeconfig(self.layout.kubeconfig, self.server, self.pki.ca_cert, self.pki.cert("admin"), self.pki.key("admin"), "admin")
        (cfg / "registry.yaml").write_text(yaml.safe_dump(self._registry_config()))
        (cfg / "scheduler.yaml").write_text(yaml.safe_dump(self._scheduler_config()))
        for node in self.nodes:
            self._write_node(node)

    def _write_node(self, node: Node) -> None:
        where = self.layout.node(node)
        cfg = where.config
        (cfg / "cni").mkdir(parents=True, exist_ok=True)
        client = node_leaf("kubelet-client", node.name)
        write_kubeconfig(cfg / "kubelet.kubeconfig", self.server, self.pki.ca_cert, self.pki.cert(client), self.pki.key(client),
                         f"system:node:{node.name}")
        (cfg / "containerd.toml").write_text(self._containerd_toml(where))
        hosts = cfg / "certs.d" / REGISTRY_ADDRESS
        hosts.mkdir(parents=True, exist_ok=True)
        (hosts / "hosts.toml").write_text(
            f'server = "http://{REGISTRY_ADDRESS}"\n\n[host."http://{REGISTRY_ADDRESS}"]\n'
            '  capabilities = ["pull", "resolve", "push"]\n'
        )
        (cfg / "cni" / "10-podlife.conflist").write_text(json.dumps(self._cni_conflist(node, where), indent=2))
        (cfg / "kubelet.yaml").write_text(yaml.safe_dump(self._kubelet_config(node, where)))
        (cfg / "kube-proxy.yaml").write_text(yaml.safe_dump(self._kube_proxy_config(node)))

    # -- configuration files --------------------------------------------------------------------

    def _containerd_toml(self, where: NodeLayout) -> str:
        cri = '[plugins."io.containerd.grpc.v1.cri"]'
        return "\n".join([
            "version = 2",
            f'root = "{where.containerd_root}"',
            f'state = "{where.containerd_state}"',
            "[grpc]",
            f'  address = "{where.containerd_socket}"',
            cri,
            f'  sandbox_image = "registry.k8s.io/pause:{self.release.pause_tag}"',
            # This VM lacks CAP_SYS_RESOURCE: containers may not get a lower oom_score_adj than containerd.
            "  restrict_oom_score_adj = true",
            # Pod network namespaces under the node's own state directory, not /run/netns:
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
            f'  conf_dir = "{where.config / "cni"}"',
            f"{cri[:-1]}.registry]",
            f'  config_path = "{where.config / "certs.d"}"',
            "",
        ])

    def _cni_conflist(self, node: Node, where: NodeLayout) -> dict[str, Any]:
        return {
            "cniVersion": "1.0.0",
            "name": "podlife",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.net.bridge,
                    "isGateway": True,
                    # Pods on other nodes see a pod's own address; what leaves the cluster is
                    # masqueraded once, on the host (host.setup_network).
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": node.pod_cidr, "gateway": node.pod_gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(where.cni_data),
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
            "http": {"addr": REGISTRY_ADDRESS},
        }

    def _kubelet_config(self, node: Node, where: NodeLayout) -> dict[str, Any]:
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
            "cgroupRoot": pod_cgroup_root(node),
            # The kubelet's API and healthz on the node's address: a port-less bridge, guarded from the outside.
            "address": node.ip,
            "healthzBindAddress": node.ip,
            "readOnlyPort": 0,
            # cgroup v1 is deprecated upstream but is what this kind of host offers.
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{where.containerd_socket}",
            "clusterDNS": [self.net.dns_service_ip],
            "clusterDomain": CLUSTER_DOMAIN,
            "tlsCertFile": str(self.pki.cert(node_leaf("kubelet-serving", node.name))),
            "tlsPrivateKeyFile": str(self.pki.key(node_leaf("kubelet-serving", node.name))),
            "podLogsDir": str(where.pod_logs),
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

    def _kube_proxy_config(self, node: Node) -> dict[str, Any]:
        return {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.kubeconfig("kube-proxy"))},
            "mode": "iptables",
            "clusterCIDR": self.net.pod_cidr,
            "hostnameOverride": node.name,
            "bindAddress": node.ip,
            # Health on the node address, metrics on (the node's) loopback, NodePorts on the node address
            # only: nothing kube-proxy serves or forwards is open on the machine's real interfaces.
            "healthzBindAddress": f"{node.ip}:{KUBE_PROXY_HEALTH_PORT}",
            "metricsBindAddress": "127.0.0.1:10249",
            "nodePortAddresses": [f"{node.ip}/32"],
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
        found = {c.name: c for c in [*self._control_plane(), *(c for node in self.nodes for c in self.node_components(node))]}
        return [found[name] for name in start_order([self.layout.node(n) for n in self.nodes])]

    def node_components(self, node: Node) -> list[Component]:
        """The node's containerd, kubelet and kube-proxy, in start order, run in the node's network namespace."""
        bin_, where, extra = self.release.binary, self.layout.node(node), self.settings.extra_args
        cfg = where.config
        ctr = ctr_command(where)
        return [
            Component(
                where.component("containerd"),
                ["/usr/bin/containerd", "--config", str(cfg / "containerd.toml")],
                lambda: subprocess.run([*ctr, "version"], capture_output=True).returncode == 0,
                enter=node.enter(),
            ),
            Component(
                where.component("kubelet"),
                [
                    str(bin_("kubelet")),
                    f"--config={cfg / 'kubelet.yaml'}",
                    f"--kubeconfig={cfg / 'kubelet.kubeconfig'}",
                    f"--root-dir={where.kubelet_root}",
                    f"--hostname-override={node.name}",
                    f"--node-ip={node.ip}",
                    *extra.get("kubelet", []),
                ],
                lambda: _get_ok(f"http://{node.ip}:10248/healthz"),
                timeout=90,
                enter=node.enter(),
            ),
            Component(
                where.component("kube-proxy"),
                [
                    str(bin_("kube-proxy")),
                    f"--config={cfg / 'kube-proxy.yaml'}",
                    *self._feature_gates(),
                    *extra.get("kube-proxy", []),
                ],
                lambda: _port_open(node.ip, KUBE_PROXY_HEALTH_PORT),
                enter=node.enter(),
            ),
        ]

    def _control_plane(self) -> list[Component]:
        bin_ = self.release.binary
        pki, net, cfg = self.pki, self.net, self.layout.config
        extra = self.settings.extra_args
        etcd_url = "https://127.0.0.1:2379"
        return [
            Component(
                "registry",
                ["/usr/bin/docker-registry", "serve", str(cfg / "registry.yaml")],
                lambda: _answers(f"http://{REGISTRY_ADDRESS}/v2/"),
            ),
            Component(
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
            Component(
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
            Component(
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
            Component(
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
        ]
