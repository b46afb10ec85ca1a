"""LC-01: pods can be killed at any time; a multi-replica app behind a Service keeps serving.

Story: an app serves traffic; one of its pods is deleted while requests flow. With three
replicas, a readiness probe and a preStop delay, the Service keeps answering (success ratio
at least SUCCESS_THRESHOLD) and the Deployment replaces the pod. The negative control, a
single replica without either, is caught falling below the same threshold.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps as chaos
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.verdicts.traffic import assert_success_ratio, check_hit_traffic
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig

#: With redundancy and a graceful shutdown no request should fail at all; one percent of
#: slack keeps the check about the claim (the app keeps serving) rather than about zero loss,
#: which RQ-03 checks exactly.
SUCCESS_THRESHOLD = 0.99
#: The single replica of the control takes this long to answer, as real apps do. Without it the
#: control raced: on a busy node the kubelet once signalled the old pod 1.4 s after the delete,
#: while the replacement was Ready after 0.8 s, and kube-proxy (which keeps routing to a
#: terminating endpoint while no other exists) moved over without losing a request. A start
#: slower than the kubelet's reaction leaves the Service with no endpoint, whatever the timing.
SLOW_START = 5


def kill_a_pod_under_traffic(jig: MakeJig, evidence: Evidence, app: Netexec) -> tuple[Window, chaos.Hit]:
    app_jig = jig(app)
    target = app_jig.deploy()
    with app_jig.scene.traffic(target, rate=chaos.STEADY_RATE) as window:
        hit = chaos.kill_pod(app_jig, window, chaos.serving(app_jig, window))
    evidence.measure("success_ratio", round(window.ledger.success_ratio, 4))
    return window, hit


@pytest.mark.claim("LC-01")
@pytest.mark.disruptive
def test_replicated_app_keeps_serving_when_a_pod_is_killed(jig: MakeJig, evidence: Evidence) -> None:
    app = Netexec("web", replicas=3, readiness_probe=True, pre_stop_sleep=5)
    window, hit = kill_a_pod_under_traffic(jig, evidence, app)
    check_hit_traffic(window.ledger, hit)
    assert_success_ratio(window, SUCCESS_THRESHOLD)


@pytest.mark.claim("LC-01")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_single_replica_falls_below_threshold(jig: MakeJig, evidence: Evidence) -> None:
    window, _ = kill_a_pod_under_traffic(jig, evidence, Netexec("web", replicas=1, readiness_probe=True,
                                                                 startup_delay=SLOW_START))
    with pytest.raises(AssertionError, match="below"):
        assert_success_ratio(window, SUCCESS_THRESHOLD)
