"""OP-05: what a container leaves in ``terminationMessagePath`` shows in the pod's status.

Story: a container fails once, leaving last words. Written to its termination-message file,
they appear in ``state.terminated.message``; printed only to its log, they appear there when
``terminationMessagePolicy`` is ``FallbackToLogsOnError`` (the log's tail is used). Control:
with the default ``File`` policy, words printed only to the log are not in the status, and
the verdict catches their absence.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import pod_status
from podlife.verdicts.termination import assert_message_shown, termination_message
from podlife.waiting import wait_for
from podlife.workloads.farewell import Farewell

LAST_WORDS = "cannot open /data/db: permission denied"


def run_to_failure(scene: Scene, farewell: Farewell) -> client.V1Pod:
    scene.apply(farewell.pod("farewell"))
    return wait_for(lambda: (pod if pod_status(pod := scene.pod("farewell")).phase == "Failed" else None),
                    60, "the container to fail")


@pytest.mark.claim("OP-05")
def test_termination_message_file_shows_in_status(scene: Scene) -> None:
    assert_message_shown(run_to_failure(scene, Farewell(message=LAST_WORDS)), "app", LAST_WORDS)


@pytest.mark.claim("OP-05")
def test_fallback_to_logs_shows_log_tail(scene: Scene, evidence: Evidence) -> None:
    farewell = Farewell(log_lines=("starting", LAST_WORDS), policy="FallbackToLogsOnError")
    pod = run_to_failure(scene, farewell)
    evidence.measure("message", termination_message(pod, "app"))
    assert_message_shown(pod, "app", LAST_WORDS)


@pytest.mark.claim("OP-05")
@pytest.mark.control
def test_control_log_only_words_without_fallback_are_caught(scene: Scene) -> None:
    pod = run_to_failure(scene, Farewell(log_lines=("starting", LAST_WORDS)))
    with pytest.raises(AssertionError, match="termination message is"):
        assert_message_shown(pod, "app", LAST_WORDS)
