"""Evidence gathered from a namespace when a test fails: pod logs and events, for Allure."""

from __future__ import annotations

import allure
from kubernetes import client

from podlife.served import name_of, pod_spec

LOG_TAIL_LINES = 200


def attach_namespace_evidence(api: client.ApiClient, namespace: str) -> None:
    """Attach every container's log tail and the namespace's events; best effort, never raises."""
    core = client.CoreV1Api(api)
    try:
        events = core.list_namespaced_event(namespace).items
        allure.attach(
            "\n".join(f"{e.last_timestamp or e.event_time} {e.involved_object.kind}/{e.involved_object.name} "
                      f"{e.reason}: {e.message}" for e in events),
            name="events", attachment_type=allure.attachment_type.TEXT,
        )
        for pod in core.list_namespaced_pod(namespace).items:
            for container in pod_spec(pod).containers:
                try:
                    log = core.read_namespaced_pod_log(name_of(pod), namespace, container=container.name,
                                                       tail_lines=LOG_TAIL_LINES)
                except client.ApiException as err:
                    log = f"(no log: {err.reason})"
                allure.attach(log, name=f"log {name_of(pod)}/{container.name}", attachment_type=allure.attachment_type.TEXT)
    except Exception as err:  # evidence must never mask the test's own failure
        allure.attach(f"could not gather evidence: {err}", name="evidence error", attachment_type=allure.attachment_type.TEXT)
