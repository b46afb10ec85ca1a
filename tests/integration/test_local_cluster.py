"""Smoke tests: the local cluster is a working Kubernetes, not just running processes."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from kubernetes import client

from podlife.access import served_by
from podlife.cluster.local.components import REGISTRY_ADDRESS
from podlife.cluster.local.host import NODE_NAME
from podlife.cluster.local.images import ImageSpec, write_oci_archive
from podlife.cluster.local.provider import LocalCluster
from podlife.kernel.images import BUSYBOX
from podlife.kube import running_pod, wait_ready
from podlife.scene import Scene
from podlife.waiting import wait_for
from podlife.workloads.agnhost import HTTP_PORT, Netexec, client_pod
from tests.integration.conftest import Kubectl


def _events(api: client.ApiClient, namespace: str, pod: str) -> list[str]:
    items = client.CoreV1Api(api).list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}").items
    return [e.reason for e in items]


def _completed(api: client.ApiClient, namespace: str, pod: str) -> bool:
    return client.CoreV1Api(api).read_namespaced_pod(pod, namespace).status.phase == "Succeeded"


def test_node_is_ready(k8s: client.ApiClient, local_cluster: LocalCluster) -> None:
    node = client.CoreV1Api(k8s).read_node(NODE_NAME)
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"


def test_service_reachable_from_host_and_from_a_pod(scene: Scene, k8s: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    app = Netexec("web", replicas=2)
    scene.apply(app.deployment(), app.service(), client_pod("client"))
    pods = wait_ready(k8s, namespace, app.selector, 2)
    wait_ready(k8s, namespace, {"app": "client"}, 1)
    names = {p.metadata.name for p in pods}
    cluster_ip = client.CoreV1Api(k8s).read_namespaced_service("web", namespace).spec.cluster_ip
    assert wait_for(lambda: served_by(f"http://{cluster_ip}/hostname"), 30, "the Service from the host") in names
    from_pod = kubectl("exec", "client", "--", "curl", "-s", "-m", "5", f"http://web.{namespace}.svc.cluster.local/hostname")
    assert from_pod.stdout in names


def test_service_and_statefulset_names_resolve_and_claim_binds(scene: Scene, k8s: client.ApiClient, namespace: str,
                                                                kubectl: Kubectl) -> None:
    db = Netexec("db")
    scene.apply(db.service(headless=True), db.statefulset(claim_size="1Mi"), client_pod("client"))
    wait_ready(k8s, namespace, db.selector, 1)
    wait_ready(k8s, namespace, {"app": "client"}, 1)
    claim = client.CoreV1Api(k8s).read_namespaced_persistent_volume_claim("data-db-0", namespace)
    assert claim.status.phase == "Bound"
    pod_ip = client.CoreV1Api(k8s).read_namespaced_pod("db-0", namespace).status.pod_ip
    member = kubectl("exec", "client", "--", "nslookup", f"db-0.db.{namespace}.svc.cluster.local")
    assert pod_ip in member.stdout
    service = kubectl("exec", "client", "--", "nslookup", f"db.{namespace}.svc.cluster.local")
    assert pod_ip in service.stdout


def test_logs_exec_and_port_forward(scene: Scene, k8s: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    app = Netexec("web")
    scene.apply(app.deployment())
    pod = wait_ready(k8s, namespace, app.selector, 1)[0].metadata.name
    assert kubectl("exec", pod, "--", "cat", "/etc/hostname").stdout.strip() == pod
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    forward = subprocess.Popen(kubectl.argv("port-forward", f"pod/{pod}", f"{port}:{HTTP_PORT}"), stdout=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: served_by(f"http://127.0.0.1:{port}/hostname"), 30, "kubectl port-forward") == pod
    finally:
        forward.terminate()
        forward.wait()
    assert "GET /hostname" in kubectl("logs", pod).stdout


def test_preloaded_image_starts_without_a_pull(scene: Scene, k8s: client.ApiClient, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "preloaded"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["true"]}
        ]},
    }
    scene.apply(pod)
    wait_for(lambda: _completed(k8s, namespace, "preloaded"), 60, "the preloaded-image pod to complete")
    reasons = _events(k8s, namespace, "preloaded")
    assert "Pulled" in reasons and "Pulling" not in reasons, reasons


def test_image_pushed_to_local_registry_is_pulled(scene: Scene, k8s: client.ApiClient, namespace: str, local_cluster: LocalCluster,
                                                  tmp_path: Path) -> None:
    """Assemble a fresh image, push it to the local registry, drop the local copy: a pod must pull it.

    The image's content is unique to the test: retagging a preloaded image instead would share
    its digest, and removing that tag makes containerd 1.6's CRI forget the preloaded name too.
    """
    pushed = f"{REGISTRY_ADDRESS}/podlife-smoke/{namespace}:v1"
    archive = tmp_path / "image.tar"
    write_oci_archive(ImageSpec(name=pushed, files={"/bin/true": Path("/bin/busybox")},
                                data={"/smoke": namespace.encode()}, entrypoint=["/bin/true"]), archive)
    ctr = local_cluster.ctr_command()
    for step in (["images", "import", str(archive)], ["images", "push", "--plain-http", pushed], ["images", "rm", pushed]):
        subprocess.run([*ctr, *step], check=True, capture_output=True)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pulled"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": pushed}]},
    }
    scene.apply(pod)
    wait_for(lambda: _completed(k8s, namespace, "pulled"), 60, "the pod of the pushed image to complete")
    assert "Pulling" in _events(k8s, namespace, "pulled")


def test_agnhost_carries_what_the_upstream_image_does(scene: Scene, k8s: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    """What the upstream e2e suite relies on: bash, porter's TLS pair, /uploads, agnhost-2, the image's own user."""
    scene.apply(client_pod("client"))
    wait_ready(k8s, namespace, {"app": "client"}, 1)
    script = ("bash -c 'echo $BASH_VERSION' && test -s /localhost.crt && test -s /localhost.key && test -d /uploads "
              "&& /agnhost-2 --help >/dev/null && id user-defined-in-image && grep -q '^group-defined-in-image:x:50000:' /etc/group")
    out = kubectl("exec", "client", "--", "sh", "-c", script).stdout
    assert "uid=1000(user-defined-in-image)" in out, out


def test_busybox_wget_resolves_service_names(scene: Scene, k8s: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    """Name resolution in the busybox image works (Debian's busybox 1.35 ``wget -T`` crashes; plain wget does not)."""
    app = Netexec("web")
    fetcher = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fetcher"},
               "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sleep", "600"]}]}}
    scene.apply(app.deployment(), app.service(), fetcher)
    pods = wait_ready(k8s, namespace, app.selector, 1)
    wait_for(lambda: running_pod(k8s, namespace, "fetcher"), 60, "the fetcher pod to run")
    url = f"http://web.{namespace}.svc.cluster.local/hostname"

    def fetch() -> str | None:
        try:
            return kubectl("exec", "fetcher", "--", "wget", "-q", "-O-", url).stdout
        except subprocess.CalledProcessError as err:
            assert err.returncode != 139, f"busybox wget crashed on {url}"
            return None  # the Service's endpoints or DNS record may not be there yet

    assert wait_for(fetch, 30, f"wget {url} from the busybox pod") == pods[0].metadata.name
