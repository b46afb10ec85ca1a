"""Before the first test: can the cluster run the reference images at all?

Run once per pytest run by whoever provisions the cluster. An image the cluster cannot pull
(no route to the registry, a mirror without it, a typo in ``--image-repo``) would otherwise
turn every scenario into the same timeout; here it is one line naming the image and the reason.
"""

from __future__ import annotations

import uuid
from typing import Callable

from kubernetes import client

from podlife.cluster.base import RUN_LABEL, ClusterHandle
from podlife.kernel.images import ReferenceImages
from podlife.kube import running_pod
from podlife.waiting import wait_for

#: Long enough for a first pull from a remote registry on a slow link; pulls that fail end the wait at once.
PREFLIGHT_TIMEOUT = 180.0


def _pod(name: str, agnhost: str, busybox: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {RUN_LABEL: "preflight"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "restartPolicy": "Never",
            "containers": [
                {"name": "agnhost", "image": agnhost, "args": ["pause"]},
                {"name": "busybox", "image": busybox, "command": ["sleep", "3600"]},
            ],
        },
    }


def run_preflight(handle: ClusterHandle, images: ReferenceImages, shared_namespace: str | None,
                  say: Callable[[str], None]) -> None:
    """Start one pod with both reference images; raise if it cannot run.

    It runs in a throw-away labelled namespace, or in namespace-scoped mode in the first
    namespace granted, under a name of its own.
    """
    api = handle.api_client()
    core = client.CoreV1Api(api)
    suffix = uuid.uuid4().hex[:8]
    namespace, name = shared_namespace or f"podlife-preflight-{suffix}", f"podlife-preflight-{suffix}"
    agnhost, busybox = images.agnhost, images.busybox
    say(f"preflight: can the cluster run {agnhost} and {busybox}?")
    if not shared_namespace:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels={RUN_LABEL: "preflight"})))
    try:
        core.create_namespaced_pod(namespace, client.V1Pod.model_validate(_pod(name, agnhost, busybox)))
        wait_for(lambda: running_pod(api, namespace, name), PREFLIGHT_TIMEOUT, "the preflight pod to run the reference images")
    finally:
        if shared_namespace:
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        else:
            core.delete_namespace(namespace, grace_period_seconds=0)
