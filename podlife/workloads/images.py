"""The reference images, by their upstream names; ``--image-repo`` points them at a mirror."""

from __future__ import annotations

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
BUSYBOX = "docker.io/library/busybox:1.35.0"


def mirrored(image: str, repo: str | None) -> str:
    """``registry.k8s.io/e2e-test-images/agnhost:2.66.1`` -> ``<repo>/agnhost:2.66.1`` for air-gapped clusters."""
    if not repo:
        return image
    return f"{repo.rstrip('/')}/{image.rsplit('/', 1)[1]}"
