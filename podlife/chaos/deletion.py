"""Deleting a pod under observation, the way ``kubectl delete [--grace-period=N] [--force]`` does."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from podlife.kube import all_running, apply
from podlife.observe.clock import now
from podlife.observe.timeline import TimelineRecorder
from podlife.report.summary import Evidence
from podlife.verdicts.shutdown import Shutdown
from podlife.waiting import wait_for

#: The API's default terminationGracePeriodSeconds.
DEFAULT_GRACE = 30


def delete_and_watch(api: client.ApiClient, namespace: str, evidence: Evidence, pod: dict[str, Any],
                     grace_override: int | None = None) -> Shutdown:
    """Create ``pod``, wait until all its containers run, delete it and watch it go.

    ``grace_override`` is what ``kubectl delete --grace-period=N`` sends (0 with ``--force``).
    The returned Shutdown is about the first container; ``Shutdown.of`` names another.
    """
    name, container = pod["metadata"]["name"], pod["spec"]["containers"][0]["name"]
    grace = pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    apply(api, namespace, pod)
    wait_for(lambda: all_running(api, namespace, name), 60, f"all containers of {name} to run")
    with TimelineRecorder(api, namespace) as timeline:
        deleted_at = now()
        client.CoreV1Api(api).delete_namespaced_pod(name, namespace, grace_period_seconds=grace_override)
        wait_for(lambda: timeline.removed(name), grace + 60, f"the watch to see {name} removed")
    evidence.attach("timeline", timeline.render())
    return Shutdown(name, container, deleted_at, timeline)
