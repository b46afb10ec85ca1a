"""LC-07: init containers run one at a time, in order, each to completion, before the app starts.

Story: a pod declares three init containers; each records its start, works for a second and
records its end in a shared emptyDir; the app container records its start. The records show
the steps strictly one after another and the app after the last. A step that fails its
first attempts is retried until it succeeds, and the app waits for it. Control: the same
steps as ordinary containers start side by side, and the verdict catches the overlap.
"""

from __future__ import annotations

import pytest

from podlife.observe.kubelet import BackoffPolicy
from podlife.observe.records import parse_records
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import pod_status
from podlife.verdicts.ordering import assert_one_at_a_time
from podlife.waiting import wait_for
from podlife.workloads.staged import APP, RECORDS, Staged, step_name

STEPS = 3
STEP_SECONDS = 1


def start_and_read(scene: Scene, staged: Staged, timeout: float = 60) -> list[tuple[str, float]]:
    """Start ``staged``; once its app runs and every step has recorded its end, return the records."""
    scene.apply(staged.pod("staged"))
    wait_for(lambda: scene.all_running("staged"), timeout, "the app container to run")
    ends = {f"{step_name(n)}-end" for n in range(1, staged.steps + 1)}

    def complete() -> list[tuple[str, float]] | None:
        records = parse_records(scene.exec("staged", ["cat", RECORDS], container=APP))
        return records if ends <= {e for e, _ in records} else None

    records = wait_for(complete, 30, "every step to record its end")
    scene.evidence.attach("records", "\n".join(f"{e} {t:.6f}" for e, t in records))
    return records


@pytest.mark.claim("LC-07")
def test_init_containers_run_one_at_a_time_before_the_app(scene: Scene, evidence: Evidence) -> None:
    records = start_and_read(scene, Staged(steps=STEPS, step_seconds=STEP_SECONDS))
    evidence.waits_on(steps=STEPS * STEP_SECONDS)
    assert_one_at_a_time(records, [step_name(n) for n in range(1, STEPS + 1)], f"{APP}-started")


@pytest.mark.claim("LC-07")
def test_failing_init_container_blocks_the_app_and_is_retried(scene: Scene, evidence: Evidence) -> None:
    # Two failed attempts cost the back-off's first two delays (immediate, then 10 s by default).
    records = start_and_read(scene, Staged(steps=STEPS, step_seconds=STEP_SECONDS, failing={2: 2}), timeout=120)
    failures = [e for e, _ in records].count(f"{step_name(2)}-failed")
    assert failures == 2, f"step-2 should have failed twice before succeeding; records {[e for e, _ in records]}"
    assert_one_at_a_time(records, [step_name(n) for n in range(1, STEPS + 1)], f"{APP}-started")
    retried = {cs.name: cs.restart_count for cs in pod_status(scene.pod("staged")).init_container_statuses or []}
    evidence.measure("init_restarts", retried)
    evidence.waits_on(steps=STEPS * STEP_SECONDS + 2 * STEP_SECONDS, backoff=BackoffPolicy().delay(2))
    assert retried[step_name(2)] == 2, f"the kubelet should have restarted step-2 twice: {retried}"


@pytest.mark.claim("LC-07")
@pytest.mark.control
def test_control_steps_as_ordinary_containers_overlap(scene: Scene) -> None:
    records = start_and_read(scene, Staged(steps=STEPS, step_seconds=STEP_SECONDS, as_init=False))
    with pytest.raises(AssertionError, match="overlapped"):
        assert_one_at_a_time(records, [step_name(n) for n in range(1, STEPS + 1)], f"{APP}-started")
