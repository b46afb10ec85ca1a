"""ND-01: a drain evicts through the Eviction API and honours PodDisruptionBudgets.

Story: an app of three replicas, all started on one node (a preferred node affinity), with a
readiness probe, a preStop delay and a slow start (its server listens SLOW_START seconds after
its container starts), serves traffic while that node is drained. With a budget of
minAvailable 2, the drain may take only one pod at a time: the next eviction is refused (429)
until the replacement, started on another node, is ready. The budget's check replays the
pods' readiness on the timeline; the traffic check reads the ledger.

Controls: without a budget the drain evicts all three at once, the Service is left without a
ready pod while the replacements start, and requests fail; with the budget but the pods
deleted instead of evicted, the budget is never asked and fewer than two pods stay ready.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps
from podlife.chaos import nodes as chaos
from podlife.errors import HarnessError
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.nodes import assert_budget_held, healthy_pods
from podlife.verdicts.traffic import assert_no_request_lost, assert_requests_lost
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig
from podlife.workloads.placement import disruption_budget, prefer_node

REPLICAS, MIN_AVAILABLE = 3, 2
#: Seconds before a replacement listens: the no-budget drain leaves the Service empty that long.
SLOW_START = 8
#: The preStop delay: the evicted pod keeps serving while kube-proxy drops it (RQ-03).
PRE_STOP = 3


def drain_under_traffic(scene: Scene, jig: MakeJig, evidence: Evidence, budget: bool,
                        method: chaos.DrainMethod = "evict") -> tuple[Window, chaos.DrainHit]:
    node = chaos.disruptable_nodes(scene)[0]
    app = jig(Netexec("drained", replicas=REPLICAS, readiness_probe=True, startup_delay=SLOW_START,
                      pre_stop_sleep=PRE_STOP, scheduling=prefer_node(node)))
    if budget:
        scene.apply(disruption_budget("drained", app.app.selector, MIN_AVAILABLE))
    target = app.deploy(timeout=REPLICAS * SLOW_START + 120)
    if len(chaos.pods_on(scene, node, app.app.selector)) < REPLICAS:
        raise HarnessError(f"the app's pods did not all start on {node}, the node to drain")
    with scene.traffic(target, rate=apps.ROLLOUT_RATE) as window:
        apps.serving(app, window)
        with chaos.drained(scene, node, window, method) as hit:
            apps.settle(app, window, "drain")
    evidence.measure("drained_node", node)
    evidence.measure("evictions_refused", sum(e.refusals for e in hit.evictions))
    evidence.measure("drain_s", round(hit.finished - hit.at, 1))
    return window, hit


def budget_kept(window: Window, hit: chaos.DrainHit) -> None:
    healthy = healthy_pods(window.timeline, lambda pod: pod.startswith("drained-"), hit.at, hit.finished)
    assert_budget_held(healthy, MIN_AVAILABLE, f"draining {hit.node}")


@pytest.mark.claim("ND-01")
@pytest.mark.nodes
def test_drain_honours_the_budget_and_loses_no_request(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    window, hit = drain_under_traffic(scene, jig, evidence, budget=True)
    assert sum(e.refusals for e in hit.evictions) > 0, "the budget never refused an eviction: the drain did not test it"
    budget_kept(window, hit)
    assert_no_request_lost(window)


@pytest.mark.claim("ND-01")
@pytest.mark.control
@pytest.mark.nodes
def test_control_drain_without_budget_leaves_the_service_empty(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    window, hit = drain_under_traffic(scene, jig, evidence, budget=False)
    with pytest.raises(AssertionError, match="below the budget"):
        budget_kept(window, hit)
    assert_requests_lost(window, since="drain")


@pytest.mark.claim("ND-01")
@pytest.mark.control
@pytest.mark.nodes
def test_control_deleting_instead_of_evicting_ignores_the_budget(scene: Scene, jig: MakeJig, evidence: Evidence) -> None:
    window, hit = drain_under_traffic(scene, jig, evidence, budget=True, method="delete")
    with pytest.raises(AssertionError, match="below the budget"):
        budget_kept(window, hit)
