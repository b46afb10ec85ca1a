"""Benchmark of the traffic generators against a local agnhost Service, beside wrk on the same target.

Run as root with the local cluster (``podlife cluster up``): ``python bench/traffic.py [--smoke]``.
In order: the Python generator (``observe.traffic``) and the compiled engine (``observe.engine``),
each keeping a full record per request and opening a new connection for each; the engine in a
pod of the cluster (``incluster.InPod``), copied in over exec, with its CPU request
(``incluster.engine_cpu``, from the rate) set as its limit too, so the rate it holds is the rate
at the request it declares; the ledger's memory (``LEDGER_SAMPLE`` engine lines parsed into
entries under tracemalloc, scaled to a million requests); the engine on 16 kept-alive
connections, climbing; then the engine and wrk (its default keep-alive, 16 connections)
alternating SATURATION_PAIRS times each, both as fast as the server answers; last wrk with
``Connection: close``, beside the engine's new connections. It closes its connections itself,
and the TIME_WAIT sockets it leaves fill the ephemeral port range for a minute, which slows every
later connect (the generator reads to EOF, so the server closes and the generator leaves none).

Printed: the highest rate each sustains (every request sent within SEND_LAG of its schedule and
at least 95 % of the target rate achieved), wrk's rates on the same Service, and the ratios. On
kept-alive connections a request due while all 16 clients wait for answers waits for the first
free one, as in any client pool: that wait is the server's (printed beside), not the generator's
lateness; wrk, a closed loop, does not send it at all. So on kept-alive connections the server
sets the pace for both: wrk's closed loop runs it flat out, and so does the engine scheduled
OVERLOAD times above the highest rate it sustained (its requests wait for free clients; its own
lateness stays printed). What either tool costs in CPU the server, on the same two cores, does not
get: the rate the server answers at under each is the comparison. A single run varies by a fifth
on a 2-core machine and the machine drifts over minutes, hence alternating runs and medians.

``--smoke`` (CI) sends one second at 100 req/s from each, then runs wrk for a second if it is
installed: the whole path, deploy to ratio, in well under a minute, its figures meaning nothing.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from common import bench_parser, local_scene

from podlife.access import Target
from podlife.cluster.local.provider import LocalCluster
from podlife.observe.engine import EngineTraffic, parse_line
from podlife.observe.incluster import InPod, Route
from podlife.observe.traffic import Ledger, Traffic
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import AppJig

RATES = (100, 400, 800, 1600, 2400, 3200, 4000, 4800, 5500, 6000, 7000, 8000, 8500, 9000, 9500, 10000, 10500, 11000,
         11500, 12000, 12500, 13000, 13500, 14000, 15000, 16000)
#: Kept-alive runs of the engine and of wrk, alternating, both driving the server as hard as it answers:
#: a single run of either varies by a fifth here, and the machine drifts over minutes, so medians of
#: interleaved runs compare them (kept-alive runs leave no TIME_WAIT ports, so a run does not slow the next).
SATURATION_PAIRS = 5
#: The engine's schedule in those runs, over the highest rate it sustained: the server, not the
#: schedule, sets the pace, as it does for wrk's closed loop.
OVERLOAD = 1.5
#: Kept-alive connections for the keep-alive comparison: wrk's 16 (``-c16``).
KEEPALIVE = 16
SECONDS = 5.0
SMOKE_RATES, SMOKE_SECONDS = (100,), 1.0
SEND_LAG = 0.1
#: Rates for the engine in a pod: the issue's bar is 2,000 req/s per pod.
IN_CLUSTER_RATES = (1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000)
#: Engine lines parsed to measure a ledger entry's memory (a million would take the bench a while).
LEDGER_SAMPLE, SMOKE_LEDGER_SAMPLE = 200_000, 10_000

#: A run of either tool (``Step``, or wrk's rate and CPU a request).
Run = TypeVar("Run")


@dataclass(frozen=True)
class Step:
    """One run of the generator at one rate."""

    rate: float
    achieved: float
    #: The generator's worst lateness sending a request (behind its schedule, less any wait for a free client), seconds.
    lag: float
    #: CPU the generator spent per request (seconds), where it tells (the engine does).
    cpu: float | None = None
    #: The longest a request waited for a free kept-alive client (seconds): the server's answers held the pool up.
    waited: float = 0.0

    @property
    def sustained(self) -> bool:
        return self.achieved >= 0.95 * self.rate and self.lag <= SEND_LAG

    @classmethod
    def of(cls, ledger: Ledger, rate: float) -> Step:
        """The step a ledger records. Achieved: the healthy answers back by the last scheduled instant, per
        second from the first, as wrk counts the answers within its duration (a server that keeps up falls
        short only by the answers still on their way then: one latency's worth). A server that falls behind
        leaves many unanswered; a single straggler does not sink the step, as it did measured to the last
        answer: one answer a second late takes a 5 s step at 4,000/s to 3,333/s (two runs here put 4,000/s
        steps at 3,342-3,770 with the engine 6-13 ms behind its schedule at worst)."""
        start = min(r.scheduled for r in ledger.requests)
        end = max(r.scheduled for r in ledger.requests)
        answered = sum(1 for r in ledger.requests if r.ok and r.finished <= end)
        return cls(rate, answered / (end - start), ledger.max_send_lag(), ledger.cpu_per_request, ledger.max_pool_wait())


def generator_step(url: str, rate: float, seconds: float) -> Step:
    """Send ``rate`` requests a second to ``url`` for ``seconds`` with the Python generator."""
    traffic = Traffic(Target(url), rate=rate, limit=int(rate * seconds), max_seconds=seconds)
    with traffic:
        ledger = traffic.finish()
    return Step.of(ledger, rate)


def engine_step(url: str, rate: float, seconds: float, keepalive: int = 0) -> Step:
    """The same with the compiled engine (``keepalive`` kept-alive connections, 0 for a new one per request)."""
    traffic = EngineTraffic(Target(url), rate=rate, limit=int(rate * seconds), max_seconds=seconds, keepalive=keepalive)
    with traffic:
        ledger = traffic.finish()
    return Step.of(ledger, rate)


def in_cluster_step(scene: Route, url: str, rate: float, seconds: float) -> Step:
    """The engine in a pod of the cluster, at ``rate`` with its CPU request as its limit; prints the request."""
    place = InPod(scene, rate, capped=True)
    traffic = EngineTraffic(Target(url, in_cluster=True), rate=rate, limit=int(rate * seconds), max_seconds=seconds, place=place)
    with traffic:
        ledger = traffic.finish()
    print(f"  (pod {place.name}: cpu {place.cpu} requested and limited; clock offset {ledger.clock_offset * 1000:+.2f} ms "
          f"within {ledger.clock_uncertainty * 1000:.2f} ms)")
    return Step.of(ledger, rate)


def ledger_mib_per_million(sample: int) -> float:
    """MiB a million ledger entries hold, from ``sample`` engine lines parsed under tracemalloc.

    The lines are as the engine writes them for a new connection per request: each its own
    client port, the answers named by three pods.
    """
    lines = [f"{i}\t{1_700_000_000_000_000 + i * 500}\t{1_700_000_000_000_000 + i * 500 + 40}\t0\t{1200 + i % 700}\t200\t-\t"
             f"10.250.0.1:{32768 + i % 28000}\tnew\tweb-5fc5545cc5-m9m4{i % 3}" for i in range(sample)]
    tracemalloc.start()
    try:
        entries = [parse_line(line, 200) for line in lines]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held / len(entries) * 1_000_000 / (1 << 20)


def climb(rates: Sequence[float], run: Callable[[float], Step], name: str = "generator") -> Step | None:
    """Run the steps up to the first one not sustained twice in a row, printing each; the highest sustained (None if none).

    A step gets a second run when the first is not sustained: near the limit one scheduling
    stall of 100 ms on a 2-core machine shared with the server fails a step that a rerun holds
    (4,800/s failed at 101 ms and 5,200/s held at 87 ms in one series here).
    """
    sustained = None
    for rate in rates:
        for attempt in (1, 2):
            step = run(rate)
            cpu = f", CPU {step.cpu * 1e6:5.1f} us/request" if step.cpu is not None else ""
            cpu += f", waited for a client up to {step.waited * 1000:6.1f} ms" if step.waited else ""
            print(f"{name} at {rate:>5}/s: achieved {step.achieved:7.1f}/s, worst send lag {step.lag * 1000:6.1f} ms{cpu}"
                  f"{'' if step.sustained else '  (not sustained)'}{'  (second run)' if attempt == 2 else ''}")
            if step.sustained:
                break
        if not step.sustained:
            break
        sustained = step
    return sustained


def median(runs: list[Run], key: Callable[[Run], float]) -> Run:
    """The run in the middle by ``key`` (the upper one of an even count)."""
    return sorted(runs, key=key)[len(runs) // 2]


def rate_of(step: Step | None) -> float:
    return step.achieved if step is not None else 0.0


def wrk_requests_per_second(output: str) -> float:
    """wrk's ``Requests/sec`` figure."""
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise ValueError(f"wrk printed no Requests/sec:\n{output}")
    return float(match.group(1))


def wrk_rate(url: str, seconds: float, keepalive: bool = False) -> tuple[float, float]:
    """wrk's rate on ``url``, one run, and the CPU it spent per request (its rusage as a child): with
    ``Connection: close`` wrk closes first and leaves its ports in TIME_WAIT for a minute, so a second
    run straight after measured a sixth of the first (397 against 2,434)."""
    close = [] if keepalive else ["-H", "Connection: close"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t2", f"-c{KEEPALIVE}", f"-d{seconds:.0f}s", *close, url],
                         capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = wrk_requests_per_second(out)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return rate, cpu / (rate * seconds)


def saturation(url: str, rate: float, seconds: float, pairs: int) -> tuple[list[Step], list[tuple[float, float]]]:
    """``pairs`` kept-alive runs of the engine scheduled at ``rate`` (above what the server answers) and of wrk,
    alternating, each printed: the rate the server answered each at, and what each spent a request."""
    engines, wrks = [], []
    for _ in range(pairs):
        engine = engine_step(url, rate, seconds, KEEPALIVE)
        wrk = wrk_rate(url, seconds, keepalive=True)
        print(f"  engine scheduled at {rate:.0f}/s: achieved {engine.achieved:7.1f}/s (its worst send lag "
              f"{engine.lag * 1000:.1f} ms, CPU {(engine.cpu or 0) * 1e6:.1f} us/request); "
              f"wrk {wrk[0]:7.1f}/s (CPU {wrk[1] * 1e6:.1f} us/request)")
        engines.append(engine)
        wrks.append(wrk)
    return engines, wrks


def cpu_ratio(engine: Step | None, wrk_cpu: float) -> str:
    """The engine's CPU per request against wrk's, at their sustained rates: below 1, the engine is the leaner."""
    if engine is None or engine.cpu is None:
        return ""
    return f"; CPU per request engine {engine.cpu * 1e6:.0f} us, wrk {wrk_cpu * 1e6:.0f} us (ratio {engine.cpu / wrk_cpu:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "one 1 s step at 100 req/s, then wrk for 1 s if installed")
    args = parser.parse_args(argv)
    rates, seconds = (SMOKE_RATES, SMOKE_SECONDS) if args.smoke else (RATES, SECONDS)
    has_wrk = shutil.which("wrk") is not None
    if not has_wrk and not args.smoke:
        print("bench/traffic.py: needs wrk (apt-get install wrk)", file=sys.stderr)
        return 1
    cluster = LocalCluster()
    if not cluster.is_up():
        print("bench/traffic.py: the local cluster is not up (podlife cluster up)", file=sys.stderr)
        return 1
    with local_scene(cluster, "bench-traffic") as scene:
        url = AppJig(scene, Netexec("web", replicas=2, readiness_probe=True)).deploy().url
        sustained = rate_of(climb(rates, lambda rate: generator_step(url, rate, seconds)))
        engine = climb(rates, lambda rate: engine_step(url, rate, seconds), "engine")
        print(f"sustained rate, full per-request records, new connection per request: generator {sustained:.0f} req/s, "
              f"engine {rate_of(engine):.0f} req/s")
        in_cluster = rate_of(climb(IN_CLUSTER_RATES if not args.smoke else rates,
                                   lambda rate: in_cluster_step(scene, url, rate, seconds), "engine in a pod"))
        print(f"sustained rate, engine in one pod at its CPU request, new connection per request: {in_cluster:.0f} req/s")
        print(f"ledger memory: {ledger_mib_per_million(SMOKE_LEDGER_SAMPLE if args.smoke else LEDGER_SAMPLE):.0f} MiB "
              "per million requests")
        # The kept-alive pair runs back to back (the machine's state drifts over minutes), before wrk's
        # new connections, whose TIME_WAIT ports would slow the connects of anything after them.
        kept = climb(rates, lambda rate: engine_step(url, rate, seconds, KEEPALIVE), f"engine, {KEEPALIVE} kept-alive")
        print(f"sustained rate, engine on {KEEPALIVE} kept-alive connections: {rate_of(kept):.0f} req/s")
        if not has_wrk:
            print("wrk: not installed, no comparison (apt-get install wrk)")
            return 0
        print(f"engine and wrk on {KEEPALIVE} kept-alive connections, alternating, as fast as the server answers:")
        engines, wrks = saturation(url, OVERLOAD * max(rate_of(kept), rates[0]), seconds, 1 if args.smoke else SATURATION_PAIRS)
        engine_kept = median(engines, key=lambda step: step.achieved)
        wrk_kept, wrk_kept_cpu = median(wrks, key=lambda run: run[0])
        print(f"kept-alive, median of {len(wrks)} each: engine {engine_kept.achieved:.0f} req/s, wrk {wrk_kept:.0f} req/s; "
              f"ratio engine/wrk kept-alive: {engine_kept.achieved / wrk_kept:.3f}{cpu_ratio(engine_kept, wrk_kept_cpu)}")
        wrk, wrk_cpu = wrk_rate(url, seconds)
        print(f"wrk, same target, new connection per request: {wrk:.0f} req/s")
        print(f"ratio generator/wrk: {sustained / wrk:.3f}; engine/wrk: {rate_of(engine) / wrk:.3f}{cpu_ratio(engine, wrk_cpu)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
