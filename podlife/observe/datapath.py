"""When the node's data path routed to each pod: kube-proxy's rules, sampled while traffic runs.

The EndpointSlice says when the control plane stopped counting a pod as an endpoint; a request
is routed by the rules kube-proxy then writes into the node, some time later (Kubernetes calls
that lag network programming latency and keeps it as a service level indicator). A pod that
stops serving after its endpoint left the slice but before the rules dropped it refuses
requests nobody would blame on it from the API's side alone, and a preStop delay must cover
this lag, not the API's.

In iptables mode each Service port has a chain ``KUBE-SVC-...`` whose rules jump to one
endpoint each, commented ``namespace/service:port -> address:port``. Sampling the node's NAT
table every ``SAMPLE_EVERY`` seconds gives, per endpoint address, the last sample that still
routed to it and the first that no longer did: the moment the rules dropped it lies between.
Reading the table needs the harness on the node with the right to read it: the local cluster's
first node, which routes the host's traffic. Elsewhere the ledger bounds the lag from below
(the last request the leaving pod got); see ``verdicts.traffic``.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from podlife.observe.clock import now

#: Seconds between samples: the resolution of every data-path time. A sample costs about 3 ms
#: of one core here (``iptables-save -t nat`` of a cluster with a few dozen Services), so 50 ms
#: keeps the sampler near 6 % of a core while resolving lags that range from 0.03 s to over 1 s.
SAMPLE_EVERY = 0.05
READ_RULES = ("iptables-save", "-t", "nat")

_JUMP = re.compile(r'^-A KUBE-SVC-\S+ .*--comment "?(?P<service>[^" ]+) -> (?P<address>[0-9a-fA-F.:\[\]]+?):\d+"?')


def read_rules(read: tuple[str, ...] = READ_RULES) -> str | None:
    """The NAT rules as ``read`` prints them; None where it is not installed or may not read them."""
    if not shutil.which(read[0]):
        return None
    done = subprocess.run(read, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def routed_endpoints(rules: str, namespace: str) -> set[tuple[str, str]]:
    """(``namespace/service:port``, pod address) of every endpoint the NAT rules route to in ``namespace``."""
    found = set()
    for line in rules.splitlines():
        match = _JUMP.match(line)
        if match and match["service"].startswith(f"{namespace}/"):
            found.add((match["service"], match["address"].strip("[]")))
    return found


@dataclass
class Routed:
    """One endpoint address's time in the rules: first and last sample that routed to it, and the first that no longer did."""

    address: str
    service: str
    #: The sample before the first that routed to it (it was added after this), or None when it was there from the start.
    absent_before: float | None
    first: float
    last: float
    #: The first sample without it (it was dropped before this), or None while it is still routed.
    gone_by: float | None = None

    def spans(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(surely routed, possibly routed) as (from, to): a route there from the first sample or to the last is open-ended."""
        added_after = self.absent_before if self.absent_before is not None else -math.inf
        added_by = self.first if self.absent_before is not None else -math.inf
        dropped_after = self.last if self.gone_by is not None else math.inf
        dropped_by = self.gone_by if self.gone_by is not None else math.inf
        return (added_by, dropped_after), (added_after, dropped_by)


@dataclass
class DataPath:
    """Every endpoint of one namespace the node routed to during a window, on the harness's clock."""

    namespace: str
    routes: list[Routed] = field(default_factory=list)

    def routed_at(self, at: float) -> dict[str, bool]:
        """Addresses the rules routed to at ``at``: True where the samples around it agree, False where
        ``at`` falls between a sample with the address and one without (it may or may not have been routed)."""
        found: dict[str, bool] = {}
        for route in self.routes:
            sure, possible = route.spans()
            if sure[0] <= at <= sure[1]:
                found[route.address] = True
            elif possible[0] < at < possible[1]:
                found.setdefault(route.address, False)
        return found

    def route_at(self, address: str, at: float) -> Routed | None:
        """The route to ``address`` that may have been in place at ``at``."""
        for route in self.routes:
            added_after, dropped_by = route.spans()[1]
            if route.address == address and added_after < at < dropped_by:
                return route
        return None


class DataPathSampler:
    """Samples the node's NAT rules in a background thread for as long as the ``with`` block runs."""

    def __init__(self, namespace: str, read: tuple[str, ...] = READ_RULES, every: float = SAMPLE_EVERY) -> None:
        self.data_path = DataPath(namespace)
        self._read, self._every = read, every
        self._open: dict[tuple[str, str], Routed] = {}
        self._previous: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="data-path")

    def __enter__(self) -> "DataPathSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.sample()

    def sample(self) -> None:
        """Read the rules once and extend, open or close each endpoint's route.

        A read that fails records nothing: the samples on either side of it then bound every
        change that fell in the gap, so the uncertainty widens instead of a time being made up.
        """
        taken = now()
        rules = read_rules(self._read)
        if rules is not None:
            self.record(taken, routed_endpoints(rules, self.data_path.namespace))

    def record(self, taken: float, routed: set[tuple[str, str]]) -> None:
        """One sample's endpoints, taken at ``taken``: a route per endpoint from its first sample to its last."""
        path = self.data_path
        for key in routed:
            route = self._open.get(key)
            if route is None:
                route = Routed(key[1], key[0], self._previous, taken, taken)
                self._open[key] = route
                path.routes.append(route)
            route.last = taken
        for key in set(self._open) - routed:
            self._open.pop(key).gone_by = taken
        self._previous = taken


@contextlib.contextmanager
def sampled(namespace: str, readable: bool, read: tuple[str, ...] = READ_RULES) -> Iterator[DataPath | None]:
    """The node's rules of ``namespace`` sampled for the block where ``readable`` (the rules ``read`` prints
    route the traffic: this host's on the local cluster, or a node's through its network namespace) and
    the harness may read them; None otherwise."""
    if not (readable and read_rules(read) is not None):
        yield None
        return
    with DataPathSampler(namespace, read) as sampler:
        yield sampler.data_path


def routes_to_all(namespace: str, service: str, count: int) -> bool:
    """Whether this node's rules route ``service`` to at least ``count`` pods; True where they cannot be read.

    A client that opens its connections once and keeps them (a pool) spreads them over the pods
    the rules route to at that moment, and keeps them there: opened while kube-proxy's sync had
    added only some of the ready pods (up to a second behind the EndpointSlice), they never reach
    the others.
    """
    rules = read_rules()
    if rules is None:
        return True
    named = f"{namespace}/{service}"  # and ":port" for a named port
    return len({address for name, address in routed_endpoints(rules, namespace)
                if name == named or name.startswith(f"{named}:")}) >= count
