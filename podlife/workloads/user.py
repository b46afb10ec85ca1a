"""A user's own workload as the jig drives it (``jig.App``), from its workload file entry.

The manifests are rendered once, when the run starts (so a mistake in them ends the run in one
line before any cluster work), and every test applies a fresh copy into its own namespace.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podlife.access import PodNaming, ServiceAccess
from podlife.kernel.defaults import DEFAULT_GRACE
from podlife.workloads.render import render, service_port, target_object
from podlife.workloads.spec import Workload, WorkloadError, load_workloads


@dataclass(frozen=True)
class UserApp:
    """One workload of a workload file, with its rendered manifests."""

    workload: Workload
    rendered: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls, workload: Workload, kubectl: str | None = None) -> "UserApp":
        """Render the workload's manifests (a kustomization with ``kubectl``, by default the one on PATH)."""
        return cls(workload, tuple(render(workload, kubectl)))

    @property
    def name(self) -> str:
        return self.workload.target

    @property
    def kind(self) -> str:
        return self.workload.kind

    @property
    def template(self) -> dict[str, Any]:
        """The target's pod template, as the manifests give it."""
        template: dict[str, Any] = self.target_manifest["spec"]["template"]
        return template

    @property
    def selector(self) -> dict[str, str]:
        spec = self.target_manifest["spec"]
        labels: dict[str, str] = spec.get("selector", {}).get("matchLabels") or self.template["metadata"]["labels"]
        return labels

    @property
    def replicas(self) -> int:
        return int(self.target_manifest["spec"].get("replicas", 1))

    @property
    def access(self) -> ServiceAccess:
        a = self.workload.access
        return ServiceAccess(a.service, a.path, service_port(self.workload, list(self.rendered)), a.expect,
                             PodNaming(header=a.served_by_header))

    @property
    def source(self) -> str:
        return self.workload.label

    @property
    def container_spec(self) -> dict[str, Any]:
        """The container the checks are about: the pod's first (the app, by convention)."""
        spec: dict[str, Any] = self.template["spec"]["containers"][0]
        return spec

    @property
    def container(self) -> str:
        name: str = self.container_spec["name"]
        return name

    @property
    def grace_period(self) -> float:
        return float(self.template["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE))

    @property
    def target_manifest(self) -> dict[str, Any]:
        return target_object(self.workload, list(self.rendered))

    def manifests(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.rendered))


def user_app(path: str | Path, name: str | None = None, kubectl: str | None = None) -> UserApp:
    """The workload ``name`` of a workload file (or its only one), rendered: for users' own pytest files."""
    workloads = load_workloads(Path(path))
    if name is None and len(workloads) == 1:
        return UserApp.load(workloads[0], kubectl)
    chosen = next((w for w in workloads if w.name == name), None)
    if chosen is None:
        raise WorkloadError(f"{path}: no workload named {name!r}; it names {', '.join(w.name for w in workloads)}")
    return UserApp.load(chosen, kubectl)
