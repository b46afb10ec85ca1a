"""The reference images of the local cluster, assembled from built binaries and Debian files.

They carry their upstream names and tags so the manifests scenarios use run unchanged on kind
and on real clusters. Upstream agnhost is Alpine-based with a shell, ``nslookup`` and ``curl``
beside ``/agnhost``; scenarios exec into it, so the local image gets busybox's applets and
Debian's curl (with its libraries) as well, and what the upstream e2e suite relies on: ``bash``,
the ``porter`` TLS pair at ``/localhost.crt`` and ``/localhost.key`` (from the same Kubernetes
module), ``/uploads``, the ``/agnhost-2`` link and the image-defined user and group.

The other images that version's e2e suite names (``test/utils/image/manifest.go``) are there
under its names too: its previous agnhost tag (specs that update a pod's image go from it to the
current one) is the same agnhost, its busybox tag the same busybox, and its nginx tags are a
stand-in that serves HTTP on port 80 from ``/usr/share/nginx/html`` (busybox's httpd), which is
all the lifecycle specs ask of nginx: a long-running server to update, delete or hook into.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Callable

from podlife.cluster.local.build import Release, kubernetes_source
from podlife.cluster.local.images import ImageSpec, busybox_applets, shared_libraries, write_oci_archive
from podlife.errors import PodlifeError

BUSYBOX = Path("/bin/busybox")
CURL = Path("/usr/bin/curl")
BASH = Path("/bin/bash")
#: Part of every archive's name: a change to what the images hold makes the cache build them anew.
IMAGES_REVISION = 2
#: Debian bookworm's busybox-static is 1.35.0; the same tag exists upstream.
BUSYBOX_TAG = "1.35.0"

_ETC = {
    "/etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "/etc/group": b"root:x:0:\nnogroup:x:65534:\n",
}


def _with_busybox(spec: ImageSpec) -> ImageSpec:
    """Add busybox and a link for each of its applets, plus the basic /etc files a shell expects."""
    spec.files["/bin/busybox"] = BUSYBOX
    for applet in busybox_applets(BUSYBOX):
        if applet != "busybox":
            spec.symlinks.setdefault(f"/bin/{applet}", "/bin/busybox")
    spec.data.update(_ETC)
    spec.directories.update({"/tmp": 0o1777, "/root": 0o700, "/var/log": 0o755})
    return spec


def e2e_image_tags(kube_src: Path) -> list[tuple[str, str]]:
    """(name, tag) of the agnhost, busybox and nginx images the version's e2e suite names from its own registry."""
    text = (kube_src / "test/utils/image/manifest.go").read_text()
    return re.findall(r'Config\{list\.PromoterE2eRegistry, "(agnhost|busybox|nginx)", "([^"]+)"\}', text)


def _e2e_images(kube_src: Path, agnhost: ImageSpec, busybox: ImageSpec) -> list[ImageSpec]:
    found = []
    for name, tag in e2e_image_tags(kube_src):
        image = f"registry.k8s.io/e2e-test-images/{name}:{tag}"
        if image == agnhost.name:
            continue
        if name in ("agnhost", "busybox"):
            found.append(replace(agnhost if name == "agnhost" else busybox, name=image))
        else:
            found.append(_with_busybox(ImageSpec(
                name=image,
                data={"/usr/share/nginx/html/index.html": b"<html><body>podlife nginx stand-in</body></html>\n"},
                entrypoint=["/bin/httpd", "-f", "-p", "80", "-h", "/usr/share/nginx/html"],
                exposed_ports=["80/tcp"],
            )))
    return found


def image_specs(release: Release) -> list[ImageSpec]:
    """Every image the local cluster preloads for ``release``."""
    kube_src = kubernetes_source(release.version)
    porter = kube_src / "test/images/agnhost/porter"
    agnhost = _with_busybox(ImageSpec(
        name=f"registry.k8s.io/e2e-test-images/agnhost:{release.agnhost_tag}",
        files={
            "/agnhost": release.binary("agnhost"),
            "/usr/bin/curl": CURL, **shared_libraries(CURL),
            "/bin/bash": BASH, **shared_libraries(BASH),
            "/localhost.crt": porter / "localhost.crt",
            "/localhost.key": porter / "localhost.key",
        },
        symlinks={"/agnhost-2": "agnhost"},
        directories={"/uploads": 0o755},
        entrypoint=["/agnhost"],
        cmd=["pause"],
    ))
    agnhost.data.update({  # upstream: adduser -u 1000 user-defined-in-image, in group-defined-in-image (50000)
        "/etc/passwd": _ETC["/etc/passwd"] + b"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n",
        "/etc/group": _ETC["/etc/group"] + b"user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n",
    })
    busybox = _with_busybox(ImageSpec(name=f"docker.io/library/busybox:{BUSYBOX_TAG}", cmd=["sh"]))
    return [
        ImageSpec(
            name=f"registry.k8s.io/pause:{release.pause_tag}",
            files={"/pause": release.binary("pause")},
            entrypoint=["/pause"],
            user="65535:65535",
        ),
        agnhost,
        busybox,
        ImageSpec(
            name=f"registry.k8s.io/coredns/coredns:{release.coredns_tag}",
            files={"/coredns": release.binary("coredns")},
            entrypoint=["/coredns"],
        ),
        *_e2e_images(kube_src, agnhost, busybox),
    ]


def preload(release: Release, archive_dir: Path, ctr: Callable[..., list[str]], progress: Callable[[str], None]) -> None:
    """Import every image not yet in containerd, assembling its archive first when missing."""
    present = set(subprocess.run(ctr("images", "ls", "-q"), capture_output=True, text=True).stdout.split())
    archive_dir.mkdir(parents=True, exist_ok=True)
    for spec in image_specs(release):
        if spec.name in present:
            continue
        archive = archive_dir / (spec.name.replace("/", "_").replace(":", "_") + f".r{IMAGES_REVISION}.tar")
        if not archive.exists():
            progress(f"assembling image {spec.name}")
            write_oci_archive(spec, archive)
        progress(f"importing image {spec.name}")
        proc = subprocess.run(ctr("images", "import", str(archive)), capture_output=True, text=True)
        if proc.returncode != 0:
            raise PodlifeError(f"importing {spec.name} into containerd failed: {proc.stderr.strip()}")
