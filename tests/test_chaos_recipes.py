"""The disruption recipes of ``chaos.apps``, driven through a real jig over a fake scene (``tests/fakes.py``).

Each recipe must mark its landmark, settle, and return what it hit: the pods a verdict's
exposure rule then checks served traffic before the disruption.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps as chaos
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import AppJig
from tests.fakes import FakeScene


@pytest.fixture(autouse=True)
def short_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake's kube-proxy applies changes at once: no tail of traffic is needed after settling."""
    monkeypatch.setattr(chaos, "TRAFFIC_AFTER_SETTLED", 0.05)
    monkeypatch.setattr(chaos, "SETTLE_TIMEOUT", 5.0)
    monkeypatch.setattr(chaos, "FIRST_SERVED_TIMEOUT", 5.0)


def jig(replicas: int = 3) -> tuple[AppJig, FakeScene]:
    scene = FakeScene(replicas)
    return AppJig(scene, Netexec("web", replicas=replicas)), scene  # type: ignore[arg-type]


def test_a_rolling_update_hits_every_old_pod_and_settles_on_new_ones() -> None:
    app, scene = jig()
    with scene.traffic() as window:
        served = chaos.serving(app, window)
        hit = chaos.rolling_update(app, window)
    assert set(served) == set(hit.pods) == {"web-0", "web-1", "web-2"}
    assert list(window.landmarks) == ["rolling-update", "settled"] and hit.at == window.landmarks["rolling-update"]
    assert {pod for pod in window.timeline.deletion_started()} == set(hit.pods)
    assert not set(hit.pods) & set(scene.pods_by_name)


def test_a_scale_down_flaps_once_and_hits_the_pods_it_removed() -> None:
    app, scene = jig()
    with scene.traffic() as window:
        chaos.serving(app, window)
        hit = chaos.scale_down(app, window, to=1)
    assert len(hit.pods) == 3 and len(scene.pods_by_name) == 1
    assert list(window.landmarks) == ["scale-down", "settled"]


def test_a_control_flaps_until_a_request_is_lost() -> None:
    app, scene = jig()
    with scene.traffic() as window:
        chaos.serving(app, window)
        hit = chaos.scale_down(app, window, to=3, attempts=3)
    assert list(window.landmarks) == ["scale-down", "settled 1", "scale-down 2", "settled 2", "scale-down 3", "settled"]
    assert len(hit.pods) == 3

    app, scene = jig()
    with scene.traffic() as window:
        chaos.serving(app, window)
        scene.failing = True  # the first flap loses requests while its pod shuts down: no second one
        chaos.scale_down(app, window, to=3, attempts=3)
    assert list(window.landmarks) == ["scale-down", "settled 1"]


def test_a_pod_kill_takes_the_busiest_pod_and_names_its_replacement() -> None:
    app, scene = jig()
    with scene.traffic() as window:
        served = chaos.serving(app, window)
        hit = chaos.kill_pod(app, window, {**served, "web-1": max(served.values()) + 1})
    assert hit.pods == ("web-1",) and hit.replacements == ("web-3",)
    assert list(window.landmarks) == ["deleted web-1", "replacement serving", "settled"]


def test_a_scale_up_hits_the_new_pods_once_each_served() -> None:
    app, scene = jig(replicas=1)
    with scene.traffic() as window:
        chaos.serving(app, window)
        hit = chaos.scale_up(app, window, to=3)
    assert hit.pods == ("web-1", "web-2")
    assert all(window.ledger.served_by()[pod] for pod in hit.pods)
    assert list(window.landmarks) == ["scale-up", "new pods serving", "settled"]
