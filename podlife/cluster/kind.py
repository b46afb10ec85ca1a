"""The ``kind`` provider: a kind cluster created (or reused) through pytest-kind's ``KindCluster``.

``--k8s-version`` names a minor or a patch; kind only runs node images it has published, so a
minor maps to the newest ``kindest/node`` image of that minor in kind's release notes, pinned by
digest as kind asks. ``--kind-image`` overrides the mapping.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from podlife.errors import PodlifeError

if TYPE_CHECKING:
    from pytest_kind import KindCluster

#: Newest published node image per minor, from kind's release notes: v0.33.0 (1.34-1.37),
#: v0.32.0 (1.33), v0.31.0 (1.31, 1.32).
NODE_IMAGES = {
    "1.37": "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    "1.36": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
    "1.35": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
    "1.34": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
    "1.33": "kindest/node:v1.33.12@sha256:3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4",
    "1.32": "kindest/node:v1.32.11@sha256:5fc52d52a7b9574015299724bd68f183702956aa4a2116ae75a63cb574b35af8",
    "1.31": "kindest/node:v1.31.14@sha256:6f86cf509dbb42767b6e79debc3f2c32e4ee01386f0489b3b2be24b0a55aac2b",
}


def node_image(k8s_version: str | None, kind_image: str | None) -> str | None:
    """The node image for ``--k8s-version`` (None: kind's own default); ``--kind-image`` wins."""
    if kind_image or not k8s_version:
        return kind_image
    match = re.fullmatch(r"v?(1\.\d+)(?:\.(\d+))?", k8s_version)
    if not match or match.group(1) not in NODE_IMAGES:
        raise PodlifeError(
            f"kind publishes no node image for Kubernetes {k8s_version!r}; choose a minor of "
            f"{', '.join(sorted(NODE_IMAGES, key=lambda m: int(m.split('.')[1])))} or pass --kind-image"
        )
    image = NODE_IMAGES[match.group(1)]
    if match.group(2) is not None and not image.startswith(f"kindest/node:v{match.group(1)}.{match.group(2)}@"):
        raise PodlifeError(
            f"kind publishes {image.split('@')[0]} for {match.group(1)}, not v{k8s_version.lstrip('v')}; "
            "pass the minor, or --kind-image for an image of your own"
        )
    return image


def kind_binary(kind_bin: Path | None) -> Path:
    """``--kind-bin`` or ``kind`` on PATH; pytest-kind would otherwise try to download one."""
    found = kind_bin or (Path(p) if (p := shutil.which("kind")) else None)
    if found is None or not found.exists():
        raise PodlifeError(f"no kind executable {'at ' + str(kind_bin) if kind_bin else 'on PATH'}: install kind or pass --kind-bin")
    return found


def cluster_config(nodes: int) -> str:
    """A kind cluster configuration of one control plane and ``nodes - 1`` workers (kind's own format)."""
    roles = ["control-plane", *["worker"] * (nodes - 1)]
    return "\n".join(["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:",
                      *(f"  - role: {role}" for role in roles), ""])


def create(name: str, kubeconfig: Path | None, image: str | None, kind_bin: Path, kubectl_bin: Path | None,
           nodes: int | None = None) -> "KindCluster":
    """Create (or reuse) the kind cluster ``name`` (``nodes``: a control plane and workers through a kind config);
    a failing ``kind`` is one line with its last words."""
    from pytest_kind import KindCluster

    cluster = KindCluster(name, kubeconfig, image=image, kind_path=kind_bin, kubectl_path=kubectl_bin)
    config = None
    if nodes and nodes > 1:
        config = cluster.kubeconfig_path.parent / f"{name}-kind-config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(cluster_config(nodes))
    try:
        cluster.create(config)
    except subprocess.CalledProcessError as err:
        raise PodlifeError(f"kind could not create cluster {name!r} (exit {err.returncode}); see kind's output above") from None
    return cluster


def delete(cluster: "KindCluster") -> None:
    try:
        cluster.delete()
    except subprocess.CalledProcessError as err:
        raise PodlifeError(f"kind could not delete cluster {cluster.name!r} (exit {err.returncode})") from None
