"""SD-04: a delete's grace period (``kubectl delete --grace-period=N``) overrides the pod's own.

Story: a witness whose main process ignores SIGTERM declares a long grace period in its
spec. It is deleted with a short grace period in the delete options, which is what kubectl
sends for ``--grace-period=N``. The process is SIGKILLed (exit 137) when the override runs
out, not the spec's period. Control: deleted without the override, the same verdict with N
fails, because the kill comes at the spec's period.
"""

from __future__ import annotations

import pytest

from podlife.chaos.deletion import delete_and_watch
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.shutdown import assert_killed_at_grace
from podlife.workloads.witness import Witness

#: The spec's period and the override. The override's kill window (5..8 s, see
#: ``verdicts/shutdown.py``) holds neither the spec's period nor the kubelet's 2 s minimum, so a
#: kubelet that ignored the override, or cut it to its minimum, fails the check.
SPEC_GRACE = 12
OVERRIDE = 6
STUBBORN = Witness(ignore_sigterm=True, grace_period=SPEC_GRACE)


@pytest.mark.claim("SD-04")
@pytest.mark.disruptive
def test_delete_grace_period_overrides_the_pods(scene: Scene, evidence: Evidence) -> None:
    shutdown = delete_and_watch(scene, STUBBORN.pod("witness"), grace_override=OVERRIDE)
    evidence.waits_on(grace=OVERRIDE)
    delay = assert_killed_at_grace(shutdown, OVERRIDE, {"the pod spec's terminationGracePeriodSeconds": SPEC_GRACE})
    evidence.measure("kill_delay_s", round(delay, 3))


@pytest.mark.claim("SD-04")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_delete_without_override_is_caught(scene: Scene, evidence: Evidence) -> None:
    shutdown = delete_and_watch(scene, STUBBORN.pod("witness"))
    evidence.waits_on(grace=SPEC_GRACE)
    with pytest.raises(AssertionError, match="grace period is 6s .*that is the pod spec's terminationGracePeriodSeconds"):
        assert_killed_at_grace(shutdown, OVERRIDE, {"the pod spec's terminationGracePeriodSeconds": SPEC_GRACE})
