"""The three ways to get a cluster, and ``auto``, which takes the first that can run here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kubernetes import config

from podlife.cluster.base import ClusterHandle, describe
from podlife.errors import PodlifeError

PROVIDERS = ("local", "kind", "existing", "auto")


@dataclass(frozen=True)
class ClusterRequest:
    """What the user asked for on the command line."""

    provider: str = "auto"
    k8s_version: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    kind_name: str = "pytest-kind"
    kind_image: str | None = None
    kind_bin: Path | None = None
    keep_cluster: bool = False


@dataclass
class Provisioned:
    """A cluster handle plus what to do when the test session ends."""

    handle: ClusterHandle
    release: Callable[[], None] = lambda: None


def local_can_run() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("go") is not None


def kind_can_run() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0


def _local(req: ClusterRequest) -> Provisioned:
    from podlife.cluster.local.build import resolve_version
    from podlife.cluster.local.components import Settings
    from podlife.cluster.local.provider import LocalCluster

    result = LocalCluster().up(Settings(version=resolve_version(req.k8s_version)))
    return Provisioned(describe("local", result.kubeconfig, None))


def _kind(req: ClusterRequest) -> Provisioned:
    from pytest_kind import KindCluster

    image = req.kind_image or (f"kindest/node:v{req.k8s_version.lstrip('v')}" if req.k8s_version else None)
    kind = KindCluster(req.kind_name, req.kubeconfig, image=image, kind_path=req.kind_bin)
    kind.create()
    return Provisioned(
        describe("kind", kind.kubeconfig_path, None),
        release=(lambda: None) if req.keep_cluster else kind.delete,
    )


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


def _existing(req: ClusterRequest) -> Provisioned:
    return Provisioned(describe("existing", _existing_kubeconfig(req), req.context))


def provision(req: ClusterRequest, say: Callable[[str], None]) -> Provisioned:
    """Get the requested cluster; ``auto`` prefers local, then kind, and says which it took."""
    if req.provider not in PROVIDERS:
        raise PodlifeError(f"unknown cluster provider {req.provider!r}; choose one of {', '.join(PROVIDERS)}")
    provider = req.provider
    if provider == "auto":
        if local_can_run():
            provider = "local"
        elif kind_can_run():
            provider = "kind"
        else:
            raise PodlifeError("no cluster can be started here (local needs root and Go, kind needs Docker); use --cluster=existing")
        say(f"--cluster=auto chose the {provider} provider")
    return {"local": _local, "kind": _kind, "existing": _existing}[provider](req)
