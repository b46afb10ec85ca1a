"""ND-04: replicas spread across nodes keep an app answering when one node is lost.

Story: three replicas behind a Service, spread over the nodes by a topology spread constraint
(one per node), serve traffic; each has served before the node carrying one of them is
powered off. Until the node lifecycle controller marks that node not Ready (one grace period)
and its pod leaves the Service, requests routed to the lost pod fail, but the others keep
answering: no stretch of MAX_SILENCE seconds passes without a successful request.

Control: the same app packed onto the lost node (a preferred node affinity) goes dark: from
the power-off on, nothing answers.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps
from podlife.chaos import nodes as chaos
from podlife.errors import HarnessError
from podlife.observe.clock import now
from podlife.observe.nodes import read_timers
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.nodes import assert_kept_serving
from podlife.waiting import wait_for
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig
from podlife.workloads.placement import prefer_node, spread_over_nodes

REPLICAS = 3
#: The longest an app with a live replica may go without answering: at the steady rate (25 req/s)
#: each request reaches the lost pod with probability 1/3, so 2 s of failures in a row (50
#: requests) would take odds of 3^-50. A longer silence means no live replica answered.
MAX_SILENCE = 2.0
#: How long traffic goes on after the node was marked not Ready: its pods leave the Service
#: once their Ready condition turns false, which the endpoints and kube-proxy apply within seconds.
AFTER_NOT_READY = 5.0


def lose_a_node_under_traffic(scene: Scene, jig: MakeJig, evidence: Evidence, spread: bool) -> tuple[Window, chaos.NodeHit]:
    timers = read_timers(scene.api, scene.cluster)
    node = chaos.disruptable_nodes(scene)[0]
    selector = {"app": "answering"}
    app = jig(Netexec("answering", replicas=REPLICAS, readiness_probe=True,
                      scheduling=spread_over_nodes(selector) if spread else prefer_node(node)))
    target = app.deploy()
    on_node = chaos.pods_on(scene, node, selector)
    if not on_node or (not spread and len(on_node) < REPLICAS):
        raise HarnessError(f"the app's pods are not placed as the scenario needs ({len(on_node)} on {node})")
    evidence.waits_on(node_monitor_grace=timers.monitor_grace)
    with scene.traffic(target, rate=apps.STEADY_RATE) as window:
        apps.serving(app, window)
        with chaos.node_lost(scene, node, "power-off", window) as hit:
            lost = chaos.confirm_lost(scene, hit, timers)
            until = (lost.not_ready_at or now()) + AFTER_NOT_READY
            wait_for(lambda: now() >= until, AFTER_NOT_READY + 10, "the traffic after the node was marked not Ready")
            window.mark("observed")
    evidence.measure("lost_node", node)
    evidence.measure("pods_on_lost_node", len(on_node))
    return window, lost


@pytest.mark.claim("ND-04")
@pytest.mark.nodes
def test_spread_replicas_keep_answering_through_a_node_loss(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    window, hit = lose_a_node_under_traffic(scene, jig, evidence, spread=True)
    silence = assert_kept_serving(window.ledger, hit.at, window.landmarks["observed"], MAX_SILENCE)
    evidence.measure("longest_silence_s", round(silence, 2))


@pytest.mark.claim("ND-04")
@pytest.mark.control
@pytest.mark.nodes
def test_control_packed_replicas_go_dark(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    window, hit = lose_a_node_under_traffic(scene, jig, evidence, spread=False)
    with pytest.raises(AssertionError, match="answered no request"):
        assert_kept_serving(window.ledger, hit.at, window.landmarks["observed"], MAX_SILENCE)
