"""RQ-04 (with RQ-02): a client that keeps its connection alive stays with its pod after the data path
drops it, so a preStop delay does not protect it; the app must end its kept-alive connections itself.

RQ-02 is judged here on kept connections: after its deletion started, an old pod still got
requests on connections clients had opened before (``check_kept_alive_exposed``), long after the
node's rules stopped routing new connections to it. That is also what makes the run count: had
no request come on a kept connection after the kubelet began stopping the pod, an app that exits
with connections open could not have failed one, and a pass would prove nothing.

Story: three replicas whose answers take ``ANSWER_AFTER`` (so requests are in flight a while,
as real ones are), each with a preStop sleep, serve ``KEEPALIVE`` clients that each keep their
connection; the Deployment is rolled out. The app that, after its sleep, shuts down as Go's
``http.Server.Shutdown`` does (idle connections closed, requests in flight answered with
``Connection: close``, then exit) loses nothing: its clients move to new connections, which
the data path sends to the new pods. The control is RQ-03's graceful app as usually written:
the same preStop sleep, then exit at SIGTERM with the kept connections open; the requests in
flight on them are cut off, and the failure text names the kept-alive connections and the fix.

The clients send a GET that a kept connection's end cut off once more on a new connection, as
HTTP pools do (RFC 9112, 9.3.1): HTTP/1.1 lets a server close an idle connection at any moment,
so even ``Server.Shutdown`` can cross a request on the wire, and a client cannot tell that
request from one dropped in flight. So RQ-04 is judged by its own check on what the app does,
``assert_kept_alive_connections_ended``: whether it told its clients to leave (``Connection:
close``) or exited under them; the retries' outcomes count for RQ-02 with every other request.
"""

from __future__ import annotations

import pytest

from podlife.chaos import apps as chaos
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.verdicts.traffic import assert_kept_alive_connections_ended, assert_no_request_lost, check_kept_alive_exposed
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import MakeJig

#: Seconds each answer takes. With ``RATE`` requests a second over ``KEEPALIVE`` connections a
#: connection carries a request about a quarter of the time (40 / 16 x 0.1 s), so when an old pod
#: exits, about one in four of the connections it holds (five or so each) has a request in flight:
#: all of an exit's connections idle at once has a chance of about (3/4)^5, a quarter, and all three
#: old pods' exits of about 1/64.
ANSWER_AFTER = 0.1
RATE = 40.0
KEEPALIVE = chaos.KEPT_ALIVE_CLIENTS
PRE_STOP_SLEEP = 5
REPLICAS = 3


def roll_out_under_kept_alive_traffic(jig: MakeJig, close_connections: bool) -> tuple[Window, chaos.Hit]:
    app = jig(Netexec("web", replicas=REPLICAS, readiness_probe=True, pre_stop_sleep=PRE_STOP_SLEEP,
                      answer_after=ANSWER_AFTER, close_connections=close_connections))
    target = app.deploy()
    with app.scene.traffic(target, rate=RATE, keepalive=KEEPALIVE) as window:
        chaos.serving(app, window)
        hit = chaos.rolling_update(app, window)
    return window, hit


@pytest.mark.claim("RQ-02", "RQ-04")
@pytest.mark.disruptive
def test_app_that_closes_kept_alive_connections_loses_no_request(jig: MakeJig, evidence: Evidence) -> None:
    window, hit = roll_out_under_kept_alive_traffic(jig, close_connections=True)
    evidence.measure("kept_alive_exposure", check_kept_alive_exposed(window, hit))
    evidence.measure("kept_alive_ends", assert_kept_alive_connections_ended(window, hit))
    assert_no_request_lost(window)


@pytest.mark.claim("RQ-02", "RQ-04")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_app_exiting_with_kept_alive_connections_open_cuts_requests_off(jig: MakeJig) -> None:
    window, hit = roll_out_under_kept_alive_traffic(jig, close_connections=False)
    check_kept_alive_exposed(window, hit)
    with pytest.raises(AssertionError, match="(?s)ended its kept-alive connections under requests without telling its "
                                             "clients.*were cut off at pods that were leaving.*Fix: "):
        assert_kept_alive_connections_ended(window, hit)
