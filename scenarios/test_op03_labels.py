"""OP-03: one label per dimension (app, track, tier, environment), so selectors can be precise.

Story (a Service): the app web runs as a stable Deployment of two pods and a canary of one, all
labelled app=web and track=stable or track=canary. A Service selecting app=web,track=stable gets
a hundred requests: the ledger names the pod behind each answer, and they are the stable pods,
never the canary. Control: a Service selecting only app=web, the label both tracks share, is
caught sending requests to the canary.

Story (an operation): Deployments of an api in test and in production and of a web frontend in
test, labelled with their tier and environment. Scaling to zero the Deployments selected by
tier=backend,environment=test (``kubectl scale deployment -l ... --replicas=0``) reaches the test
api only; the others keep their replica. Control: selecting by tier=backend alone scales the
production api down too, and the same verdict catches it.
"""

from __future__ import annotations

import pytest

from podlife.observe.traffic import Ledger
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import meta, name_of, present
from podlife.verdicts.selection import assert_reached_exactly, assert_served_only_by
from podlife.waiting import wait_for
from podlife.workloads.jig import MakeJig
from podlife.workloads.labelled import Labelled, Tracks, selector_text

STABLE = {"app": "web", "track": "stable"}
TRACKS = [Labelled("web-stable", replicas=2, readiness_probe=True, dimensions=STABLE),
          Labelled("web-canary", replicas=1, readiness_probe=True, dimensions={"app": "web", "track": "canary"})]
#: With two stable pods and one canary, the chance that a hundred requests through app=web all
#: miss the canary is (2/3)^100, about 1e-18: the control cannot pass by luck.
REQUESTS = 100

BACKEND_TEST = {"tier": "backend", "environment": "test"}
DEPLOYMENTS = [Labelled("api-test", dimensions={"app": "api", **BACKEND_TEST}),
               Labelled("api-production", dimensions={"app": "api", "tier": "backend", "environment": "production"}),
               Labelled("web-test", dimensions={"app": "web", "tier": "frontend", "environment": "test"})]


def serve(jig: MakeJig, evidence: Evidence, selector: dict[str, str]) -> tuple[Ledger, dict[str, dict[str, str]]]:
    """Both tracks behind a Service selecting ``selector``, every pod ready; the ledger of REQUESTS requests and the pods' labels."""
    tracks = Tracks("web", TRACKS, selector)
    app = jig(tracks)
    target = app.deploy()
    pods = app.scene.wait_ready({"app": "web"}, tracks.pods)
    with app.scene.traffic(target) as window:
        wait_for(lambda: len(window.ledger.requests) >= REQUESTS, 60, f"{REQUESTS} requests through {tracks.name}")
    evidence.measure("served_by", window.ledger.served_by())
    return window.ledger, {name_of(p): dict(meta(p).labels or {}) for p in pods}


@pytest.mark.claim("OP-03")
def test_a_service_selecting_every_dimension_never_reaches_the_canary(jig: MakeJig, evidence: Evidence) -> None:
    ledger, pods = serve(jig, evidence, STABLE)
    assert_served_only_by(ledger, pods, STABLE)


@pytest.mark.claim("OP-03")
@pytest.mark.control
def test_control_a_service_selecting_one_label_reaches_the_canary(jig: MakeJig, evidence: Evidence) -> None:
    ledger, pods = serve(jig, evidence, {"app": "web"})
    with pytest.raises(AssertionError, match=r"outside app=web,track=stable: web-canary-\S+ \(app=web,track=canary\): \d+ requests"):
        assert_served_only_by(ledger, pods, STABLE)


def scale_to_zero(scene: Scene, evidence: Evidence, selector: dict[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``kubectl scale deployment -l SELECTOR --replicas=0`` among DEPLOYMENTS: what it changed, and every Deployment's labels."""
    scene.apply(*(d.deployment() for d in DEPLOYMENTS), source="Deployments labelled by tier and environment")

    def replicas() -> dict[str, int | None]:
        return {name_of(d): present(d.spec, "spec of a Deployment").replicas
                for d in scene.apps.list_namespaced_deployment(scene.namespace).items}

    before = replicas()
    for deployment in scene.apps.list_namespaced_deployment(scene.namespace, label_selector=selector_text(selector)).items:
        scene.scale("Deployment", name_of(deployment), 0)
    after = replicas()
    evidence.measure("replicas", {"before": before, "after": after})
    labels = {name_of(d): dict(meta(d).labels or {}) for d in scene.apps.list_namespaced_deployment(scene.namespace).items}
    return {name: f"replicas {before[name]} -> {after[name]}" for name in after if after[name] != before[name]}, labels


@pytest.mark.claim("OP-03")
def test_scaling_by_tier_and_environment_reaches_only_the_test_backend(scene: Scene, evidence: Evidence) -> None:
    reached, deployments = scale_to_zero(scene, evidence, BACKEND_TEST)
    assert_reached_exactly(reached, deployments, BACKEND_TEST, f"scaling -l {selector_text(BACKEND_TEST)}")


@pytest.mark.claim("OP-03")
@pytest.mark.control
def test_control_scaling_by_tier_alone_reaches_production_too(scene: Scene, evidence: Evidence) -> None:
    reached, deployments = scale_to_zero(scene, evidence, {"tier": "backend"})
    with pytest.raises(AssertionError, match=r"api-production \(environment=production,tier=backend\): replicas 1 -> 0"):
        assert_reached_exactly(reached, deployments, BACKEND_TEST, "scaling -l tier=backend")
