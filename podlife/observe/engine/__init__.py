"""The compiled traffic engine (``main.go``): the same open-loop schedule as ``traffic.Traffic``, at the machine's limit.

Python's event loops spend most of a request in the interpreter; a Go program spends it in the
kernel, so one process keeps thousands of requests a second on schedule on two cores. It is
built from the standard library alone, statically, once per machine and architecture (cached by
the source's hash under ``$PODLIFE_CACHE/engine``), where a Go toolchain is installed, as the
local cluster's components are; without one the harness keeps the Python generator on the host
and the shell schedule in pods (``incluster``).

The engine runs where a ``Place`` starts it: a process on this host (``OnHost``), or a process
exec'd in a pod of the reference agnhost image it was copied into (``incluster.InPod``). Either
way the harness talks to it in lines (see ``main.go``): it measures the offset between the
engine's clock and its own from round trips, starts the schedule, and a reader thread turns each
request's line into a ledger entry on the harness's clock while the window is open, so verdicts
read the ledger mid-window and nothing is read from a log at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import NoReturn, Protocol
from urllib.parse import urlsplit

from podlife.access import Target
from podlife.cluster.local.gobuild import go_env, run_build_step
from podlife.cluster.local.paths import cache_root
from podlife.errors import HarnessError, NotApplicable, RateTooHigh
from podlife.observe.clock import now
from podlife.observe.traffic import RETRIED, Ledger, Request, Traffic, short_error

#: The engine's Go files: the conversation and schedule, the event loop, the answer's parser.
SOURCES = ("main.go", "loop.go", "answer.go")
BINARY = "podlife-traffic"
GO_MOD = "module podlife.io/traffic\n\ngo 1.22\n"
#: ``uname -m`` of a machine, as Go names its architecture.
GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
          "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
#: Clock round trips per start; the one with the shortest round trip gives the offset, within half of it.
CLOCK_SAMPLES = 7
#: How long the engine has to answer a line of the conversation (its first one is after a pod's exec started).
ANSWER_WITHIN = 30.0
#: The connection column's words, shared by every entry that has them (a million entries, a handful of strings).
_CONNECTIONS = {word: word for word in ("new", "reused", "reopened", "new,close", "reused,close", "reopened,close",
                                        RETRIED, "retry", "retry,close")}


def engine_sources() -> dict[str, str]:
    package = resources.files("podlife.observe.engine")
    return {name: package.joinpath(name).read_text() for name in SOURCES}


def go_arch(machine: str) -> str:
    """Go's name for the architecture ``uname -m`` calls ``machine``; a HarnessError for one the engine is not built for."""
    arch = GOARCH.get(machine.strip())
    if arch is None:
        raise HarnessError(f"the traffic engine is not built for the architecture {machine.strip()!r}")
    return arch


