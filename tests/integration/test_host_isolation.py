"""Nothing of the running local cluster is reachable from another machine, nor writable by other users.

A network namespace with its own veth link to this host stands in for a neighbour on the LAN
that routes the cluster's private ranges to us. It probes every TCP port the cluster's
processes listen on, the API server, the kubelet, a NodePort, a hostPort, a pod and a
ClusterIP. Each probe has a positive control: the same target answers from the host itself,
and a listener of the test's own on the host's link address answers the neighbour, so a
"blocked" result means the guard, not a broken probe.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from typing import Iterator

import pytest
from kubernetes import client

from podlife.access import served_by
from podlife.cluster.local.components import APISERVER_PORT, KUBE_PROXY_HEALTH_PORT
from podlife.cluster.local.host import LOOPBACK_PORTS, Network, Node
from podlife.cluster.local.provider import LocalCluster
from podlife.kube import wait_ready
from podlife.scene import Scene
from podlife.served import name_of
from podlife.waiting import wait_for
from podlife.workloads.agnhost import HTTP_PORT, Netexec, client_pod

HOST_ADDRESS, NEIGHBOUR_ADDRESS = "198.18.0.1", "198.18.0.2"
HOST_PORT = 18080
PROBE = """
import json, socket, sys
found = {}
for host, port in json.loads(sys.argv[1]):
    with socket.socket() as s:
        s.settimeout(1.0)
        found[f"{host}:{port}"] = s.connect_ex((host, port)) == 0
print(json.dumps(found))
"""


def probe(targets: list[tuple[str, int]], netns: str | None = None) -> dict[str, bool]:
    """Which ``host:port`` accept a TCP connection, seen from ``netns`` (or from this host)."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    out = subprocess.run([*prefix, sys.executable, "-c", PROBE, json.dumps(targets)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return json.loads(out)


@pytest.fixture
def neighbour() -> Iterator[str]:
    """A network namespace linked to this host by a veth pair, routing everything through us."""
    name = f"podlife-neighbour-{uuid.uuid4().hex[:6]}"
    host_end, far_end = f"plnb{name[-6:]}", "eth0"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (
            ["ip", "link", "add", host_end, "type", "veth", "peer", "name", far_end, "netns", name],
            ["ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", host_end],
            ["ip", "link", "set", host_end, "up"],
            ["ip", "-n", name, "addr", "add", f"{NEIGHBOUR_ADDRESS}/30", "dev", far_end],
            ["ip", "-n", name, "link", "set", far_end, "up"],
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "-n", name, "route", "add", "default", "via", HOST_ADDRESS],
        ):
            subprocess.run(cmd, check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)


