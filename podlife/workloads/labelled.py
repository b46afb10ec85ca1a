"""Deployments labelled along several dimensions, so they can be selected precisely (OP-03).

One app often runs as several Deployments: a stable track and a canary, a backend and a
frontend tier, a test and a production environment. Each carries one label per dimension
(``app``, ``track``, ``tier``, ``environment``), on the Deployment and on its pods, and selects
its pods by all of them, so two Deployments of one app never claim each other's pods. What a
Service or an operation then reaches depends on how many of those labels its selector names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podlife.access import PodNaming, ServiceAccess
from podlife.workloads.agnhost import HOSTNAME_PATH, Netexec, service


@dataclass
class Labelled(Netexec):
    """A netexec Deployment named ``name`` whose labels and selector are ``dimensions``, not ``app=<name>``."""

    dimensions: dict[str, str] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.dimensions)


def matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    """Whether an object labelled ``labels`` is picked by ``selector`` (every pair must match)."""
    return all(labels.get(key) == value for key, value in selector.items())


def selector_text(selector: dict[str, str]) -> str:
    """``selector`` as ``kubectl -l`` and the API's ``labelSelector`` take it."""
    return ",".join(f"{key}={value}" for key, value in selector.items())


@dataclass
class Tracks:
    """One app run as several labelled Deployments behind one Service, which selects ``selector``.

    An ``App`` for the jig: its replicas are the pods the Service picks, which the jig waits for
    before the Service must answer.
    """

    name: str
    deployments: list[Labelled]
    selector: dict[str, str]
    kind = "Deployment"

    @property
    def replicas(self) -> int:
        return sum(d.replicas for d in self.deployments if matches(d.dimensions, self.selector))

    @property
    def pods(self) -> int:
        """Every pod of every track, picked by the Service or not."""
        return sum(d.replicas for d in self.deployments)

    @property
    def access(self) -> ServiceAccess:
        return ServiceAccess(self.name, HOSTNAME_PATH, naming=PodNaming(body=True))

    @property
    def source(self) -> str:
        return f"the tracks of {self.name}, behind a Service selecting {selector_text(self.selector)}"

    def manifests(self) -> list[dict[str, Any]]:
        return [*(d.deployment() for d in self.deployments), service(self.name, self.selector)]
