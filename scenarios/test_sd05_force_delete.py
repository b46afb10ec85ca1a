"""SD-05: force-deleting a StatefulSet member lets two pods of one identity run at once.

Story: member ``db-0`` ignores SIGTERM and appends a heartbeat stamped with its own pod UID
to its claim every 0.1 s. Force-deleted (``--force --grace-period=0``), it vanishes from the
API at once, the StatefulSet creates the replacement on the same claim immediately, and the
old process keeps beating until the kubelet kills it: the file shows both UIDs beating in
the same window, which the harness measures. A graceful delete never overlaps: the
replacement comes only after the old process is gone. Control: the overlap verdict applied to
the graceful delete must fail.
"""

from __future__ import annotations

import pytest

from podlife.observe.records import parse_records
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.identity import assert_never_overlapped, assert_overlapped
from podlife.waiting import wait_for
from podlife.workloads.members import RECORDS, Members

BEAT = 0.1
#: The old process has stopped once its beats lag the new one's by this much: ten missed beats.
STOPPED_AFTER = 10 * BEAT
GRACE = 5
HEARTBEAT = ["trap '' TERM", f"while true; do record beat-$POD_UID; sleep {BEAT}; done"]
POD = "db-0"


def delete_member(scene: Scene, force: bool) -> tuple[list[tuple[str, float]], str, str]:
    """Delete db-0 (by force or gracefully); return the heartbeats once only the replacement beats, and both UIDs."""
    db = Members("db", HEARTBEAT, grace_period=GRACE)
    scene.apply(db.service(), db.statefulset())
    old = scene.running_uid(POD)
    scene.delete_pod(POD, grace_period=0 if force else None)
    new = scene.running_uid(POD, other_than=old, timeout=GRACE + 90)

    def old_stopped() -> list[tuple[str, float]] | None:
        beats = parse_records(scene.exec(POD, ["cat", RECORDS]))
        last = {uid: max((t for e, t in beats if e == f"beat-{uid}"), default=0.0) for uid in (old, new)}
        return beats if last[new] - last[old] > STOPPED_AFTER else None

    beats = wait_for(old_stopped, GRACE + 60, "the old process to stop beating")
    scene.evidence.measure("deletion", "force" if force else "graceful")
    return beats, old, new


@pytest.mark.claim("SD-05")
@pytest.mark.disruptive
def test_force_delete_runs_two_pods_of_one_identity(scene: Scene, evidence: Evidence) -> None:
    beats, old, new = delete_member(scene, force=True)
    evidence.measure("overlap_s", round(assert_overlapped(beats, old, new), 3))


@pytest.mark.claim("SD-05")
@pytest.mark.disruptive
def test_graceful_delete_never_overlaps(scene: Scene, evidence: Evidence) -> None:
    beats, old, new = delete_member(scene, force=False)
    evidence.waits_on(grace=GRACE)
    evidence.measure("gap_s", round(assert_never_overlapped(beats, old, new), 3))


@pytest.mark.claim("SD-05")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_graceful_delete_shows_no_overlap(scene: Scene) -> None:
    beats, old, new = delete_member(scene, force=False)
    with pytest.raises(AssertionError, match="never overlapped"):
        assert_overlapped(beats, old, new)
