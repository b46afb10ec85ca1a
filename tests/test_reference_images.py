"""Every container the harness creates gets the cluster's agnhost tag and the mirror; other images are kept."""

from __future__ import annotations

from podlife.kernel.images import AGNHOST, BUSYBOX, ReferenceImages, agnhost_tag
from podlife.workloads.agnhost import Netexec
from podlife.workloads.members import Members


def _images(manifest: dict) -> list[str]:
    found, stack = [], [manifest]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [c["image"] for key in ("containers", "initContainers") for c in node.get(key) or []]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)


def test_adapt_reaches_init_containers_templates_and_jobs() -> None:
    images = ReferenceImages(agnhost_tag="2.63.0", repo="mirror.example:5000/e2e/")
    waiting = Netexec("web", depends_on="db", dependency_check="init").deployment()
    assert _images(images.adapt(waiting)) == ["mirror.example:5000/e2e/agnhost:2.63.0"] * 2
    store = Members("store", script=["true"])
    for manifest in (store.statefulset(), store.migration_job(2, 0)):
        assert set(_images(images.adapt(manifest))) == {"mirror.example:5000/e2e/busybox:1.35.0"}


def test_adapt_keeps_other_images_and_the_original() -> None:
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "app", "image": "ghcr.io/me/app:1"},
                                                  {"name": "side", "image": AGNHOST}]}}
    adapted = ReferenceImages(agnhost_tag="2.63.0").adapt(pod)
    assert _images(adapted) == ["ghcr.io/me/app:1", "registry.k8s.io/e2e-test-images/agnhost:2.63.0"]
    assert pod["spec"]["containers"][1]["image"] == AGNHOST


def test_without_a_mirror_the_upstream_names_stay() -> None:
    assert ReferenceImages().busybox == BUSYBOX
    assert ReferenceImages().agnhost == AGNHOST


def test_agnhost_tag_follows_the_server_version() -> None:
    assert agnhost_tag("v1.37.2") == "2.66.1"
    assert agnhost_tag("v1.36.4") == "2.63.0"
    assert agnhost_tag("v1.99.0") == AGNHOST.rsplit(":", 1)[1]