def engine_binary(arch: str | None = None) -> Path | None:
    """The engine built for ``arch`` (this machine's by default), building it if needed; None without a Go toolchain."""
    arch = arch or go_arch(platform.machine())
    sources = engine_sources()
    digest = hashlib.sha256("".join(f"{name}\0{text}\0" for name, text in sources.items()).encode()).hexdigest()
    built = cache_root() / "engine" / f"{digest[:16]}-{arch}" / BINARY
    if built.exists():
        return built
    if shutil.which("go") is None:
        return None
    built.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="podlife-engine-") as work:
        (Path(work) / "go.mod").write_text(GO_MOD)
        for name, text in sources.items():
            (Path(work) / name).write_text(text)
        partial = built.parent / f".{BINARY}.{os.getpid()}"
        # Static (no cgo) so the same file runs in any image of that architecture.
        env = {**go_env(), "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch}
        run_build_step(["go", "build", "-ldflags=-s -w", "-o", str(partial), "."], cwd=Path(work), env=env)
        partial.replace(built)  # atomic: a concurrent build (another test worker) replaces it with the same binary
    return built


def parse_line(line: str, expect: int, offset: float = 0.0) -> Request:
    """One request line of the engine (see ``main.go``) as a ledger entry on the harness's clock
    (the engine's minus ``offset``); the pod only for a healthy answer, or for a first attempt a kept
    connection cut off (the pod that had answered on that connection)."""
    seq, scheduled, sent, waited, latency, status, error, local, connection, pod = line.rstrip("\n").split("\t")
    code = int(status) or None
    connection = _CONNECTIONS.get(connection, connection)
    named = code == expect or connection == RETRIED
    # Interned: a few pods and errors answer a million requests, and each line would hold its own copy.
    return Request(int(seq), int(scheduled) / 1e6 - offset, int(sent) / 1e6 - offset, int(latency) / 1e6, code,
                   None if error == "-" else sys.intern(error), sys.intern(pod) if pod != "-" and named else None,
                   None if local == "-" else local, expect, connection, int(waited) / 1e6 if waited != "0" else 0.0)


#: CPU the engine spends per request on the host (seconds), user and system (the kernel's connect
#: and NAT count), at its leanest: with a new connection per request it fell from 640 us a request at
#: 100 req/s to 79 us at 9,000-10,000 (its fixed costs spread thinner), with 16 kept-alive
#: connections from 400 to 23 us at 13,000 (the event-loop engine; 2-core machine, local cluster,
#: 2026-12-04). A rate that needs more cores than the host has at these figures cannot be held;
#: below that, the send-lag check decides.
HOST_CPU_PER_REQUEST = {False: 79e-6, True: 23e-6}


class Conversation(Protocol):
    """A running engine: its standard input and output, a line at a time."""

    def send(self, line: str) -> None: ...

    def lines(self) -> Iterator[str]:
        """Its output's lines until it ends."""
        ...

    def wait(self) -> None:
        """Wait for it to end; a HarnessError, with its own words, when it failed."""
        ...


class Place(Protocol):
    """Where an engine runs, and what it is there."""

    #: What reports call the place: "this host", or the pod's name.
    name: str
    #: The cluster node it runs on, once started; None for this host.
    node: str | None

    def check_rate(self, rate: float, keepalive: int) -> None:
        """Raise ``RateTooHigh`` when the place cannot give the engine the CPU ``rate`` needs: before it starts."""
        ...

    def start(self, arguments: list[str]) -> Conversation: ...

    def close(self) -> None:
        """Remove what starting it made (a pod); nothing on the host."""
        ...


class HostProcess:
    """The engine as a child process of the harness, talking over pipes."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1 << 16)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # it has ended (or its input was closed): wait() tells how
            pass

    def lines(self) -> Iterator[str]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            yield line.rstrip("\n")

    def wait(self) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):  # it ended first
            self.proc.stdin.close()
        if self.proc.wait() != 0:
            said = self.proc.stderr.read().strip() or "no word from it"
            raise HarnessError(f"the traffic engine failed (exit {self.proc.returncode}): {said}")


class OnHost:
    """This host: the engine built for it, run as a child process."""

    name = "this host"
    node: str | None = None

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def check_rate(self, rate: float, keepalive: int) -> None:
        cores = len(os.sched_getaffinity(0))
        cost = HOST_CPU_PER_REQUEST[keepalive > 0]
        if rate * cost > cores:
            raise RateTooHigh(f"{rate:g} requests a second need at least {rate * cost:.1f} CPU cores for the traffic engine "
                              f"alone ({cost * 1e6:.0f} us a request at its leanest, as bench/traffic.py measures it), more "
                              f"than this host's {cores}: lower the rate")

    def start(self, arguments: list[str]) -> Conversation:
        return HostProcess([str(self.binary), *arguments])

    def close(self) -> None:
        return None


class EngineTraffic:
    """Sends GET ``target`` at ``rate`` per second through the engine at ``place`` until stopped or bounded
    (``traffic.Traffic``'s interface).

    ``keepalive`` above 0 keeps that many connections open, each a client sending its share of
    the schedule; 0 opens a new connection per request, as the Python generator does.
    """

    def __init__(self, target: Target, rate: float = 20.0, timeout: float = 2.0, limit: int = 100_000,
                 max_seconds: float = 900.0, keepalive: int = 0, place: Place | None = None,
                 sink: Callable[[Request], None] | None = None) -> None:
        if place is None:
            binary = engine_binary()
            if binary is None:
                raise HarnessError("the traffic engine needs a Go toolchain to be built on this machine")
            place = OnHost(binary)
        self.place, self.rate, self.keepalive = place, rate, keepalive
        self.arguments = ["-url", target.url, "-rate", repr(rate), "-count", str(limit), "-seconds", repr(max_seconds),
                          "-timeout", f"{timeout}s", "-keepalive", str(keepalive), "-naming", target.naming.argument]
        self.expect = target.expect
        self.ledger = Ledger(target.url, rate, keepalive=keepalive)
        #: Called with each entry as it arrives (``report.ledger_csv.LedgerFile.write``), on the reader thread.
        self.sink = sink
        self._engine: Conversation | None = None
        self._reader = threading.Thread(target=self._read, daemon=True, name="traffic-engine")
        self._answers: queue.Queue[str] = queue.Queue()
        self.ended: int | None = None

    def __enter__(self) -> "EngineTraffic":
        self.place.check_rate(self.rate, self.keepalive)
        try:
            self._engine = self.place.start(self.arguments)
            self._reader.start()
            self._answer("READY")
            self._measure_clock()
            self._engine.send("start 0")
            self._answer("START")
        except BaseException:
            self._abandon()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, word: str) -> int:
        """The engine's next answer, which must be ``word``; its number (µs on the engine's clock)."""
        try:
            line = self._answers.get(timeout=ANSWER_WITHIN)
        except queue.Empty:
            raise HarnessError(f"the traffic engine at {self.place.name} did not answer within {ANSWER_WITHIN:.0f}s") from None
        said, _, number = line.partition(" ")
        if said != word:  # its output ended: the reason is in how it ended
            assert self._engine is not None
            self._engine.wait()
            raise HarnessError(f"the traffic engine at {self.place.name} ended before it started")
        return int(number)

    def _measure_clock(self) -> None:
        """The engine's clock minus the harness's, from the round trip that took least (NTP's rule): the
        engine read its clock somewhere in that trip, so the offset is known within half of it."""
        assert self._engine is not None
        trips = []
        for _ in range(CLOCK_SAMPLES):
            asked = now()
            self._engine.send("clock")
            theirs = self._answer("CLOCK") / 1e6
            back = now()
            trips.append((back - asked, theirs - (asked + back) / 2))
        trip, offset = min(trips)
        self.ledger.clock_offset, self.ledger.clock_uncertainty = offset, trip / 2

    def _read(self) -> None:
        assert self._engine is not None
        expect = self.expect
        try:
            for line in self._engine.lines():
                if line[:1].isdigit():
                    entry = parse_line(line, expect, self.ledger.clock_offset)
                    # list.append is atomic and only this thread appends: no lock needed.
                    self.ledger.requests.append(entry)
                    if self.sink is not None:
                        self.sink(entry)
                elif line.startswith("END "):
                    _, lines, cpu = line.split()
                    self.ended = int(lines)
                    self.ledger.generator_cpu = int(cpu) / 1e6 if int(cpu) >= 0 else None
                else:
                    self._answers.put(line)
        finally:
            self._answers.put("ENDED")

    def _abandon(self) -> None:
        """After a failed start: stop whatever started, keep the first error."""
        try:
            if self._engine is not None:
                self._engine.send("stop")
        finally:
            self.place.close()

    def running(self, within: float) -> bool:
        """Wait up to ``within`` seconds for a bounded run to send everything; whether it still runs."""
        self._reader.join(within)
        return self._reader.is_alive()

    def finish(self) -> Ledger:
        """Let a bounded run send everything it scheduled, then return the complete ledger."""
        self._reader.join()
        return self.stop()

    def stop(self) -> Ledger:
        """Stop the schedule; the requests in flight end first."""
        engine = self._engine
        if engine is not None:
            self._engine = None
            try:
                engine.send("stop")
                self._reader.join()
                engine.wait()
            finally:
                self.place.close()
        self.ledger.requests.sort(key=lambda r: r.seq)
        return self.ledger


#: The busiest kept-alive clients may be planned to be: the schedule spaces requests evenly, so below
#: 100 % none would wait for a free client if every answer took the probed time; answers vary, and
#: the fifth left over is for those slower than the probe's.
KEPT_ALIVE_BUSY = 0.8


def answer_time(target: Target, timeout: float, tries: int = 3) -> float:
    """Seconds the target takes to answer on an open connection (the least of ``tries`` on one kept
    connection, after the request that opened it); ``HarnessError`` naming the cause when it does not answer."""
    parts = urlsplit(target.url)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    times = []
    try:
        for _ in range(tries + 1):
            asked = now()
            connection.request("GET", path)
            connection.getresponse().read()
            times.append(now() - asked)
    except (OSError, http.client.HTTPException) as err:
        raise HarnessError(f"{target.url} does not answer: {short_error(err)}") from None
    finally:
        connection.close()
    return min(times[1:])


def check_kept_alive_rate(rate: float, keepalive: int, answer: float) -> None:
    """Raise ``RateTooHigh`` when ``keepalive`` clients, each carrying one request at a time, cannot carry ``rate``
    a second at answers of ``answer`` seconds: requests would wait ever longer for a free client, and the window
    would not see the traffic it was given."""
    if keepalive and rate * answer > KEPT_ALIVE_BUSY * keepalive:
        needed = math.ceil(rate * answer / KEPT_ALIVE_BUSY)
        raise RateTooHigh(f"{keepalive} kept-alive clients carry at most {keepalive / answer:.0f} requests a second when "
                          f"answers take {answer * 1000:.1f} ms (one at a time each), and a schedule should keep them "
                          f"{KEPT_ALIVE_BUSY:.0%} busy at most: for {rate:g} a second use at least {needed}")


def host_traffic(target: Target, rate: float, keepalive: int = 0) -> "EngineTraffic | Traffic":
    """The generator for traffic sent from this host: the engine where it can be built, else the Python one."""
    binary = engine_binary()
    if binary is None:
        return Traffic(target, rate=rate) if not keepalive else no_kept_alive_clients()
    return EngineTraffic(target, rate=rate, keepalive=keepalive, place=OnHost(binary))


def no_kept_alive_clients() -> NoReturn:
    """Only the engine keeps connections alive: without it a kept-alive check does not apply here."""
    raise NotApplicable("kept-alive traffic needs the traffic engine, which needs a Go toolchain on this machine to be built")
