"""OP-02: avoid the latest tag.

Story (defaulting): pods naming one image without a tag, as latest, with a version, by digest and
as latest by digest are created where no node may run them (nothing is pulled) and read back:
the API server gave Always to the untagged and the latest ones, IfNotPresent to the others.
Control: a pod that sets IfNotPresent on latest keeps it, and the same verdict catches a latest
image that a node will not pull again.

Story (the stale image): build 1 of an app (one program, printing which build it is) is pushed
as latest and run on the node; build 2 is pushed under the same tag. A new pod pulling Always
runs build 2, and builds pushed under tags of their own each run as their tag names. Control: a
new pod of latest with IfNotPresent runs build 1, the node's copy (it prints so, and its
imageID is build 1's), though the tag names build 2: the same verdict catches it.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import pytest
from kubernetes import client

from podlife.cluster.registry import Shelf
from podlife.errors import HarnessError
from podlife.kube import check_can_run
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import pod_spec, pod_status
from podlife.verdicts.images_policy import (
    ALWAYS,
    IF_NOT_PRESENT,
    Policy,
    Ran,
    Version,
    assert_defaulted_by_tag,
    assert_runs_what_its_tag_names,
)
from podlife.waiting import wait_for
from podlife.workloads.pulled import CONTAINER, answering, image_pod

#: Never pulled: the defaulting pods are not scheduled.
IMAGE = "registry.example/podlife/shop"
DIGEST = "sha256:" + "3" * 64
DEFAULTED = {"untagged": IMAGE, "latest": f"{IMAGE}:latest", "version": f"{IMAGE}:1.4.2",
             "digest": f"{IMAGE}@{DIGEST}", "latest-by-digest": f"{IMAGE}:latest@{DIGEST}"}


def created(scene: Scene, pods: dict[str, tuple[str, str | None]]) -> list[Policy]:
    """Create unscheduled pods of ``name: (image, pull policy or None)``; what the API server stored."""
    scene.apply(*(image_pod(name, image, policy, scheduled=False) for name, (image, policy) in pods.items()),
                source="pods never scheduled, read back")
    return [Policy(name, str(c.image), str(c.image_pull_policy))
            for name in pods for c in pod_spec(scene.pod(name)).containers]


@pytest.mark.claim("OP-02")
def test_the_pull_policy_defaults_to_always_for_latest_only(scene: Scene, evidence: Evidence) -> None:
    policies = created(scene, {name: (image, None) for name, image in DEFAULTED.items()})
    evidence.measure("defaulted", {p.image: p.policy for p in policies})
    assert_defaulted_by_tag(policies)


@pytest.mark.claim("OP-02")
@pytest.mark.control
def test_control_latest_set_to_if_not_present_is_caught(scene: Scene) -> None:
    policies = created(scene, {"latest-if-not-present": (f"{IMAGE}:latest", IF_NOT_PRESENT)})
    with pytest.raises(AssertionError, match="has imagePullPolicy IfNotPresent, not the Always its tag implies"):
        assert_defaulted_by_tag(policies)


def publish(scene: Scene, shelf: Shelf, build: str, tag: str) -> Version:
    """Push the build printing ``build`` as ``tag``: what the tag names from now on."""
    return Version(build, shelf.publish(answering(shelf.reference(tag), build, scene.namespace), tag).digest)


def ended(scene: Scene, name: str) -> client.V1Pod | None:
    pod = scene.pod(name)
    check_can_run(pod)
    return pod if pod_status(pod).phase in ("Succeeded", "Failed") else None


def run(scene: Scene, evidence: Evidence, name: str, image: str, named: Version, policy: str | None = None) -> Ran:
    """A new pod of ``image`` (whose tag names ``named``), run to its end on the node: what it printed and ran."""
    scene.apply(image_pod(name, image, policy), source=f"a pod of {image}")
    pod = wait_for(lambda: ended(scene, name), 120, f"{name} to run {image} to its end")
    status = next(s for s in pod_status(pod).container_statuses or [] if s.name == CONTAINER)
    terminated = status.state.terminated if status.state else None
    if terminated is None or terminated.exit_code != 0:
        raise HarnessError(f"{name} did not run {image} to a clean end: {terminated}")
    ran = Ran(name, image, str(pod_spec(pod).containers[0].image_pull_policy), scene.log(name).strip(),
              status.image_id, named)
    evidence.measure(f"ran_{name}", asdict(ran))
    return ran


@pytest.mark.claim("OP-02")
def test_builds_under_tags_of_their_own_run_as_their_tags_name(scene: Scene, shelf: Shelf, evidence: Evidence) -> None:
    runs = []
    for build in ("build-1", "build-2"):
        runs.append(run(scene, evidence, build, shelf.reference(build), publish(scene, shelf, build, build)))
    assert_runs_what_its_tag_names(runs)


def latest_moved(scene: Scene, shelf: Shelf, evidence: Evidence) -> tuple[Ran, Version]:
    """Build 1 pushed as latest and run on the node, then build 2 pushed as latest: the first run, and what latest names now."""
    first = run(scene, evidence, "first", shelf.reference("latest"), publish(scene, shelf, "build-1", "latest"))
    return first, publish(scene, shelf, "build-2", "latest")


@pytest.mark.claim("OP-02")
def test_latest_pulled_always_runs_the_newest_build(scene: Scene, shelf: Shelf, evidence: Evidence) -> None:
    first, newest = latest_moved(scene, shelf, evidence)
    assert_runs_what_its_tag_names([first, run(scene, evidence, "always", shelf.reference("latest"), newest, ALWAYS)])


@pytest.mark.claim("OP-02")
@pytest.mark.control
def test_control_latest_if_not_present_runs_the_nodes_older_build(scene: Scene, shelf: Shelf, evidence: Evidence) -> None:
    first, newest = latest_moved(scene, shelf, evidence)
    stale = run(scene, evidence, "if-not-present", shelf.reference("latest"), newest, IF_NOT_PRESENT)
    with pytest.raises(AssertionError, match=rf"ran 'build-1' \(image {re.escape(first.image_id)}\) while the tag named 'build-2'"):
        assert_runs_what_its_tag_names([first, stale])
