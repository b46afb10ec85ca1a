"""Images podlife builds for the image claims, and the pods that run them (OP-01, OP-02).

Both claims are about what a node pulls, so every image is new to the cluster: assembled the way
the local cluster's own images are (``cluster.local.images``: no docker, nothing downloaded),
from the host's static busybox and content of the test's own, and pushed by a
``cluster.registry.Shelf``.
"""

from __future__ import annotations

import os
from typing import Any

from podlife.cluster.local.images import ImageSpec
from podlife.cluster.local.local_images import BUSYBOX

#: The container every pod here runs; the verdicts read its status.
CONTAINER = "app"
#: A label no node carries: a pod selecting it is never scheduled, so nothing is pulled for it.
NOWHERE = {"podlife.io/nowhere": "true"}


def answering(reference: str, answer: str, nonce: str) -> ImageSpec:
    """One program, busybox's ``cat``, printing ``answer``: which version of the image ran is what it prints.

    ``nonce`` (the test's namespace) makes each image the test's own, so removing it removes
    nothing another test pushed.
    """
    return ImageSpec(name=reference, files={"/bin/busybox": BUSYBOX},
                     data={"/answer": f"{answer}\n".encode(), "/nonce": nonce.encode()},
                     entrypoint=["/bin/busybox", "cat", "/answer"])


def padded(reference: str, padding: int) -> ImageSpec:
    """busybox's ``sleep`` over ``padding`` bytes of fresh random data: the same program in images as large as asked.

    Random bytes do not compress, so a pull downloads and unpacks every one of them; the layer
    stores them uncompressed (gzip level 0), which saves building time and no pulling time. Fresh
    bytes each time make each image one no node has held.
    """
    return ImageSpec(name=reference, files={"/bin/busybox": BUSYBOX}, data={"/padding": os.urandom(padding)},
                     entrypoint=["/bin/busybox", "sleep", "3600"], compresslevel=0)


def image_pod(name: str, image: str, pull_policy: str | None = None, scheduled: bool = True) -> dict[str, Any]:
    """A pod running ``image`` once; ``pull_policy`` None leaves it to the API server's defaulting.

    An unscheduled pod (``scheduled=False``) only exists as an object: what the API server made of
    its spec can be read back, and no node pulls anything for it.
    """
    container: dict[str, Any] = {"name": CONTAINER, "image": image}
    if pull_policy is not None:
        container["imagePullPolicy"] = pull_policy
    spec: dict[str, Any] = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [container]}
    if not scheduled:
        spec["nodeSelector"] = NOWHERE
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
