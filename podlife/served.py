"""Fields the API server always fills in, typed as present.

The client's models declare nearly every field optional, because a client may build an object
without it; an object the server returns has its metadata (name, namespace, uid), a pod its spec
and status, an access review its status. These accessors hand the type checker that guarantee.
Should the server (or a fake in a unit test) break it, the caller gets a ``HarnessError`` naming
the field: an observation the harness could not make, never a violated claim and never a
default that could let a check pass.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from kubernetes import client

from podlife.errors import HarnessError

T = TypeVar("T")


class _Object(Protocol):
    @property
    def metadata(self) -> client.V1ObjectMeta | None: ...


def present(value: T | None, what: str) -> T:
    """``value``, which the API server always sets; None raises ``HarnessError`` naming ``what``."""
    if value is None:
        raise HarnessError(f"the API server returned no {what}")
    return value


def meta(obj: _Object) -> client.V1ObjectMeta:
    return present(obj.metadata, f"metadata of a {type(obj).__name__}")


def name_of(obj: _Object) -> str:
    return present(meta(obj).name, f"name of a {type(obj).__name__}")


def pod_spec(pod: client.V1Pod) -> client.V1PodSpec:
    return present(pod.spec, f"spec of pod {meta(pod).name}")


def pod_status(pod: client.V1Pod) -> client.V1PodStatus:
    return present(pod.status, f"status of pod {meta(pod).name}")


def pod_ip(pod: client.V1Pod) -> str:
    """The IP of a pod that runs: the server sets it once the pod's sandbox is up, so callers ask only of such pods."""
    return present(pod_status(pod).pod_ip, f"IP of pod {meta(pod).name}")
