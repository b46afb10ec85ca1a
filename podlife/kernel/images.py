"""The reference images, by their upstream names, and the one place that adapts them to a cluster.

Builders write the upstream names; ``kube.apply`` passes every object through the
``ReferenceImages`` its scene was given (one value per run, made by the plugin from the
cluster's version and ``--image-repo``), which swaps in the agnhost tag of the cluster's
Kubernetes version and, with ``--image-repo``, a mirror. Images that are not reference images
(a user's own) are left as they are. A value, not process state: the trail from the option to
the pod spec runs through the scene.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

AGNHOST_NAME = "registry.k8s.io/e2e-test-images/agnhost"
#: agnhost as the default version (1.37) names it; other versions get their own tag on apply.
AGNHOST = f"{AGNHOST_NAME}:2.66.1"
BUSYBOX = "docker.io/library/busybox:1.35.0"

#: The agnhost each Kubernetes minor's e2e suite runs (``test/utils/image/manifest.go`` of its
#: releases; 1.37.2 read from its module, the others from vendored copies of that file). The
#: local cluster uses the tag its own build read from ``test/images/agnhost/VERSION`` instead.
AGNHOST_TAGS = {
    "1.31": "2.52",
    "1.32": "2.53",
    "1.33": "2.53",
    "1.34": "2.56",
    "1.35": "2.59",
    "1.36": "2.63.0",
    "1.37": "2.66.1",
}


def agnhost_tag(k8s_version: str) -> str:
    """The agnhost tag for a server version like ``v1.36.4``; the default's for versions not listed."""
    match = re.match(r"v?(1\.\d+)", k8s_version)
    return AGNHOST_TAGS.get(match.group(1) if match else "", AGNHOST.rsplit(":", 1)[1])


@dataclass(frozen=True)
class ReferenceImages:
    """How this cluster names the reference images."""

    agnhost_tag: str = AGNHOST.rsplit(":", 1)[1]
    #: ``--image-repo``: pull ``<repo>/agnhost:<tag>`` and ``<repo>/busybox:<tag>`` instead.
    repo: str | None = None

    @property
    def agnhost(self) -> str:
        return self.resolve(AGNHOST)

    @property
    def busybox(self) -> str:
        return self.resolve(BUSYBOX)

    def resolve(self, image: str) -> str:
        """The name to pull a reference image by on this cluster; any other image unchanged."""
        if image == AGNHOST:
            image = f"{AGNHOST_NAME}:{self.agnhost_tag}"
        elif image != BUSYBOX:
            return image
        return f"{self.repo.rstrip('/')}/{image.rsplit('/', 1)[1]}" if self.repo else image

    def adapt(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``manifest`` with every container's and init container's image resolved, at any depth."""
        adapted = copy.deepcopy(manifest)
        stack: list[Any] = [adapted]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key in ("containers", "initContainers"):
                    for container in node.get(key) or []:
                        if isinstance(container, dict) and isinstance(container.get("image"), str):
                            container["image"] = self.resolve(container["image"])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        return adapted

