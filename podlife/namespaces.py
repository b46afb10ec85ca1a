"""Namespaces the harness owns: created labelled with the run id, and only those ever deleted."""

from __future__ import annotations

import re
import time

from kubernetes import client

from podlife.cluster.base import RUN_LABEL
from podlife.errors import WaitTimeout
from podlife.kernel.defaults import TEST_LABEL
from podlife.served import meta, name_of

#: How long the end of a session waits for its namespaces to be gone before reporting them.
DRAIN_TIMEOUT = 180.0


def _slug(text: str, room: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:room].strip("-") or "test"


class NamespaceJanitor:
    """Creates one namespace per test and deletes what it created, also in bulk at the end."""

    def __init__(self, api: client.ApiClient, run_id: str) -> None:
        self.core = client.CoreV1Api(api)
        self.run_id = run_id
        self._count = 0

    def create(self, test_name: str) -> str:
        self._count += 1
        prefix = f"podlife-{self.run_id}-{self._count}-"
        name = prefix + _slug(test_name, 63 - len(prefix))
        self.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={RUN_LABEL: self.run_id}))
        )
        return name

    def delete(self, name: str) -> None:
        try:
            self.core.delete_namespace(name, grace_period_seconds=0)
        except client.ApiException as err:
            if err.status != 404:
                raise

    def delete_all(self, wait: bool = True) -> list[str]:
        """Delete every namespace of this run; with ``wait``, return those still there after the drain."""
        return delete_labelled(self.core, f"{RUN_LABEL}={self.run_id}", wait)


def delete_labelled(core: client.CoreV1Api, selector: str, wait: bool) -> list[str]:
    """Delete the namespaces matching ``selector``; nothing without the harness's label is touched."""
    for ns in core.list_namespace(label_selector=selector).items:
        if meta(ns).deletion_timestamp is None:
            core.delete_namespace(name_of(ns), grace_period_seconds=0)
    deadline = time.monotonic() + (DRAIN_TIMEOUT if wait else 0)
    while True:
        remaining = [name_of(ns) for ns in core.list_namespace(label_selector=selector).items]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(1)


class SharedNamespace:
    """A namespace the user created and granted the harness (namespace-scoped mode).

    The harness creates no namespace and lists no node there; each test's objects carry its
    ``TEST_LABEL`` and are deleted by that label when the test ends, and the next test waits
    until the pods and claims are gone, so a leftover never answers for a new test's Service.
    """

    #: How long the end of a test waits for its pods and claims to be gone.
    CLEAR_TIMEOUT = 120.0

    def __init__(self, api: client.ApiClient, name: str) -> None:
        self.api, self.name = api, name

    def clear(self, test_id: str | None) -> None:
        """Delete everything labelled with ``test_id`` (with any test id: None); wait for its pods and claims to be gone."""
        selector = f"{TEST_LABEL}={test_id}" if test_id else TEST_LABEL
        apps, batch, core = client.AppsV1Api(self.api), client.BatchV1Api(self.api), client.CoreV1Api(self.api)
        for delete in (apps.delete_collection_namespaced_deployment, apps.delete_collection_namespaced_stateful_set,
                       apps.delete_collection_namespaced_replica_set, batch.delete_collection_namespaced_job):
            delete(self.name, label_selector=selector, propagation_policy="Background")
        core.delete_collection_namespaced_pod(self.name, label_selector=selector, grace_period_seconds=0)
        for service in core.list_namespaced_service(self.name, label_selector=selector).items:
            core.delete_namespaced_service(name_of(service), self.name)
        core.delete_collection_namespaced_persistent_volume_claim(self.name, label_selector=selector)
        core.delete_collection_namespaced_config_map(self.name, label_selector=selector)
        deadline = time.monotonic() + self.CLEAR_TIMEOUT
        while (core.list_namespaced_pod(self.name, label_selector=selector).items
               or core.list_namespaced_persistent_volume_claim(self.name, label_selector=selector).items):
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"objects labelled {selector} still in namespace {self.name} after {self.CLEAR_TIMEOUT:.0f}s")
            time.sleep(0.5)
