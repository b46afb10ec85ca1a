"""OP-02's verdicts: the pull policy the API server's defaulting gives, and whether a pod ran what its tag names."""

from __future__ import annotations

import pytest

from podlife.verdicts.images_policy import (
    Policy,
    Ran,
    Version,
    assert_defaulted_by_tag,
    assert_runs_what_its_tag_names,
    implied_policy,
    tag_and_digest,
)

DIGEST = "sha256:" + "3" * 64


@pytest.mark.parametrize(("image", "tag", "policy"), [
    ("busybox", None, "Always"),
    ("localhost:5000/shop", None, "Always"),           # the registry's port is not a tag
    ("localhost:5000/shop:latest", "latest", "Always"),
    ("localhost:5000/shop:1.4.2", "1.4.2", "IfNotPresent"),
    (f"shop@{DIGEST}", None, "IfNotPresent"),           # a digest pins the image as a tag does
    (f"shop:latest@{DIGEST}", "latest", "Always"),      # ... unless the tag beside it is latest
])
def test_the_implied_policy_follows_the_api_servers_defaulting(image: str, tag: str | None, policy: str) -> None:
    assert tag_and_digest(image)[0] == tag
    assert implied_policy(image) == policy


def test_policies_as_defaulted_pass_and_one_set_by_hand_against_the_tag_fails() -> None:
    assert_defaulted_by_tag([Policy("a", "shop", "Always"), Policy("b", "shop:2", "IfNotPresent")])
    with pytest.raises(AssertionError, match=r"pod b \(shop:latest\) has imagePullPolicy IfNotPresent, not the Always its "
                                             "tag implies: a node that holds an older image of this name runs that one"):
        assert_defaulted_by_tag([Policy("a", "shop", "Always"), Policy("b", "shop:latest", "IfNotPresent")])


BUILD_1, BUILD_2 = Version("build-1", "sha256:" + "1" * 64), Version("build-2", "sha256:" + "2" * 64)


def ran(pod: str, answer: str, named: Version, policy: str = "Always") -> Ran:
    image_id = f"localhost:5000/shop@{BUILD_1.digest if answer == 'build-1' else BUILD_2.digest}"
    return Ran(pod, "localhost:5000/shop:latest", policy, answer, image_id, named)


def test_pods_that_ran_what_their_tag_named_pass() -> None:
    assert_runs_what_its_tag_names([ran("first", "build-1", BUILD_1), ran("always", "build-2", BUILD_2)])


def test_a_pod_that_ran_the_nodes_older_build_fails_naming_both_builds_and_the_fix() -> None:
    with pytest.raises(AssertionError) as failure:
        assert_runs_what_its_tag_names([ran("first", "build-1", BUILD_1), ran("stale", "build-1", BUILD_2, "IfNotPresent")])
    message = str(failure.value)
    assert message.startswith(f"pod stale (localhost:5000/shop:latest, imagePullPolicy IfNotPresent) ran 'build-1' "
                              f"(image localhost:5000/shop@{BUILD_1.digest}) while the tag named 'build-2' ({BUILD_2.digest})")
    assert "first" not in message and "Give each build a tag of its own" in message
