"""An observation window: timeline and traffic recorded together around a disruption."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

from podlife.access import Target
from podlife.kernel.evidence import EvidenceSink
from podlife.observe.attribution import ConntrackSampler, attribute
from podlife.observe.clock import now
from podlife.observe.datapath import READ_RULES, DataPath, sampled
from podlife.observe.engine import EngineTraffic, answer_time, check_kept_alive_rate, host_traffic
from podlife.observe.incluster import Route, cluster_traffic
from podlife.observe.timeline import Timeline, TimelineRecorder
from podlife.observe.traffic import Ledger


class TrafficSource(Protocol):
    """A traffic generator: the engine (``engine.EngineTraffic``) on the host or in a pod; without a Go
    toolchain the Python one (``traffic.Traffic``) or a pod's shell schedule (``incluster.InClusterTraffic``)."""

    ledger: Ledger

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass
class Window:
    """What one scenario saw: the timeline, the ledger, and named landmarks on the same clock."""

    timeline: Timeline
    traffic: TrafficSource
    landmarks: dict[str, float] = field(default_factory=dict)
    #: Connection tracking, when requests must be attributed to pods that way (see ``attribution``).
    tracking: ConntrackSampler | None = None
    #: When the node's rules routed to each pod, where the harness can read them (see ``datapath``).
    data_path: DataPath | None = None

    @property
    def ledger(self) -> Ledger:
        return self.traffic.ledger

    def attributed(self) -> Ledger:
        """The ledger with every request named by its pod that can be, as of now.

        Called from the scenario's thread, which is also the one that stops the traffic, so the
        ledger is not re-sorted under the attribution.
        """
        if self.tracking:
            self.tracking.sample()
            attribute(self.ledger, self.tracking.seen, self.timeline)
        return self.ledger

    def mark(self, name: str) -> float:
        """Note when the scenario did something (e.g. issued the delete), for verdicts to refer to."""
        self.landmarks[name] = now()
        return self.landmarks[name]


def node_rules(traffic: TrafficSource) -> tuple[str, ...] | None:
    """The command that reads the NAT rules of the local cluster's node the engine's pod runs on; None for
    other traffic (the shell schedule's pods may be on several nodes)."""
    if not isinstance(traffic, EngineTraffic) or traffic.place.node is None:
        return None
    from podlife.cluster.local.provider import LocalCluster

    return (*LocalCluster().node_named(traffic.place.node).enter(), *READ_RULES)


@contextlib.contextmanager
def observe(route: Route, target: Target, evidence: EvidenceSink, rate: float, keepalive: int = 0) -> Iterator[Window]:
    """Record the route's namespace's timeline and send traffic to ``target`` for the duration of the block.

    The timeline, the ledger summary and the landmarks are attached to the report whatever the
    outcome, so a failing verdict comes with what led to it; so are the full ledger (CSV) and the
    request timeline picture, which the evidence sink draws once the traffic has stopped and which
    can never fail the test.
    """
    if keepalive and not target.in_cluster:  # said before the window: kept-alive clients too few for the app
        check_kept_alive_rate(rate, keepalive, answer_time(target, timeout=2.0))
    with TimelineRecorder(route.api, route.namespace) as timeline, contextlib.ExitStack() as tracking:
        traffic: TrafficSource = (cluster_traffic(route, target, rate, keepalive) if target.in_cluster
                                  else host_traffic(target, rate, keepalive))
        window = Window(timeline, traffic)
        # Tracked even when the app names its pods: a refused connection has no answer to name one.
        if target.service_address and ConntrackSampler.available():
            window.tracking = tracking.enter_context(ConntrackSampler(target.service_address))
        # The rules of this host route the host's requests (``service_address``: the local cluster); a pod's go by
        # its node's, read once the engine's pod runs (the first node's are the host's).
        window.data_path = tracking.enter_context(sampled(route.namespace, bool(target.service_address) and not target.in_cluster))
        try:
            with traffic:
                if target.in_cluster and target.service_address and (rules := node_rules(traffic)) is not None:
                    window.data_path = tracking.enter_context(sampled(route.namespace, True, rules))
                yield window
        finally:
            tracking.close()
            window.attributed()
            origin = timeline.origin
            evidence.attach("timeline", timeline.render())
            evidence.attach("ledger summary", json.dumps(window.ledger.summary(), indent=2))
            evidence.attach("landmarks", "\n".join(f"{t - origin:+.3f}s {n}" for n, t in window.landmarks.items()))
            evidence.illustrate(window)
            evidence.measure("requests", window.ledger.sent_count)
            evidence.measure("failed_requests", len(window.ledger.failures))
