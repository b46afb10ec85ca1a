"""OP-03's verdict over what a selector reached: the pods that answered a Service, the Deployments a scale changed."""

from __future__ import annotations

import pytest

from podlife.errors import GeneratorLag, NotExercised
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.selection import assert_reached_exactly, assert_served_only_by
from podlife.workloads.labelled import Labelled, Tracks

STABLE = {"app": "web", "track": "stable"}
PODS = {
    "web-stable-a": {**STABLE, "pod-template-hash": "1"},
    "web-stable-b": {**STABLE, "pod-template-hash": "1"},
    "web-canary-c": {"app": "web", "track": "canary", "pod-template-hash": "2"},
}


def ledger(*served: str) -> Ledger:
    return Ledger("http://10.96.0.10:80/hostname", 25, [Request(i, i / 25, i / 25, 0.002, 200, None, pod)
                                                         for i, pod in enumerate(served)])


def test_answers_from_every_stable_pod_and_no_other_pass() -> None:
    assert_served_only_by(ledger("web-stable-a", "web-stable-b", "web-stable-a"), PODS, STABLE)


def test_answers_from_the_canary_fail_naming_it_with_its_dimensions_and_its_share() -> None:
    with pytest.raises(AssertionError, match=r"\(3 requests answered\) reached 1 object\(s\) outside app=web,track=stable: "
                                             r"web-canary-c \(app=web,track=canary\): 1 requests\. Its selector must name"):
        assert_served_only_by(ledger("web-stable-a", "web-canary-c", "web-stable-b"), PODS, STABLE)


def test_a_stable_pod_that_answered_nothing_is_missed() -> None:
    with pytest.raises(AssertionError, match="missed web-stable-b, labelled app=web,track=stable"):
        assert_served_only_by(ledger("web-stable-a", "web-stable-a"), PODS, STABLE)


def test_no_answer_at_all_is_inconclusive_not_a_pass() -> None:
    with pytest.raises(NotExercised):
        assert_served_only_by(Ledger("http://web", 25, [Request(0, 0, 0, 2.0, None, "Connection refused", None)]), PODS, STABLE)
    late = Ledger("http://web", 25, [Request(0, 0.0, 0.9, 0.002, 200, None, "web-stable-a")])
    with pytest.raises(GeneratorLag):
        assert_served_only_by(late, PODS, STABLE)


def test_an_operation_is_judged_by_the_same_rule() -> None:
    deployments = {"api-test": {"tier": "backend", "environment": "test"},
                   "api-production": {"tier": "backend", "environment": "production"}}
    meant = {"tier": "backend", "environment": "test"}
    assert_reached_exactly({"api-test": "replicas 1 -> 0"}, deployments, meant, "scaling")
    with pytest.raises(AssertionError, match=r"api-production \(environment=production,tier=backend\): replicas 1 -> 0"):
        assert_reached_exactly({"api-test": "replicas 1 -> 0", "api-production": "replicas 1 -> 0"}, deployments, meant, "scaling")


def test_tracks_wait_for_the_pods_their_service_picks_and_select_each_track_by_all_its_labels() -> None:
    tracks = Tracks("web", [Labelled("web-stable", replicas=2, dimensions=STABLE),
                            Labelled("web-canary", dimensions={"app": "web", "track": "canary"})], STABLE)
    assert (tracks.replicas, tracks.pods) == (2, 3)
    stable, canary, service = tracks.manifests()
    assert stable["spec"]["selector"]["matchLabels"] == STABLE == stable["metadata"]["labels"]
    assert canary["spec"]["template"]["metadata"]["labels"] == {"app": "web", "track": "canary"}
    assert service["spec"]["selector"] == STABLE and service["metadata"]["name"] == "web"
