"""Small verbs over the Kubernetes API that scenarios and smoke tests share."""

from __future__ import annotations

from typing import Any

from kubernetes import client, utils

from podlife.waiting import wait_for


def apply(api: client.ApiClient, namespace: str, *manifests: dict[str, Any]) -> None:
    """Create the given objects in ``namespace`` (the namespace is fresh, so create is enough)."""
    for manifest in manifests:
        utils.create_from_dict(api, manifest, namespace=namespace)


def ready_pods(api: client.ApiClient, namespace: str, selector: dict[str, str]) -> list[client.V1Pod]:
    """Pods matching ``selector`` whose Ready condition is True and that are not being deleted."""
    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=label_selector).items
    return [
        p for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    ]


def wait_ready(api: client.ApiClient, namespace: str, selector: dict[str, str], count: int, timeout: float = 120) -> list[client.V1Pod]:
    """Wait until ``count`` pods matching ``selector`` are Ready; return them."""
    return wait_for(
        lambda: (pods if len(pods := ready_pods(api, namespace, selector)) >= count else None),
        timeout,
        f"{count} Ready pod(s) with {selector} in {namespace}",
    )


def pod_gone(api: client.ApiClient, namespace: str, name: str) -> bool:
    """True once the pod object no longer exists (its containers stopped and the kubelet let it go)."""
    return not client.CoreV1Api(api).list_namespaced_pod(namespace, field_selector=f"metadata.name={name}").items
