"""RQ-01: without a readiness probe a Service sends traffic to a pod before the app is ready.

Story: a slow-starting app (it listens only SLOW_START seconds after its container starts)
serves traffic with one replica; it is scaled to three while requests flow. With a readiness
probe the new pods join the Service only once they answer, so no request fails. Without one,
the Service routes to them as soon as their container runs, and requests are refused: the
negative control shows the check catches exactly that.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps as chaos
from podlife.observe.window import Window
from podlife.verdicts.traffic import assert_no_request_lost, assert_requests_lost
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig

#: Seconds between container start and the server listening: long enough that, at the
#: steady rate (25 req/s), an unready pod in the Service is hit by dozens of requests.
SLOW_START = 6
REPLICAS_AFTER = 3


def scale_up_a_slow_starter_under_traffic(jig: MakeJig, readiness_probe: bool) -> tuple[Window, chaos.Hit]:
    app = jig(Netexec("slow-start", startup_delay=SLOW_START, readiness_probe=readiness_probe))
    target = app.deploy()
    with app.scene.traffic(target, rate=chaos.STEADY_RATE) as window:
        hit = chaos.scale_up(app, window, to=REPLICAS_AFTER)
    return window, hit


@pytest.mark.claim("RQ-01")
def test_new_pods_get_traffic_only_when_ready(jig: MakeJig) -> None:
    window, _ = scale_up_a_slow_starter_under_traffic(jig, readiness_probe=True)
    assert_no_request_lost(window)


@pytest.mark.claim("RQ-01")
@pytest.mark.control
def test_without_readiness_probe_requests_fail(jig: MakeJig) -> None:
    window, _ = scale_up_a_slow_starter_under_traffic(jig, readiness_probe=False)
    assert_requests_lost(window, since="scale-up")
