"""Deleting a pod under observation, the way ``kubectl delete [--grace-period=N] [--force]`` does."""

from __future__ import annotations

from typing import Any

from podlife.kernel.defaults import DEFAULT_GRACE
from podlife.observe.clock import now
from podlife.observe.shutdown import DeclaredPreStop, Shutdown
from podlife.scene import Scene
from podlife.waiting import wait_for


def delete_and_watch(scene: Scene, pod: dict[str, Any], grace_override: int | None = None) -> Shutdown:
    """Create ``pod``, wait until all its containers run, delete it and watch it go.

    ``grace_override`` is what ``kubectl delete --grace-period=N`` sends (0 with ``--force``).
    The returned Shutdown is about the first container; ``Shutdown.of`` names another.
    """
    name = pod["metadata"]["name"]
    grace = pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    scene.apply(pod)
    wait_for(lambda: scene.all_running(name), 60, f"all containers of {name} to run")
    return watch_deletion(scene, name, pod["spec"]["containers"][0]["name"], grace, grace_override)


def watch_deletion(scene: Scene, name: str, container: str, grace: float, grace_override: int | None = None,
                   pre_stop: DeclaredPreStop | None = None) -> Shutdown:
    """Delete the running pod ``name`` and watch it go: the one place a pod's shutdown is observed.

    ``grace`` is the pod's own grace period; ``grace_override`` what the delete sends instead.
    The timeline and a picture of ``container``'s shutdown against the grace period in force
    are attached; ``pre_stop``, the hook its spec declares, lets the picture place SIGTERM for
    an app that records nothing of its own (a witness records it).
    """
    with scene.watch() as timeline:
        deleted_at = now()
        scene.delete_pod(name, grace_override)
        wait_for(lambda: timeline.removed(name), grace + 60, f"the watch to see {name} removed")
    scene.evidence.attach("timeline", timeline.render())
    shutdown = Shutdown(name, container, deleted_at, timeline, grace if grace_override is None else grace_override, pre_stop)
    scene.evidence.illustrate(shutdown)
    return shutdown
