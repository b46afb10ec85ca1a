"""LC-08: a missing dependency is better handled by a readiness probe than an init container.

Story: an app whose readiness probe checks a dependency Service is deployed before the
dependency exists, with traffic flowing to the app's Service. The app starts but stays
NotReady and gets no request (the probe fails, the kubelet says so in Unhealthy events).
Then the dependency is deployed: the app turns Ready and serves, with no restart. Control:
the same app waiting for the dependency in an init container never starts until it exists,
and the verdict catches that.
"""

from __future__ import annotations

import pytest

from podlife.observe.timeline import Timeline
from podlife.observe.window import Window
from podlife.verdicts.readiness import assert_waited_not_ready
from podlife.waiting import wait_for
from podlife.workloads.agnhost import WAIT_FOR_DEPENDENCY, Netexec
from podlife.workloads.jig import MakeJig

DEPENDENCY = "dependency"


def waiting_on_dependency(timeline: Timeline) -> bool:
    """The app shows it is waiting: its readiness probe failed, or its init container is looping."""
    return bool(timeline.events("Unhealthy")) or timeline.first_running(WAIT_FOR_DEPENDENCY) is not None


def dependency_arrives(jig: MakeJig, check: str) -> tuple[Window, str]:
    app = jig(Netexec("web", depends_on=DEPENDENCY, dependency_check=check))
    url = app.create()
    with app.scene.traffic(url) as window:
        wait_for(lambda: waiting_on_dependency(window.timeline), 60, "the app to wait for its dependency")
        window.mark("dependency deployed")
        jig(Netexec(DEPENDENCY)).deploy()
        wait_for(lambda: app.pods(), 60, "the app to turn Ready")
        served = wait_for(lambda: window.ledger.served_by(), 30, "the app to serve a request")
    return window, next(iter(served))


@pytest.mark.claim("LC-08")
def test_readiness_probe_holds_traffic_until_dependency_appears(jig: MakeJig) -> None:
    window, pod = dependency_arrives(jig, "readiness")
    assert_waited_not_ready(window.timeline, window.ledger, pod, "app", window.landmarks["dependency deployed"])


@pytest.mark.claim("LC-08")
@pytest.mark.control
def test_control_init_container_keeps_the_app_from_starting(jig: MakeJig) -> None:
    window, pod = dependency_arrives(jig, "init")
    with pytest.raises(AssertionError, match="not running before the dependency appeared"):
        assert_waited_not_ready(window.timeline, window.ledger, pod, "app", window.landmarks["dependency deployed"])
