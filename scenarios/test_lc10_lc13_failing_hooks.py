"""LC-10, LC-13: what a failing hook does, and does not, stop.

Story (LC-10): a witness's postStart hook fails (an exec exiting 1, or an httpGet to a
closed port). The kubelet kills the container, restarts it under ``restartPolicy: Always``
and records FailedPostStartHook. Control: with a working hook neither happens, and the
verdict says so.

Story (LC-13): a witness's preStop hook fails before doing its work. Deleting the pod still
terminates the container and removes the pod, with a FailedPreStopHook event; the hook's own
record shows it never finished, which only checking reveals. Control: a working preStop
records no such event, and the verdict says so.
"""

from __future__ import annotations

import pytest

from podlife.chaos.deletion import delete_and_watch
from podlife.kernel.defaults import HookAction
from podlife.observe.timeline import Timeline
from podlife.scene import Scene
from podlife.verdicts.hooks import (
    assert_killed_by_failed_post_start,
    assert_terminated_despite_failed_pre_stop,
)
from podlife.waiting import wait_for
from podlife.workloads.witness import Hook, Witness


def start_with_post_start(scene: Scene, hook: Hook) -> Timeline:
    """Start a restarting witness with ``hook`` as postStart; return once it was killed and restarted, or ran."""
    witness = Witness(post_start=hook, grace_period=2)
    with scene.watch() as timeline:
        scene.apply(witness.pod("witness", restart_policy="Always"))
        wait_for(lambda: timeline.first_running("witness", "witness")
                 or timeline.most_restarts("witness", "witness") >= 1,
                 90, "the witness to run, or to be restarted")
    scene.evidence.attach("timeline", timeline.render())
    return timeline


@pytest.mark.claim("LC-10")
@pytest.mark.parametrize("action", ["exec", "httpGet"])
def test_failing_post_start_kills_the_container(scene: Scene, action: HookAction) -> None:
    timeline = start_with_post_start(scene, Hook(action, fails=True))
    assert_killed_by_failed_post_start(timeline, "witness", "witness")


@pytest.mark.claim("LC-10")
@pytest.mark.control
def test_control_working_post_start_is_not_reported_failed(scene: Scene) -> None:
    timeline = start_with_post_start(scene, Hook())
    with pytest.raises(AssertionError, match="no FailedPostStartHook event"):
        assert_killed_by_failed_post_start(timeline, "witness", "witness")


@pytest.mark.claim("LC-13")
@pytest.mark.disruptive
def test_failing_pre_stop_does_not_stop_termination(scene: Scene) -> None:
    shutdown = delete_and_watch(scene, Witness(pre_stop=Hook(fails=True), grace_period=10).pod("witness"))
    assert_terminated_despite_failed_pre_stop(shutdown)
    events = [e for e, _ in shutdown.records()]
    assert "prestop-start" in events and "prestop-end" not in events, f"the failing hook's records: {events}"


@pytest.mark.claim("LC-13")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_working_pre_stop_is_not_reported_failed(scene: Scene) -> None:
    shutdown = delete_and_watch(scene, Witness(pre_stop=Hook(), grace_period=10).pod("witness"))
    with pytest.raises(AssertionError, match="no FailedPreStopHook event"):
        assert_terminated_despite_failed_pre_stop(shutdown)
