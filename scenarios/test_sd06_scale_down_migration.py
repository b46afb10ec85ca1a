"""SD-06: a StatefulSet scale-down strands the removed member's data unless it is migrated.

Story: three members of a small store each write their records to their own claim. The
StatefulSet is scaled down to two: the removed member's claim stays behind, bound, with its
records. A migration Job mounts that claim and member 0's, and moves the records over; every
record written before the scale-down is then on a remaining member. Control: without the
migration, the removed member's records are stranded, and the verdict catches their loss.
"""

from __future__ import annotations

import pytest

from podlife.observe.records import parse_records
from podlife.scene import Scene
from podlife.served import present
from podlife.verdicts.identity import assert_no_record_lost
from podlife.waiting import wait_for
from podlife.workloads.members import RECORDS, Members

RECORDS_PER_MEMBER = 3
STORE = Members("store", [
    f'[ -f {RECORDS} ] || for i in $(seq {RECORDS_PER_MEMBER}); do record "$HOSTNAME-$i"; done',
    "sleep 3600",
], replicas=3, grace_period=1)
REMOVED, TARGET = 2, 0


def records_of(scene: Scene, ordinal: int) -> set[str]:
    text = scene.exec(STORE.pod_name(ordinal), ["sh", "-c", f"cat {RECORDS} 2>/dev/null || true"])
    return {event for event, _ in parse_records(text)}


def scale_down(scene: Scene, migrate: bool) -> tuple[set[str], set[str]]:
    """Fill three members, scale to two, optionally migrate; return the records written and those still served."""
    scene.apply(STORE.service(), STORE.statefulset())
    members = range(STORE.replicas)
    wait_for(lambda: all(scene.all_running(STORE.pod_name(n)) for n in members), 120, "three members to run")
    written = wait_for(lambda: (found if len(found := set().union(*(records_of(scene, n) for n in members)))
                                == RECORDS_PER_MEMBER * STORE.replicas else None), 30, "every member to write its records")
    scene.scale("StatefulSet", STORE.name, 2)
    wait_for(lambda: scene.gone(STORE.pod_name(REMOVED)), 60, "the removed member to go")
    claim = scene.core.read_namespaced_persistent_volume_claim(STORE.claim_name(REMOVED), scene.namespace)
    phase = present(claim.status, f"status of claim {STORE.claim_name(REMOVED)}").phase
    assert phase == "Bound", f"the removed member's claim should stay behind, bound; it is {phase}"
    if migrate:
        job = STORE.migration_job(REMOVED, TARGET)
        scene.apply(job)
        name = job["metadata"]["name"]
        wait_for(lambda: present(scene.batch.read_namespaced_job(name, scene.namespace).status, f"status of Job {name}").succeeded,
                 120, "the migration Job")
    remaining = set().union(*(records_of(scene, n) for n in range(2)))
    scene.evidence.measure("records", {"written": len(written), "on_remaining_members": len(remaining)})
    return written, remaining


@pytest.mark.claim("SD-06")
@pytest.mark.disruptive
def test_migration_job_moves_the_removed_members_data(scene: Scene) -> None:
    written, remaining = scale_down(scene, migrate=True)
    assert_no_record_lost(written, remaining, STORE.claim_name(REMOVED))


@pytest.mark.claim("SD-06")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_without_migration_data_is_stranded(scene: Scene) -> None:
    written, remaining = scale_down(scene, migrate=False)
    with pytest.raises(AssertionError, match="stranded in data-store-2"):
        assert_no_record_lost(written, remaining, STORE.claim_name(REMOVED))
