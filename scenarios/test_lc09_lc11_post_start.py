"""LC-09, LC-11: postStart holds the container in Waiting until it completes; its output is not logged.

Story: a witness container's postStart hook sleeps, printing to its standard output and
recording start and end in the container's record file. The harness watches the pod, then
deletes it and reads the records from its final status: the container was first reported
running only after the hook's end (LC-09), the hook's output is nowhere in the container log
while its record is in the file (LC-11). Controls: the same start-up work done by the main process
instead of a hook is caught by the LC-09 verdict; a main process printing the same text is
caught by the LC-11 verdict.
"""

from __future__ import annotations

import pytest

from podlife.kernel.images import BUSYBOX
from podlife.observe.clock import now
from podlife.observe.shutdown import Shutdown
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import pod_status
from podlife.verdicts.hooks import assert_absent_from_logs, assert_waiting_until_post_start_done
from podlife.waiting import wait_for
from podlife.workloads.witness import Hook, Witness

HOOK_SECONDS = 4
#: What the postStart hook prints to its standard output (which LC-11 says nobody sees).
HOOK_OUTPUT = "poststart-hook-output"
SLOW_HOOK = Hook(sleep=HOOK_SECONDS, output=HOOK_OUTPUT)


def start_and_stop(scene: Scene, witness: Witness) -> tuple[Shutdown, str]:
    """Start the witness under observation, keep its log, delete it; return what was seen and the log."""
    with scene.watch() as timeline:
        scene.apply(witness.pod("witness"))
        wait_for(lambda: timeline.first_running(witness.name, "witness"), 60 + HOOK_SECONDS, "the witness to run")
        log = scene.log("witness")
        deleted_at = now()
        scene.delete_pod("witness")
        wait_for(lambda: timeline.removed("witness"), 60, "the watch to see the witness removed")
    scene.evidence.attach("timeline", timeline.render())
    return Shutdown("witness", witness.name, deleted_at, timeline), log


@pytest.mark.claim("LC-09", "LC-11")
def test_post_start_holds_container_waiting_and_is_not_logged(scene: Scene, evidence: Evidence) -> None:
    seen, log = start_and_stop(scene, Witness(post_start=SLOW_HOOK, grace_period=2))
    evidence.waits_on(post_start=HOOK_SECONDS)
    records = seen.records()
    assert_waiting_until_post_start_done(seen.timeline, "witness", "witness", records)
    assert "poststart-end" in [e for e, _ in records], "the hook's record is missing from its file"
    assert_absent_from_logs(log, HOOK_OUTPUT)


@pytest.mark.claim("LC-09")
@pytest.mark.control
def test_control_startup_work_without_hook_is_caught(scene: Scene) -> None:
    witness = Witness(post_start=SLOW_HOOK, post_start_in_main=True, ignore_sigterm=True,
                      grace_period=HOOK_SECONDS + 4)
    seen, _ = start_and_stop(scene, witness)
    with pytest.raises(AssertionError, match="before its postStart hook completed"):
        assert_waiting_until_post_start_done(seen.timeline, "witness", "witness", seen.records())


@pytest.mark.claim("LC-11")
@pytest.mark.control
def test_control_output_of_main_process_is_caught_in_logs(scene: Scene) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "printer"}, "spec": {"restartPolicy": "Never",
           "containers": [{"name": "c", "image": BUSYBOX, "command": ["echo", HOOK_OUTPUT]}]}}
    scene.apply(pod)
    wait_for(lambda: pod_status(scene.pod("printer")).phase == "Succeeded", 60, "the printer to finish")
    with pytest.raises(AssertionError, match="is in the container log"):
        assert_absent_from_logs(scene.log("printer"), HOOK_OUTPUT)