def listening_ports(cluster: LocalCluster, node: Node | None = None) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the cluster's processes listen on, in ``node``'s network namespace
    (the host's by default)."""
    pids = set(cluster.supervisor.running().values())
    found = set()
    enter = node.enter() if node else []
    for line in subprocess.run([*enter, "ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines():
        local, users = line.split()[3], line
        address, port = local.rsplit(":", 1)
        if any(f"pid={pid}," in users for pid in pids):
            found.add((address.strip("[]"), int(port)))
    return found


def other_nodes(cluster: LocalCluster) -> list[Node]:
    """The nodes in network namespaces of their own (none on a cluster of one node)."""
    return [n for n in cluster.nodes() if n.netns is not None]


def test_components_listen_only_on_the_node_address_or_loopback(local_cluster: LocalCluster) -> None:
    net = Network()
    wide = {f"{a}:{p}" for a, p in listening_ports(local_cluster) if a not in (net.node_ip, "127.0.0.1", "::1")}
    for node in other_nodes(local_cluster):
        wide |= {f"{node.name} {a}:{p}" for a, p in listening_ports(local_cluster, node) if a not in (node.ip, "127.0.0.1", "::1")}
    assert not wide, f"cluster processes listen beyond the node address and loopback: {sorted(wide)}"


def test_nothing_of_the_cluster_answers_a_neighbour(scene: Scene, local_cluster: LocalCluster, k8s: client.ApiClient,
                                                    namespace: str, neighbour: str) -> None:
    net = Network()
    app = Netexec("web")
    host_ported = Netexec("hostported").deployment()
    host_ported["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] = HOST_PORT
    scene.apply(app.deployment(), app.service(), host_ported)
    pod = wait_ready(k8s, namespace, app.selector, 1)[0]
    wait_ready(k8s, namespace, {"app": "hostported"}, 1)
    service = client.CoreV1Api(k8s).read_namespaced_service(app.name, namespace)
    node_port = service.spec.ports[0].node_port
    for url in (f"http://{service.spec.cluster_ip}/hostname", f"http://{net.node_ip}:{node_port}/hostname"):
        wait_for(lambda: served_by(url), 30, f"kube-proxy to route {url}")

    cluster_targets = [
        (net.node_ip, APISERVER_PORT), (net.node_ip, 10250), (net.node_ip, KUBE_PROXY_HEALTH_PORT),
        (net.node_ip, node_port), (pod.status.pod_ip, HTTP_PORT), (service.spec.cluster_ip, 80),
    ]
    for node in other_nodes(local_cluster):  # every other node's own listeners, on its own address
        cluster_targets += sorted((node.ip, port) for address, port in listening_ports(local_cluster, node) if address == node.ip)
    from_host = probe(cluster_targets)
    assert all(from_host.values()), f"the probe does not reach the cluster from the host itself: {from_host}"

    ports = {port for _, port in listening_ports(local_cluster)} | {node_port, HOST_PORT}
    targets = cluster_targets + [(HOST_ADDRESS, port) for port in sorted(ports)]
    with socket.create_server((HOST_ADDRESS, 0)) as control:
        control_target = (HOST_ADDRESS, control.getsockname()[1])
        seen = probe(targets + [control_target], netns=neighbour)
    assert seen.pop(f"{HOST_ADDRESS}:{control_target[1]}"), "the neighbour cannot reach this host at all: the probe is broken"
    reached = sorted(target for target, ok in seen.items() if ok)
    assert not reached, f"a neighbour on the LAN reaches the cluster at {reached}"


def test_pods_reach_the_lan_as_the_host(scene: Scene, k8s: client.ApiClient, namespace: str, neighbour: str) -> None:
    """What leaves the cluster leaves as this host: a neighbour on the LAN sees the host's address, never a pod's."""
    port = 18081
    server = subprocess.Popen(["ip", "netns", "exec", neighbour, sys.executable, "-c", (
        "import socket\n"
        f"s = socket.create_server(('{NEIGHBOUR_ADDRESS}', {port}))\n"
        "c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()\n")], stdout=subprocess.PIPE, text=True)
    try:
        scene.apply(client_pod("client"))
        pod = wait_ready(k8s, namespace, {"app": "client"}, 1)[0]
        seen = wait_for(lambda: scene.exec(name_of(pod), ["sh", "-c", f"curl -s -m 2 telnet://{NEIGHBOUR_ADDRESS}:{port} || true"]),
                        60, "the neighbour to answer a pod")
    finally:
        server.kill()
    assert seen.strip() == HOST_ADDRESS, f"the neighbour saw the pod's connection come from {seen.strip()!r}, not this host"


def test_loopback_ports_refuse_other_users(local_cluster: LocalCluster) -> None:
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    node_ip = Network().node_ip
    targets = [(address, port) for address in ("127.0.0.1", node_ip) for port in LOOPBACK_PORTS]
    open_ports = {target for target, listening in probe(targets).items() if listening}
    assert f"{node_ip}:5000" in open_ports, "the registry does not listen: the control cannot run"
    out = subprocess.run([*as_nobody, sys.executable, "-c", PROBE, json.dumps(targets)],
                         capture_output=True, text=True, check=True).stdout
    reached = sorted(target for target, ok in json.loads(out).items() if ok)
    assert not reached, f"an unprivileged local user reaches {reached}"


def test_state_and_logs_are_private(local_cluster: LocalCluster) -> None:
    layout = local_cluster.layout
    for path in (layout.root, layout.logs, *layout.logs.iterdir()):
        mode = path.stat().st_mode
        assert path.stat().st_uid == 0 and not mode & 0o077, f"{path} is readable by others ({oct(mode & 0o777)})"
