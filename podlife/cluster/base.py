"""What every cluster provider hands the harness, and the checks run before any test touches it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException
from urllib3.util.retry import Retry

from podlife.errors import PodlifeError
from podlife.kernel.images import ReferenceImages, agnhost_tag
from podlife.served import present

#: Label on every object the harness creates; its value is the run id.
RUN_LABEL = "podlife.io/run"

#: Where a cluster came from: the embedded local cluster, kind, or one the user has.
Provider = Literal["local", "kind", "existing"]
#: Where scenario traffic leaves from: this host, or pods in the cluster.
TrafficMode = Literal["host", "in-cluster"]


@dataclass(frozen=True)
class ClusterHandle:
    """A reachable cluster: how to talk to it and what it is, for reports."""

    provider: Provider
    kubeconfig: Path
    context: str | None
    version: str
    #: None where the harness may not list nodes (namespace-scoped mode).
    node_count: int | None
    #: The agnhost tag this cluster is known to hold (the local cluster's preloaded image);
    #: None where the version's usual tag is pulled from a registry.
    agnhost_tag: str | None = None
    traffic: TrafficMode = "host"
    #: The nodes scenarios may drain (and on the local cluster stop or cut off): the local
    #: cluster's and kind's nodes but the first, on an existing cluster those the user named.
    disruptable_nodes: tuple[str, ...] = ()
    #: The kind cluster's name, whose node containers the container engine reaches (kind only).
    kind_cluster: str | None = None

    # What rooms outside ``cluster/`` ask of a cluster, rather than comparing provider names.

    @property
    def on_this_host(self) -> bool:
        """The cluster runs as this host's processes: its node's runtime (``ctr``), its connection
        tracking, its ClusterIPs and its components are reachable from the harness."""
        return self.provider == "local"

    @property
    def made_by_podlife(self) -> bool:
        """podlife made the cluster (local or kind), so it may install and leave out add-ons of its own."""
        return self.provider != "existing"

    @property
    def traffic_in_cluster(self) -> bool:
        """Scenario traffic leaves from pods in the cluster (``--traffic in-cluster``)."""
        return self.traffic == "in-cluster"

    def api_client(self) -> client.ApiClient:
        return connect(self.kubeconfig, self.context)

    def reference_images(self, repo: str | None = None) -> ReferenceImages:
        """How this cluster names the reference images: the agnhost it holds, else its version's; ``repo`` a mirror."""
        return ReferenceImages(self.agnhost_tag or agnhost_tag(self.version), repo)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for handing the cluster to xdist workers."""
        return {**asdict(self), "kubeconfig": str(self.kubeconfig), "disruptable_nodes": list(self.disruptable_nodes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClusterHandle":
        return cls(**{**data, "kubeconfig": Path(data["kubeconfig"]),
                      "disruptable_nodes": tuple(data.get("disruptable_nodes", ()))})


#: Transient API failures are retried with exponential back-off (0.25, 0.5, 1, 2, 4 s): refused or
#: reset connections, and the statuses a busy or restarting API server answers with. Reads and
#: deletes are retried on any of them; creates and patches only on 429, which the server
#: sends before acting (a retried create after a 5xx could find its own object already there).
TRANSIENT_RETRIES = Retry(
    total=5, connect=5, read=2, status=5, backoff_factor=0.25, respect_retry_after_header=True,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
    raise_on_status=False,
)


def connect(kubeconfig: Path, context: str | None, retries: Retry | int = TRANSIENT_RETRIES) -> client.ApiClient:
    """Load a kubeconfig into an API client; a missing or malformed one is one clear error."""
    if not kubeconfig.exists():
        raise PodlifeError(f"kubeconfig {kubeconfig} does not exist")
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=str(kubeconfig), context=context, client_configuration=configuration)
    except (ConfigException, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise PodlifeError(f"bad kubeconfig {kubeconfig}: {str(err).splitlines()[0]}") from None
    configuration.retries = retries
    return client.ApiClient(configuration)


def describe(provider: Provider, kubeconfig: Path, context: str | None, namespaces: tuple[str, ...] = ()) -> ClusterHandle:
    """Reach the API server and check the harness may do what its mode needs there.

    By default every test gets a namespace of its own, so the harness must create namespaces;
    in namespace-scoped mode (``namespaces`` given) it must create pods in each of those, and
    may not list nodes. Unreachable servers, rejected credentials and missing RBAC permissions
    all end here, before the first test, with one line saying which it was.
    """
    api = connect(kubeconfig, context, retries=1)
    where = f"{provider} cluster ({kubeconfig}{', context ' + context if context else ''})"
    needed = [("create", "namespaces", None)] if not namespaces else [("create", "pods", ns) for ns in namespaces]
    try:
        version = client.VersionApi(api).get_code(_request_timeout=10).git_version
        node_count = _count_nodes(api, required=not namespaces)
        for verb, resource, namespace in needed:
            review = client.AuthorizationV1Api(api).create_self_subject_access_review(
                client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace))),
                _request_timeout=10,
            )
            if not present(review.status, "status of an access review").allowed:
                scope = f" in namespace {namespace}" if namespace else ""
                raise PodlifeError(f"the {where} forbids the harness to {verb} {resource}{scope}, which every scenario needs")
    except urllib3.exceptions.HTTPError as err:
        raise PodlifeError(f"API server of the {where} is unreachable: {type(err).__name__}") from None
    except client.ApiException as err:
        if err.status in (401, 403):
            raise PodlifeError(f"the {where} refused the harness ({err.status} {err.reason}): check the credentials and RBAC") from None
        raise PodlifeError(f"the {where} answered {err.status} {err.reason}") from None
    return ClusterHandle(provider, kubeconfig, context, version, node_count)


def _count_nodes(api: client.ApiClient, required: bool) -> int | None:
    """How many nodes the cluster has; None when listing them is forbidden and not ``required``."""
    try:
        return len(client.CoreV1Api(api).list_node(_request_timeout=10).items)
    except client.ApiException as err:
        if err.status == 403 and not required:
            return None
        raise
