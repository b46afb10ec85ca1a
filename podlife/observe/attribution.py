"""Which pod served a request when the app does not say: the node's connection tracking knows.

A request to a Service's ClusterIP is rewritten by kube-proxy's NAT rules to one pod's address,
and the kernel's connection tracking keeps both ends of that rewrite: the client's address and
port in the original direction, the pod's address in the reply direction. A closed connection
stays there in TIME_WAIT for two minutes (``nf_conntrack_tcp_timeout_time_wait``), so sampling
the table every few seconds sees every connection of a window, and the client's end, recorded in
the ledger, names the pod's address, which the timeline names as a pod.

This needs the harness on the node that does the rewriting, with the right to read the table:
the local cluster. Elsewhere a request is attributed only when the app names its pod (a header,
or podlife's reference apps' ``/hostname`` body), and the ledger says how many were not.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger

CONNTRACK = Path("/proc/net/nf_conntrack")
#: Seconds between samples of the table: far below the two minutes a closed connection stays.
SAMPLE_EVERY = 5.0


def parse_conntrack(text: str, service: tuple[str, int]) -> dict[str, str]:
    """``client ip:port`` -> the pod address each TCP connection to ``service`` was rewritten to.

    A line holds the original direction's ``src dst sport dport``, then the reply direction's.
    """
    ip, port = service
    needle = f"dst={ip} "
    found = {}
    for line in text.splitlines():
        if needle not in line or " tcp " not in line:
            continue
        fields: dict[str, list[str]] = {}
        for key, _, value in (f.partition("=") for f in line.split() if "=" in f):
            fields.setdefault(key, []).append(value)
        src, dst, sport, dport = (fields.get(k, []) for k in ("src", "dst", "sport", "dport"))
        if len(src) == 2 and dst[0] == ip and dport[0] == str(port):
            found[f"{src[0]}:{sport[0]}"] = src[1]
    return found


class ConntrackSampler:
    """Samples the connection-tracking table in the background while traffic runs."""

    def __init__(self, service: tuple[str, int], table: Path = CONNTRACK) -> None:
        self.service, self.table = service, table
        self.seen: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="conntrack")

    @staticmethod
    def available(table: Path = CONNTRACK) -> bool:
        try:
            with table.open():
                return True
        except OSError:
            return False

    def __enter__(self) -> "ConntrackSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop sampling; the last sample is the one ``Window.attributed`` takes at the end."""
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        self.seen.update(parse_conntrack(self.table.read_text(), self.service))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()


def attribute(ledger: Ledger, seen: dict[str, str], timeline: Timeline) -> int:
    """Name the pod each request without one went to, from ``seen`` and the pods' addresses; return how many.

    Failed requests are named too (a refused connection is tracked like any other): which pod
    refused is what tells a shutdown that came too early from a pod that was not ready.
    """
    holders = timeline.address_holders()
    named = 0
    for i, request in enumerate(ledger.requests):
        address = seen.get(request.source or "")
        pod = timeline.pod_at(address, request.sent, holders) if address and not request.pod else None
        if pod is None:
            continue
        ledger.requests[i] = replace(request, pod=pod)
        named += 1
    return named
