"""RQ-01: without a readiness probe a Service sends traffic to a pod before the app is ready.

Story: a slow-starting app (it listens only SLOW_START seconds after its container starts)
serves traffic with one replica; it is scaled to three while requests flow. With a readiness
probe the new pods join the Service only once they answer, so no request fails. Without one,
the Service routes to them as soon as their container runs, and requests are refused: the
negative control shows the check catches exactly that.
"""

from __future__ import annotations

import pytest

from podlife.observe.window import Window
from podlife.verdicts.traffic import assert_no_request_lost, assert_requests_lost
from podlife.waiting import wait_for
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig

#: Seconds between container start and the server listening: long enough that, at 25 requests
#: per second, an unready pod in the Service is hit by dozens of requests.
SLOW_START = 6
REPLICAS_AFTER = 3


def scale_up_a_slow_starter_under_traffic(jig: MakeJig, readiness_probe: bool) -> Window:
    app = jig(Netexec("slow-start", startup_delay=SLOW_START, readiness_probe=readiness_probe))
    url = app.deploy()
    with app.scene.traffic(url) as window:
        window.mark("scaled up")
        app.scale(REPLICAS_AFTER)
        wait_for(lambda: len(window.ledger.served_by()) >= REPLICAS_AFTER, SLOW_START + 90, "every replica to serve")
    return window


@pytest.mark.claim("RQ-01")
def test_new_pods_get_traffic_only_when_ready(jig: MakeJig) -> None:
    window = scale_up_a_slow_starter_under_traffic(jig, readiness_probe=True)
    assert_no_request_lost(window.ledger, window.timeline, window.landmarks)


@pytest.mark.claim("RQ-01")
@pytest.mark.control
def test_without_readiness_probe_requests_fail(jig: MakeJig) -> None:
    window = scale_up_a_slow_starter_under_traffic(jig, readiness_probe=False)
    assert_requests_lost(window.ledger, window.timeline, window.landmarks)
    first_failure = window.ledger.failures[0]
    assert first_failure.sent >= window.landmarks["scaled up"], "requests failed before the scale-up: not the claim's effect"
