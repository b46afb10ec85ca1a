"""OP-01: small images make new pods start faster.

Story: one program (busybox's ``sleep``) is built into images of 5, 50 and 150 MB, padded with
random bytes, which do not compress, and fresh for every image, so no node has held one. Then,
one at a time, a new pod runs each; three rounds, alternately from small to large and from large
to small, so that a drift in the machine's speed does not pass for an effect of size. Each pod is
timed from its creation to its container running (the harness's watch, on its own clock), and the
kubelet's Pulled event gives the pull alone and the size it pulled. The growth of the fitted line
from the smallest to the largest image is judged against the scatter of the repeats
(``verdicts.image_size``). Control: images all of one size, started in the check's schedule and
judged as if each had the size of the image it stands in for, show no growth, and the same
verdict fails on their measured times: what the check sees comes from the bytes pulled, not
from the order of the starts or anything else the schedule brings.

Measured here: 14-15 ms per MB, 2.0-2.1 s from the 7 MB image to the 152 MB one, against a
noise of 0.3 s. Slow: check and control take 65 s together (37 s and 14 s, then the namespace's
deletion), most of it building, pushing and pulling 840 MB of images; and pulls timed beside
other scenarios (``-n 2``) would time those scenarios' load as well.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from podlife.cluster.registry import Shelf
from podlife.errors import HarnessError
from podlife.kube import check_can_run
from podlife.observe.clock import now
from podlife.observe.pulls import parse_pulled
from podlife.observe.timeline import Timeline
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.image_size import MB, Start, assert_grows_with_size, fit
from podlife.waiting import wait_for
from podlife.workloads.pulled import CONTAINER, image_pod, padded

SIZES_MB = (5, 50, 150)
ROUNDS = 3
#: The size of every control image.
CONTROL_MB = 50


def schedule() -> list[tuple[int, int]]:
    """(round, size in MB) in the order the check starts its pods: small to large, then back."""
    return [(round_, size_mb) for round_ in range(ROUNDS)
            for size_mb in (SIZES_MB if round_ % 2 == 0 else tuple(reversed(SIZES_MB)))]


def running_at(scene: Scene, timeline: Timeline, pod: str) -> float | None:
    """When the watch first saw the pod's container running (a pod that cannot pull its image ends the wait)."""
    seen = timeline.first_running(CONTAINER, pod)
    if seen is None:
        check_can_run(scene.pod(pod))
    return seen.seen if seen else None


def pulled_message(scene: Scene, pod: str) -> str | None:
    events = scene.core.list_namespaced_event(scene.namespace, field_selector=f"involvedObject.name={pod},reason=Pulled").items
    return events[0].message if events else None


def start(scene: Scene, shelf: Shelf, timeline: Timeline, name: str, size_mb: int) -> Start:
    """Build and push a fresh image of ``size_mb`` MB, then time a new pod of it until its container runs."""
    pushed = shelf.publish(padded(shelf.reference(name), size_mb * MB), name)
    created = now()
    scene.apply(image_pod(name, pushed.reference), source=f"a pod of a {size_mb} MB image")
    running = wait_for(lambda: running_at(scene, timeline, name), 300, f"{name} to run its {size_mb} MB image")
    message = wait_for(lambda: pulled_message(scene, name), 30, f"the kubelet's Pulled event of {name}")
    pull = parse_pulled(message)
    if pull is None:
        raise HarnessError(f"the node already held {pushed.reference}, so its pull cannot be timed: {message}")
    return Start(name, pull.size or pushed.size, running - created, pull.seconds)


def report(evidence: Evidence, starts: list[Start]) -> None:
    evidence.measure("starts", [asdict(s) for s in starts])
    pulls = [(s.size, s.pull) for s in starts if s.pull is not None]
    if len(pulls) == len(starts):
        evidence.measure("pull_alone", fit(pulls).summary())


@pytest.mark.claim("OP-01")
@pytest.mark.slow(seconds=37)  # no Kubernetes timer: 9 images built, pushed and pulled (measured, see above)
def test_new_pods_of_larger_images_start_later(scene: Scene, shelf: Shelf, evidence: Evidence) -> None:
    with scene.watch() as timeline:
        starts = [start(scene, shelf, timeline, f"r{round_}-{size_mb}mb", size_mb) for round_, size_mb in schedule()]
    report(evidence, starts)
    evidence.measure("pull_plus_start", assert_grows_with_size(starts).summary())


@pytest.mark.claim("OP-01")
@pytest.mark.control
@pytest.mark.slow(seconds=14)  # no Kubernetes timer: 9 images of one size (measured, see above)
def test_control_images_of_one_size_show_no_growth(scene: Scene, shelf: Shelf, evidence: Evidence) -> None:
    with scene.watch() as timeline:
        starts = [start(scene, shelf, timeline, f"same-r{round_}-{size_mb}", CONTROL_MB) for round_, size_mb in schedule()]
    report(evidence, starts)
    as_if = [replace(s, size=size_mb * MB) for s, (_, size_mb) in zip(starts, schedule())]
    evidence.measure("pull_plus_start_as_if_sized", fit([(s.size, s.seconds) for s in as_if]).summary())
    with pytest.raises(AssertionError, match="the image's size did not show in how fast new pods started"):
        assert_grows_with_size(as_if)
