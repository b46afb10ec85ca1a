"""Small verbs over the Kubernetes API that scenarios and smoke tests share."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence, cast

import urllib3
from kubernetes import client
from kubernetes.stream import stream

from podlife.errors import ExecFailed, PodCannotRun, PodlifeError
from podlife.kernel.images import ReferenceImages
from podlife.served import meta, pod_spec, pod_status
from podlife.waiting import wait_for

#: Waiting reasons after which a container will not start without someone changing the pod or
#: the registry: a wait for such a pod ends at once, naming the image and the reason, instead
#: of running into its timeout.
CANNOT_RUN = frozenset({
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
    "CreateContainerConfigError", "CreateContainerError",
})


#: Bytes per websocket frame of an exec's input.
EXEC_CHUNK = 1 << 16

#: The field manager podlife's applies are recorded under (``kubectl`` shows it in managedFields).
FIELD_MANAGER = "podlife"


def apply(api: client.ApiClient, namespace: str, *manifests: dict[str, Any], images: ReferenceImages,
          labels: Mapping[str, str], discovery: Discovery, source: str = "podlife") -> None:
    """Server-side apply the given objects in ``namespace``, as ``kubectl apply --server-side`` would.

    An apply creates what is missing and updates what is there, so a re-run, a rollout of a changed
    manifest and a user's own objects all behave as they do with ``kubectl``. Every kind is resolved
    against the cluster's discovery before anything is applied, so an unknown or cluster-scoped
    kind is one line naming ``source`` and leaves nothing behind. Every object passes through
    ``images`` (the agnhost tag follows the cluster's version, ``--image-repo`` reaches every pod)
    and gets ``labels`` (the test's stamp) on itself and its templates: all of it given by the
    caller (the scene), none of it kept here.
    """
    paths = discovery.object_paths(namespace, manifests, source)
    for manifest, path in zip(manifests, paths):
        body = json.dumps(stamped(images.adapt(manifest), labels))
        try:
            _request(api, "PATCH", path, body, [("fieldManager", FIELD_MANAGER), ("force", "true")],
                     "application/apply-patch+yaml")
        except client.ApiException as err:
            if err.status not in (400, 404, 409, 422):
                raise
            raise PodlifeError(f"{source}: {_name(manifest)} was refused by the cluster: {status_message(err)}") from None


def _request(api: client.ApiClient, method: str, path: str, body: str | None = None,
             query: list[tuple[str, str]] | None = None, content_type: str | None = None) -> bytes:
    """One call to the API server with the client's credentials; a non-2xx answer raises ``ApiException``."""
    headers = {"Accept": "application/json", **({"Content-Type": content_type} if content_type else {})}
    method, url, headers, body, _ = api.param_serialize(method, path, query_params=query, header_params=headers,
                                                        body=body, auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body)
    data: bytes = response.read()
    if not 200 <= response.status <= 299:
        raise client.ApiException(status=response.status, reason=response.reason, body=data.decode(errors="replace"))
    return data


def unread(response: object) -> urllib3.BaseHTTPResponse:
    """What a client call made with ``_preload_content=False`` returns: urllib3's response, its body unread.

    The client's signatures give every call the type of its decoded content (``str``), whatever that flag says.
    """
    return cast(urllib3.BaseHTTPResponse, response)


def _name(manifest: dict[str, Any]) -> str:
    return f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"


def status_message(err: client.ApiException) -> str:
    """The API server's message for a refused call, on one line; its status and reason if the body has none."""
    try:
        return str(json.loads(err.body or "")["message"]).replace("\n", " ")
    except (TypeError, ValueError, KeyError):
        return f"{err.status} {err.reason}"


class Discovery:
    """The kinds a cluster serves, read from its discovery once per group version and kept for the session.

    Held by the session (one per run and process), so a test's applies ask the API server about a
    group version once, not per object, and nothing is cached beyond the object's owner.
    """

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._served: dict[str, dict[str, tuple[str, bool]]] = {}

    def resources(self, group_version: str) -> dict[str, tuple[str, bool]]:
        """Kind -> (plural, namespaced) of one API group version."""
        if group_version not in self._served:
            try:
                listing = json.loads(_request(self.api, "GET", _api_prefix(group_version)))
            except client.ApiException as err:
                if err.status != 404:
                    raise
                listing = {}
            self._served[group_version] = {r["kind"]: (r["name"], r["namespaced"])
                                           for r in listing.get("resources", []) if "/" not in r["name"]}
        return self._served[group_version]

    def object_paths(self, namespace: str, manifests: Sequence[dict[str, Any]], source: str) -> list[str]:
        """Where an apply of each manifest goes; an unknown or cluster-scoped kind is a ``PodlifeError`` naming ``source``."""
        return [self._object_path(namespace, manifest, source) for manifest in manifests]

    def _object_path(self, namespace: str, manifest: dict[str, Any], source: str) -> str:
        group_version, kind = manifest.get("apiVersion", ""), manifest.get("kind", "")
        found = self.resources(group_version).get(kind)
        if found is None:
            raise PodlifeError(f"{source}: {_name(manifest)}: this cluster serves no kind {kind!r} in {group_version!r}")
        plural, namespaced = found
        if not namespaced:
            raise PodlifeError(f"{source}: {_name(manifest)} is cluster-scoped; podlife applies objects into a test namespace only")
        return f"{_api_prefix(group_version)}/namespaces/{namespace}/{plural}/{manifest['metadata']['name']}"


def _api_prefix(group_version: str) -> str:
    """Where a group version's resources are served: the core group under /api, the others under /apis."""
    return "/api/v1" if group_version == "v1" else f"/apis/{group_version}"


def stamped(manifest: dict[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """``manifest`` with ``labels`` on the object, its pod template and its claim templates (changed in place)."""
    spec = manifest.get("spec") or {}
    templates = [manifest, spec.get("template") or {}, *(spec.get("volumeClaimTemplates") or [])]
    job_template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
    for template in templates + ([job_template] if job_template else []):
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return manifest


def pods_of(api: client.ApiClient, namespace: str, selector: dict[str, str]) -> list[client.V1Pod]:
    """Pods matching ``selector``, whatever their state."""
    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    return client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=label_selector).items


def check_can_run(pod: client.V1Pod) -> None:
    """Raise ``PodCannotRun`` when a container of ``pod`` is stuck on its image or its configuration."""
    spec, status = pod_spec(pod), pod_status(pod)
    spec_images = {c.name: c.image for c in (spec.init_containers or []) + spec.containers}
    statuses = (status.init_container_statuses or []) + (status.container_statuses or [])
    for cs in statuses:
        waiting = cs.state.waiting if cs.state else None
        if waiting and waiting.reason in CANNOT_RUN:
            raise PodCannotRun(
                f"pod {meta(pod).namespace}/{meta(pod).name} cannot run {cs.name} "
                f"(image {spec_images.get(cs.name, cs.image)}): {waiting.reason}: {(waiting.message or '').strip()[:200]}"
            )


def ready_pods(api: client.ApiClient, namespace: str, selector: dict[str, str]) -> list[client.V1Pod]:
    """Pods matching ``selector`` whose Ready condition is True and that are not being deleted.

    A matching pod that cannot pull its image or start its container raises ``PodCannotRun``.
    """
    pods = pods_of(api, namespace, selector)
    for pod in pods:
        check_can_run(pod)
    return [
        p for p in pods
        if meta(p).deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (pod_status(p).conditions or []))
    ]


def wait_ready(api: client.ApiClient, namespace: str, selector: dict[str, str], count: int, timeout: float = 120) -> list[client.V1Pod]:
    """Wait until ``count`` pods matching ``selector`` are Ready; return them."""
    return wait_for(
        lambda: (pods if len(pods := ready_pods(api, namespace, selector)) >= count else None),
        timeout,
        f"{count} Ready pod(s) with {selector} in {namespace}",
    )


def running_pod(api: client.ApiClient, namespace: str, pod: str) -> client.V1Pod | None:
    """Pod ``pod`` if it exists and every app container of it is running (init containers, if any, are done)."""
    found = client.CoreV1Api(api).list_namespaced_pod(namespace, field_selector=f"metadata.name={pod}").items
    if found:
        check_can_run(found[0])
    statuses = (pod_status(found[0]).container_statuses if found else None) or []
    return found[0] if statuses and all(cs.state and cs.state.running for cs in statuses) else None


def all_running(api: client.ApiClient, namespace: str, pod: str) -> bool:
    return running_pod(api, namespace, pod) is not None


def running_uid(api: client.ApiClient, namespace: str, pod: str, other_than: str | None = None, timeout: float = 90) -> str:
    """The UID of pod ``pod`` once all its containers run, waiting for a new pod of that name if ``other_than`` is given.

    StatefulSet members and recreated pods keep their name; only the UID tells the new pod from the old.
    """
    def current() -> str | None:
        found = running_pod(api, namespace, pod)
        return meta(found).uid if found and meta(found).uid != other_than else None

    return wait_for(current, timeout, f"a new {pod} to run" if other_than else f"{pod} to run")


def ready_endpoints(api: client.ApiClient, namespace: str, service: str) -> int:
    """How many ready endpoints the Service's EndpointSlices list."""
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return sum(1 for s in slices for e in (s.endpoints or []) if e.conditions and e.conditions.ready)


def scheduled_node(api: client.ApiClient, namespace: str, pod: str, timeout: float = 60) -> str:
    """The node ``pod`` was scheduled to, once it has one."""
    core = client.CoreV1Api(api)
    return wait_for(lambda: pod_spec(core.read_namespaced_pod(pod, namespace)).node_name, timeout, f"{pod} to be scheduled")


def pod_gone(api: client.ApiClient, namespace: str, name: str) -> bool:
    """True once the pod object no longer exists (its containers stopped and the kubelet let it go)."""
    return not client.CoreV1Api(api).list_namespaced_pod(namespace, field_selector=f"metadata.name={name}").items


def exec_session(api: client.ApiClient, namespace: str, pod: str, command: list[str], container: str | None = None,
                 stdin: bool = False) -> Any:
    """An exec into a pod's container as an open stream (the client's ``WSClient``), for commands that talk or run long."""
    kwargs = {"container": container} if container else {}
    return stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace, command=command,
                  stdout=True, stderr=True, stdin=stdin, tty=False, _preload_content=False, **kwargs)


def exit_code(session: Any) -> int | str:
    """How an ended exec session's command ended: its exit code, or the reason it could not run or was cut off."""
    try:
        code: int | str = session.returncode
    except ValueError as failure:  # the runtime could not start the command at all: the reason is in the text
        code = str(failure).split(": ", 1)[-1]
    except (TypeError, KeyError):  # no status on the error channel: the stream broke before the command ended
        code = "the exec stream closed before the command ended"
    return code


def exec_in(api: client.ApiClient, namespace: str, pod: str, command: list[str], container: str | None = None,
            stdin: bytes | None = None) -> str:
    """Run ``command`` in a pod's container and return its standard output; a non-zero exit raises.

    Scenarios read state from inside pods (files on volumes, DNS answers) the way an operator
    with ``kubectl exec`` would, so this works on any cluster, not just the local one. ``stdin``
    is written to the command's input (it must read exactly that much: the stream has no end of
    input to give it on older API servers).
    """
    session = exec_session(api, namespace, pod, command, container, stdin=stdin is not None)
    if stdin is not None:
        for at in range(0, len(stdin), EXEC_CHUNK):
            session.write_stdin(stdin[at:at + EXEC_CHUNK])
    session.run_forever(timeout=60)
    out, err = session.read_stdout(), session.read_stderr()
    code = exit_code(session)
    session.close()
    if code != 0:
        raise ExecFailed(f"{' '.join(command)!r} in {namespace}/{pod} failed ({code}): {(err or out).strip()[:300]}")
    return out
