"""Deleting a pod under observation, the way ``kubectl delete [--grace-period=N] [--force]`` does."""

from __future__ import annotations

from typing import Any

from podlife.observe.clock import now
from podlife.scene import Scene
from podlife.verdicts.shutdown import Shutdown
from podlife.waiting import wait_for

#: The API's default terminationGracePeriodSeconds.
DEFAULT_GRACE = 30


def delete_and_watch(scene: Scene, pod: dict[str, Any], grace_override: int | None = None) -> Shutdown:
    """Create ``pod``, wait until all its containers run, delete it and watch it go.

    ``grace_override`` is what ``kubectl delete --grace-period=N`` sends (0 with ``--force``).
    The returned Shutdown is about the first container; ``Shutdown.of`` names another.
    """
    name, container = pod["metadata"]["name"], pod["spec"]["containers"][0]["name"]
    grace = pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    scene.apply(pod)
    wait_for(lambda: scene.all_running(name), 60, f"all containers of {name} to run")
    with scene.watch() as timeline:
        deleted_at = now()
        scene.delete_pod(name, grace_override)
        wait_for(lambda: timeline.removed(name), grace + 60, f"the watch to see {name} removed")
    scene.evidence.attach("timeline", timeline.render())
    return Shutdown(name, container, deleted_at, timeline)
