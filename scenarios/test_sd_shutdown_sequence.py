"""LC-12, SD-01, SD-02, SD-03: how a pod is shut down.

Story: a witness pod (its main process and hooks record what happens to them, with
timestamps) is deleted. The harness watches the pod go Terminating, reads the records back
from the final pod status, and checks: deletionTimestamp first (SD-01); preStop to
completion, then SIGTERM (LC-12, SD-02); a process ignoring SIGTERM SIGKILLed with exit 137
when the grace period, preStop time included, runs out (SD-03); 30 s when unset (SD-03).
Each check has a negative control running its verdict against the bad variant.
"""

from __future__ import annotations

import pytest

from podlife.chaos.deletion import delete_and_watch
from podlife.kernel.defaults import DEFAULT_GRACE
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import pod_spec
from podlife.verdicts.shutdown import (
    assert_killed_at_grace,
    assert_marked_before_removed,
    assert_pre_stop_completed_before_sigterm,
)
from podlife.workloads.witness import Hook, Witness

#: Short enough for the quick profile, long enough to tell "killed at grace" from "killed
#: at grace + preStop" beyond the tolerance.
GRACE = 8
PRE_STOP = 3


@pytest.mark.claim("LC-12", "SD-01", "SD-02", "SD-03")
@pytest.mark.disruptive
def test_pre_stop_then_sigterm_then_sigkill_at_grace(scene: Scene, evidence: Evidence) -> None:
    shutdown = delete_and_watch(scene, Witness(ignore_sigterm=True, pre_stop=Hook(sleep=PRE_STOP), grace_period=GRACE).pod("witness"))
    evidence.attach("records", "\n".join(f"{e} {t - shutdown.deleted_at:+.3f}s" for e, t in shutdown.records()))
    assert_marked_before_removed(shutdown)
    assert_pre_stop_completed_before_sigterm(shutdown)
    evidence.waits_on(grace=GRACE)
    evidence.measure("kill_delay_s", round(assert_killed_at_grace(shutdown, GRACE), 3))


@pytest.mark.claim("SD-03")
def test_default_grace_period_is_30s(scene: Scene) -> None:
    scene.apply(Witness().pod("witness"))
    assert pod_spec(scene.pod("witness")).termination_grace_period_seconds == DEFAULT_GRACE


@pytest.mark.claim("SD-03")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_process_honouring_sigterm_is_not_killed_at_grace(scene: Scene) -> None:
    shutdown = delete_and_watch(scene, Witness(pre_stop=Hook(sleep=PRE_STOP), grace_period=GRACE).pod("witness"))
    with pytest.raises(AssertionError, match="not 137"):
        assert_killed_at_grace(shutdown, GRACE)


@pytest.mark.claim("LC-12", "SD-02")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_without_pre_stop_hook_order_check_fails(scene: Scene) -> None:
    shutdown = delete_and_watch(scene, Witness(grace_period=GRACE).pod("witness"))
    with pytest.raises(AssertionError, match="prestop-start"):
        assert_pre_stop_completed_before_sigterm(shutdown)


@pytest.mark.claim("SD-01")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_force_delete_skips_terminating(scene: Scene) -> None:
    shutdown = delete_and_watch(scene, Witness(ignore_sigterm=True, grace_period=GRACE).pod("witness"), grace_override=0)
    with pytest.raises(AssertionError):
        assert_marked_before_removed(shutdown)
