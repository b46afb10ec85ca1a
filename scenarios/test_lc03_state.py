"""LC-03: what survives a container restart, and what survives the pod.

Story: a StatefulSet member marks three places at start and reports whether each mark was
already there: its container's own file system (``/layer``), a pod-scoped emptyDir
(``/scratch``) and its claim (``/data``). Its container is made to crash: after the restart
only the layer is fresh. The pod is deleted and the StatefulSet recreates it with the same
claim: only the claim kept its mark. Control: a member whose ``/data`` is an emptyDir loses
it with the pod, and the verdict catches that.
"""

from __future__ import annotations

import pytest

from podlife.scene import Scene
from podlife.served import meta, pod_status
from podlife.verdicts.identity import assert_state
from podlife.waiting import wait_for
from podlife.workloads.members import DATA, SCRATCH, Members

LAYER = "/layer"
PLACES = (LAYER, SCRATCH, DATA)
#: Report each place's mark, mark it, then run until told to crash (through a file in the layer, gone after restart).
#: It exits a second after the file appears: the exec that wrote it must have ended by then, or the
#: runtime kills it with the container and the exec reports 137 (seen once in CI, the file written).
KEEPER = [
    f"mkdir -p {LAYER}",
    f"for d in {' '.join(PLACES)}; do if [ -f $d/mark ]; then echo \"$d kept\"; else echo \"$d fresh\"; fi; touch $d/mark; done",
    f"while [ ! -f {LAYER}/crash ]; do sleep 0.2; done",
    "sleep 1",
    "exit 1",
]
POD = "keeper-0"


def report(scene: Scene, uid: str, restarts: int) -> dict[str, str]:
    """The running container's report, once pod ``uid`` has restarted it ``restarts`` times."""
    def current() -> dict[str, str] | None:
        pod = scene.pod(POD)
        statuses = pod_status(pod).container_statuses or []
        if (meta(pod).uid != uid or not statuses or statuses[0].restart_count != restarts
                or not (statuses[0].state and statuses[0].state.running)):
            return None
        lines = dict(line.split(" ", 1) for line in scene.log(POD).splitlines() if " " in line)
        return lines if set(lines) == set(PLACES) else None

    return wait_for(current, 90, f"{POD}'s report after {restarts} restart(s)")


def restart_then_recreate(scene: Scene, data_on_claim: bool) -> dict[str, dict[str, str]]:
    keeper = Members("keeper", KEEPER, data_on_claim=data_on_claim, grace_period=1)
    scene.apply(keeper.service(), keeper.statefulset())
    uid = scene.running_uid(POD)
    reports = {"first start": report(scene, uid, 0)}
    scene.exec(POD, ["touch", f"{LAYER}/crash"])
    reports["container restart"] = report(scene, uid, 1)
    scene.delete_pod(POD)
    new_uid = scene.running_uid(POD, other_than=uid)
    reports["pod recreation"] = report(scene, new_uid, 0)
    scene.evidence.measure("reports", reports)
    return reports


@pytest.mark.claim("LC-03")
@pytest.mark.disruptive
def test_layer_dies_with_container_scratch_with_pod_claim_survives(scene: Scene) -> None:
    reports = restart_then_recreate(scene, data_on_claim=True)
    assert_state(reports["first start"], dict.fromkeys(PLACES, "fresh"), "the first start")
    assert_state(reports["container restart"], {LAYER: "fresh", SCRATCH: "kept", DATA: "kept"}, "a container restart")
    assert_state(reports["pod recreation"], {LAYER: "fresh", SCRATCH: "fresh", DATA: "kept"}, "the pod's recreation")


@pytest.mark.claim("LC-03")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_data_on_an_emptydir_is_lost_with_the_pod(scene: Scene) -> None:
    reports = restart_then_recreate(scene, data_on_claim=False)
    with pytest.raises(AssertionError, match="/data was fresh after the pod's recreation"):
        assert_state(reports["pod recreation"], {LAYER: "fresh", SCRATCH: "fresh", DATA: "kept"}, "the pod's recreation")
