"""An image built in CI gets into the local cluster without a registry, by the CLI and by the workload file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import Builder
from podlife.cluster.local.components import REGISTRY_ADDRESS
from podlife.cluster.local.images import ImageSpec, write_oci_archive
from podlife.cluster.local.provider import LocalCluster
from podlife.scene import Scene
from podlife.waiting import wait_for

#: One test here runs a pytest session of its own, the others the CLI: run alone, as in CI.
pytestmark = pytest.mark.exclusive

ROOT = Path(__file__).resolve().parents[2]
STANDIN_KIND = ROOT / "tests" / "standins" / "kind"
#: The user's image: agnhost under a name no registry serves, so a pod can only run it if it was loaded.
IMAGE = "example.invalid/podlife-sample/shop:1.0"
#: Where ``image load`` pushes it: the local cluster's registry.
PUSHED = f"{REGISTRY_ADDRESS}/podlife-sample/shop:1.0"


def ctr(cluster: LocalCluster, *args: str) -> str:
    return subprocess.run([*cluster.ctr_command(), *args], capture_output=True, text=True, check=True).stdout


def loaded(cluster: LocalCluster, image: str = IMAGE) -> bool:
    return image in ctr(cluster, "images", "ls", "-q").split()


@pytest.fixture
def archive(local_cluster: LocalCluster, podlife_cluster: ClusterHandle, tmp_path: Path) -> Iterator[Path]:
    """An OCI layout tar of the user's image (as CI builds make), in containerd under no name.

    It is agnhost with content of its own: an image sharing a preloaded image's digest would
    take that image with it when removed (containerd 1.6's CRI forgets every name of a digest
    when one name is removed after a pull).
    """
    release = Builder(podlife_cluster.version.lstrip("v")).cached()
    assert release is not None, "the local cluster's build is not cached"
    path = tmp_path / "shop.tar"
    write_oci_archive(ImageSpec(name=IMAGE, files={"/agnhost": release.binary("agnhost")},
                                data={"/shop": tmp_path.name.encode()}, entrypoint=["/agnhost"]), path)
    yield path
    for image in (IMAGE, PUSHED):
        if loaded(local_cluster, image):
            ctr(local_cluster, "images", "rm", image)


def test_podlife_image_load_imports_an_archive(local_cluster: LocalCluster, archive: Path) -> None:
    result = subprocess.run(["podlife", "image", "load", str(archive)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and f"loaded {IMAGE}, {PUSHED}" in result.stderr, result.stderr
    assert loaded(local_cluster)


def test_a_pod_that_always_pulls_gets_the_pushed_image(scene: Scene, local_cluster: LocalCluster, archive: Path,
                                                       k8s: client.ApiClient, namespace: str) -> None:
    """``imagePullPolicy: Always`` skips containerd's copy: the pull must come from the local registry."""
    subprocess.run(["podlife", "image", "load", str(archive)], capture_output=True, text=True, timeout=120, check=True)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pulled"},
           "spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": PUSHED, "imagePullPolicy": "Always", "command": ["/agnhost", "--help"]}]}}
    scene.apply(pod)
    wait_for(lambda: terminated_with(k8s, namespace, "pulled") is not None, 120, "the pod of the pushed image to finish")
    assert terminated_with(k8s, namespace, "pulled") == 0
    reasons = [e.reason for e in client.CoreV1Api(k8s).list_namespaced_event(
        namespace, field_selector="involvedObject.name=pulled").items]
    assert "Pulling" in reasons and "Pulled" in reasons, reasons


def terminated_with(api: client.ApiClient, namespace: str, name: str) -> int | None:
    """The pod's container exit code once it has ended, else None."""
    statuses = client.CoreV1Api(api).read_namespaced_pod(name, namespace).status.container_statuses or []
    ended = [s.state.terminated for s in statuses if s.state and s.state.terminated]
    return ended[0].exit_code if ended else None


def test_not_an_image_archive_is_one_line(local_cluster: LocalCluster, tmp_path: Path) -> None:
    bogus = tmp_path / "app.tar"
    bogus.write_text("not an image")
    result = subprocess.run(["podlife", "image", "load", str(bogus)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "is not an image archive" in result.stderr


def test_a_workload_runs_the_image_its_file_names(local_cluster: LocalCluster, archive: Path, tmp_path: Path) -> None:
    app = (ROOT / "fixtures" / "workloads" / "graceful" / "app.yaml").read_text()
    (tmp_path / "app.yaml").write_text(app.replace("registry.k8s.io/e2e-test-images/agnhost:2.66.1", IMAGE))
    (tmp_path / "podlife-workload.yaml").write_text(
        f"workloads:\n  - name: shop\n    manifests: app.yaml\n    target: Deployment/web\n"
        f"    service: {{name: web, port: http}}\n    images: [{archive}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "scenarios/test_workload.py",
         "-k", "shuts_down", "--workload", str(tmp_path / "podlife-workload.yaml"),
         "--podlife-summary", str(tmp_path / "summary.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "1 passed" in output, output[-3000:]
    assert f"loaded {IMAGE}, {PUSHED} from {archive}" in output


def test_on_kind_the_archive_goes_through_kind_load(local_cluster: LocalCluster, archive: Path, tmp_path: Path) -> None:
    log, state = tmp_path / "kind-calls", tmp_path / "kind-state"
    state.mkdir()
    (state / "podlife-ci").touch()
    env = {**os.environ, "STANDIN_KIND_LOG": str(log), "STANDIN_KIND_STATE": str(state),
           "STANDIN_KIND_IMPORT": json.dumps(local_cluster.ctr_command())}
    result = subprocess.run(["podlife", "image", "load", str(archive), "--kind", "podlife-ci", "--kind-bin", str(STANDIN_KIND)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0 and f"loaded {IMAGE}" in result.stderr, result.stderr
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        ["load", "image-archive", str(archive), "--name", "podlife-ci"]]
    assert loaded(local_cluster)
    missing = subprocess.run(["podlife", "image", "load", str(archive), "--kind", "other", "--kind-bin", str(STANDIN_KIND)],
                             capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 1 and "no nodes found for cluster 'other'" in missing.stderr, missing.stderr
