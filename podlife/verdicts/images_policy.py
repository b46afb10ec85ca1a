"""Verdicts over the pull policy a pod got and the image it ran (OP-02).

A container that sets no ``imagePullPolicy`` gets one from the API server's defaulting
(``SetDefaults_Container`` in ``pkg/apis/core/v1/defaults.go``): ``Always`` when its tag is
``latest``, stated or implied (an image named with neither tag nor digest means ``:latest``),
``IfNotPresent`` otherwise, a digest without a tag included. With ``IfNotPresent`` a node that
already holds an image of that name runs it without asking the registry, so a tag that moved
from one build to the next (``latest`` does, by design) runs whichever build the node pulled
first. "A pod runs what its tag names" holds for pinned tags, and for ``latest`` only when pulled
``Always``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ALWAYS, IF_NOT_PRESENT = "Always", "IfNotPresent"


def tag_and_digest(image: str) -> tuple[str | None, str | None]:
    """An image reference's tag and digest (None where absent); a colon before the last slash is a registry's port."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    return (last.split(":", 1)[1] if ":" in last else None), (digest or None)


def implied_policy(image: str) -> str:
    """The pull policy the API server gives a container of ``image`` that sets none."""
    tag, digest = tag_and_digest(image)
    return ALWAYS if tag == "latest" or (tag is None and digest is None) else IF_NOT_PRESENT


@dataclass(frozen=True)
class Policy:
    """A created pod's container, as the API server stored it: its image and the pull policy it got."""

    pod: str
    image: str
    policy: str


def assert_defaulted_by_tag(policies: Sequence[Policy]) -> None:
    """OP-02: every container got the pull policy its image's tag implies."""
    wrong = [p for p in policies if p.policy != implied_policy(p.image)]
    assert not wrong, "; ".join(
        f"pod {p.pod} ({p.image}) has imagePullPolicy {p.policy}, not the {implied_policy(p.image)} its tag implies"
        + (": a node that holds an older image of this name runs that one" if p.policy == IF_NOT_PRESENT else "")
        for p in wrong)


@dataclass(frozen=True)
class Version:
    """What a tag named in the registry when a pod was created: the build's answer and its manifest digest."""

    answer: str
    digest: str


@dataclass(frozen=True)
class Ran:
    """A pod that ran an image to its end: what it asked for, what it printed, and what its tag named then."""

    pod: str
    image: str
    policy: str
    #: What the program printed: each build prints its own version.
    answer: str
    #: ``containerStatuses[].imageID``: the image the runtime ran, by digest.
    image_id: str
    named: Version


def assert_runs_what_its_tag_names(runs: Sequence[Ran]) -> None:
    """OP-02: each pod ran the build its tag named in the registry when the pod was created."""
    stale = [r for r in runs if r.answer != r.named.answer]
    assert not stale, "; ".join(
        f"pod {r.pod} ({r.image}, imagePullPolicy {r.policy}) ran {r.answer!r} (image {r.image_id}) while the tag "
        f"named {r.named.answer!r} ({r.named.digest})" for r in stale
    ) + (": the node ran its older copy of the tag without asking the registry. Give each build a tag of its own "
         "(or run it by digest), or pull Always")
