"""Benchmark of the traffic generator against a local agnhost Service, beside wrk on the same target.

Run as root with the local cluster (``podlife cluster up``): ``python bench/traffic.py``.
The generator keeps a full record per request and opens a new connection for each, so wrk is
run with ``Connection: close`` too. Printed: the highest rate the generator sustains (every
request sent within SEND_LAG of its schedule and at least 95 % of the target rate achieved),
wrk's rate on the same Service, and their ratio. wrk runs last: it closes its connections
itself, and the TIME_WAIT sockets it leaves fill the ephemeral port range for a minute, which
slows every later connect (the generator reads to EOF, so the server closes and the generator
leaves none). wrk's figure varies by a third between runs on a 2-core machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid

from podlife.access import Target
from podlife.cluster.base import describe
from podlife.cluster.local.provider import LocalCluster
from podlife.namespaces import NamespaceJanitor
from podlife.observe.traffic import Traffic
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import AppJig

RATES = (100, 200, 400, 800, 1200, 1600, 2000, 2200, 2400, 2600, 2800, 3200)
SECONDS = 5.0
SEND_LAG = 0.1


def generator_rate(url: str, rate: float) -> tuple[float, float, bool]:
    """(achieved rate, worst send lag, sustained?) for one run at ``rate``."""
    traffic = Traffic(Target(url), rate=rate, limit=int(rate * SECONDS), max_seconds=SECONDS)
    with traffic:
        ledger = traffic.finish()
    span = max(r.finished for r in ledger.requests) - min(r.sent for r in ledger.requests)
    achieved = len(ledger.requests) / span
    return achieved, ledger.max_send_lag(), achieved >= 0.95 * rate and ledger.max_send_lag() <= SEND_LAG


def wrk_rate(url: str) -> float:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{SECONDS:.0f}s", "-H", "Connection: close", url],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench/traffic.py: needs wrk (apt-get install wrk)", file=sys.stderr)
        return 1
    cluster = LocalCluster()
    if not cluster.is_up():
        print("bench/traffic.py: the local cluster is not up (podlife cluster up)", file=sys.stderr)
        return 1
    handle = describe("local", cluster.layout.kubeconfig, None)
    api = handle.api_client()
    janitor = NamespaceJanitor(api, uuid.uuid4().hex[:8])
    namespace = janitor.create("bench-traffic")
    try:
        url = AppJig(api, handle, namespace, Netexec("web", replicas=2, readiness_probe=True)).deploy().url
        sustained = 0.0
        for rate in RATES:
            achieved, lag, ok = generator_rate(url, rate)
            print(f"generator at {rate:>5}/s: achieved {achieved:7.1f}/s, worst send lag {lag * 1000:6.1f} ms{'' if ok else '  (not sustained)'}")
            if not ok:
                break
            sustained = achieved
        wrk = wrk_rate(url)
        print(f"sustained generator rate (full per-request records): {sustained:.0f} req/s")
        print(f"wrk, same target, new connection per request:        {wrk:.0f} req/s")
        print(f"ratio generator/wrk: {sustained / wrk:.3f}")
    finally:
        janitor.delete_all(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
