"""Namespaces the harness owns: created labelled with the run id, and only those ever deleted."""

from __future__ import annotations

import re
import time

from kubernetes import client

from podlife.cluster.base import RUN_LABEL

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
        if ns.metadata.deletion_timestamp is None:
            core.delete_namespace(ns.metadata.name, grace_period_seconds=0)
    deadline = time.monotonic() + (DRAIN_TIMEOUT if wait else 0)
    while True:
        remaining = [ns.metadata.name for ns in core.list_namespace(label_selector=selector).items]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(1)
