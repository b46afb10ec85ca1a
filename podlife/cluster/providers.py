"""The three ways to get a cluster, and ``auto``, which takes the first that can run here."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from kubernetes import client, config

from podlife.cluster.base import ClusterHandle, describe
from podlife.cluster.image_load import load_into_kind, load_into_local
from podlife.errors import PodlifeError
from podlife.served import present

PROVIDERS = ("local", "kind", "existing", "auto")


def node_count(text: str) -> int:
    """``--nodes``: a whole number of at least 1; anything else is one line."""
    try:
        count = int(text)
    except ValueError:
        raise PodlifeError(f"--nodes expects a whole number of nodes, got {text!r}") from None
    if count < 1:
        raise PodlifeError(f"--nodes: a cluster needs at least one node, got {count}")
    return count


@dataclass(frozen=True)
class ClusterRequest:
    """What the user asked for on the command line."""

    provider: str = "auto"
    k8s_version: str | None = None
    #: How many nodes the local cluster (or kind) should have; None takes what runs (local) or one.
    nodes: int | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    kind_name: str = "pytest-kind"
    kind_image: str | None = None
    kind_bin: Path | None = None
    kind_kubectl_bin: Path | None = None
    keep_cluster: bool = False
    #: Namespace-scoped mode: run in these pre-created namespaces, one per xdist worker.
    namespaces: tuple[str, ...] = ()
    #: The nodes of an existing cluster the user lets scenarios drain (``--allow-node-disruption``).
    allow_node_disruption: tuple[str, ...] = ()


@dataclass
class Provisioned:
    """A cluster handle plus what to do when the test session ends."""

    handle: ClusterHandle
    release: Callable[[], None] = lambda: None
    #: Loads an image archive into the cluster and names its images; None where the cluster
    #: pulls from the user's registry (an existing cluster).
    load_image: Callable[[Path], list[str]] | None = None


def local_can_run() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("go") is not None


def kind_can_run() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0


def _local(req: ClusterRequest, say: Callable[[str], None]) -> Provisioned:
    """Start the local cluster, or attach to the running one; the run holds a lease on it until released.

    Without ``--k8s-version`` a running cluster is used whatever it was started with (the
    user may have started it with feature gates of their own); with one, a different running
    version is restarted, unless another run is using it.
    """
    from podlife.cluster.local.build import DEFAULT_VERSION, Builder, resolve_version
    from podlife.cluster.local.components import REGISTRY_ADDRESS, Settings
    from podlife.cluster.local.provider import LocalCluster

    cluster = LocalCluster(progress=say)
    version = resolve_version(req.k8s_version) if req.k8s_version else DEFAULT_VERSION
    # A running cluster is taken as it is unless the run asks for another version or node count.
    attach = req.k8s_version is None and (req.nodes is None or (cluster.is_up() and cluster.node_count() == req.nodes))
    result = cluster.up(Settings(version=version, nodes=req.nodes or 1), attach=attach, hold_lease=True)
    try:
        handle = describe("local", result.kubeconfig, None)
    except BaseException:
        cluster.leases.release()
        raise
    built = Builder(result.version).cached()
    handle = replace(handle, agnhost_tag=built.agnhost_tag if built else None,
                     disruptable_nodes=tuple(n.name for n in cluster.nodes() if n.netns is not None))
    return Provisioned(handle, release=cluster.leases.release,
                       load_image=functools.partial(load_into_local, runtimes=cluster.ctr_commands(), registry=REGISTRY_ADDRESS))


def _kind(req: ClusterRequest, say: Callable[[str], None]) -> Provisioned:
    from podlife.cluster import kind

    image = kind.node_image(req.k8s_version, req.kind_image)
    binary = kind.kind_binary(req.kind_bin)
    say(f"kind cluster {req.kind_name!r} ({image or 'kind default image'}) via {binary}")
    cluster = kind.create(req.kind_name, req.kubeconfig, image, binary, req.kind_kubectl_bin, req.nodes)
    release = (lambda: None) if req.keep_cluster else (lambda: kind.delete(cluster))
    try:
        handle = describe("kind", cluster.kubeconfig_path, None)
        handle = replace(handle, disruptable_nodes=_worker_nodes(handle), kind_cluster=req.kind_name)
    except BaseException:
        release()
        raise
    return Provisioned(handle, release=release,
                       load_image=functools.partial(load_into_kind, kind_bin=binary, cluster_name=req.kind_name))


def _existing_kubeconfig(req: ClusterRequest) -> Path:
    return req.kubeconfig or Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")


def active_context(req: ClusterRequest) -> str:
    """The context an existing-cluster run talks to: the one named, or the kubeconfig's current one."""
    if req.context:
        return req.context
    try:
        _, current = config.list_kube_config_contexts(config_file=str(_existing_kubeconfig(req)))
    except Exception:  # an unreadable kubeconfig is reported, in one line, by describe()
        return "current-context"
    return current["name"]


def _existing(req: ClusterRequest, say: Callable[[str], None]) -> Provisioned:
    if req.nodes is not None:
        raise PodlifeError("--nodes sizes a cluster podlife makes (local or kind); an existing cluster has the nodes it has")
    handle = describe("existing", _existing_kubeconfig(req), req.context, req.namespaces)
    if req.allow_node_disruption:
        known = set(node_names(handle))
        unknown = [n for n in req.allow_node_disruption if n not in known]
        if unknown:
            raise PodlifeError(f"--allow-node-disruption names no node of this cluster: {', '.join(unknown)} "
                               f"(it has {', '.join(sorted(known)) or 'none the harness may list'})")
        handle = replace(handle, disruptable_nodes=req.allow_node_disruption)
    return Provisioned(handle)


def node_names(handle: ClusterHandle) -> list[str]:
    """The cluster's nodes; none where the harness may not list them (namespace-scoped credentials)."""
    try:
        return [present(n.metadata, "metadata of a node").name or "" for n in
                client.CoreV1Api(handle.api_client()).list_node().items]
    except client.ApiException:
        return []


def _worker_nodes(handle: ClusterHandle) -> tuple[str, ...]:
    """kind's workers: every node without the control-plane role."""
    nodes = client.CoreV1Api(handle.api_client()).list_node().items
    return tuple(sorted(present(n.metadata, "metadata of a node").name or "" for n in nodes
                        if "node-role.kubernetes.io/control-plane" not in (present(n.metadata, "metadata of a node").labels or {})))


def provision(req: ClusterRequest, say: Callable[[str], None]) -> Provisioned:
    """Get the requested cluster; ``auto`` prefers local, then kind, and says which it took."""
    if req.provider not in PROVIDERS:
        raise PodlifeError(f"unknown cluster provider {req.provider!r}; choose one of {', '.join(PROVIDERS)}")
    provider = req.provider
    if req.namespaces and provider != "existing":
        raise PodlifeError("--namespace (namespace-scoped mode) is for --cluster=existing")
    if provider == "auto":
        if local_can_run():
            provider = "local"
        elif kind_can_run():
            provider = "kind"
        else:
            raise PodlifeError("no cluster can be started here (local needs root and Go, kind needs Docker); use --cluster=existing")
        say(f"--cluster=auto chose the {provider} provider")
    return {"local": _local, "kind": _kind, "existing": _existing}[provider](req, say)
