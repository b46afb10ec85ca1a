"""An open-loop HTTP traffic generator that records every request in a ledger.

Requests are scheduled at fixed instants (``start + i / rate``) and each one is sent by a
task of its own, so a stalled request never delays the ones due after it: the ledger holds the
requests that *should* have been sent, not just those a blocked client got round to (no
coordinated omission). Every request opens a new connection, as a fresh client would, so a
Service's load balancing is exercised per request.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import resource
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from podlife.access import PodNaming, Target
from podlife.errors import GeneratorLag, NotExercised
from podlife.observe.clock import now

#: The latest a request may leave after its scheduled instant for the ledger to count. kube-proxy
#: syncs at most once a second and a deleted pod stays routable for 0.04-1 s (measured on the
#: local cluster), so a generator stalled for half a sync period could miss that window whole
#: and make a lost-request verdict pass for want of requests, not for good behaviour.
MAX_SEND_LAG = 0.5
#: Event loops (one thread each) the schedule is dealt over. Most of a request's cost is the
#: kernel's connect, send and close through kube-proxy's NAT, during which a thread lets go of
#: the interpreter, so a second loop uses the second core of a 2-core runner.
LANES = 2
#: The connection word of a first attempt a kept connection cut off and the client sent again.
RETRIED = "reused,retried"


@dataclass(slots=True)
class Request:
    """One ledger line. Times are wall-clock seconds on the harness's clock (see ``clock``).

    Slotted: a million-request ledger keeps a million of these in memory. Not frozen, though no
    entry is changed once made (``dataclasses.replace`` makes a new one): a frozen dataclass sets
    each field through ``object.__setattr__``, and that was a third of the harness's cost per
    engine line (3.6 us of parsing, 1.2 us of it the frozen init), thousands a second on the cores
    the server under test needs too.
    """

    seq: int
    scheduled: float
    sent: float
    latency: float
    status: int | None
    error: str | None
    #: The pod that served it, when known (see ``access.PodNaming`` and ``attribution``).
    pod: str | None
    #: The client's end of the connection (``ip:port``), by which connection tracking names the pod.
    source: str | None = None
    #: The status a healthy answer has.
    expected: int = 200
    #: Its connection: ``new``; ``reused``, a kept-alive one an earlier request had opened; ``reopened``,
    #: new because the server had closed the kept-alive one while it was idle; with ``,close`` when
    #: the answer closed it (``Connection: close``). ``reused,retried``: the kept connection ended
    #: before any of the answer came, and the client sent the request again on a new connection, the
    #: entry after it with the same ``seq`` (``retry``), as HTTP pools do for a GET.
    connection: str = "new"
    #: Seconds it waited, when due, for one of the kept-alive clients to be free (or, with a new
    #: connection each, for one of the most the engine keeps open to close): the pool's queue, which
    #: the app's answer time makes (as any client pool's does), not the generator's lateness.
    waited: float = 0.0

    @property
    def late(self) -> float:
        """Seconds the generator itself sent it behind its schedule: its lateness, less the pool's queue."""
        return self.sent - self.scheduled - self.waited

    @property
    def reused(self) -> bool:
        return self.connection.startswith("reused")

    @property
    def retried(self) -> bool:
        """A first attempt the client sent again: not lost, but cut off (RQ-04's check counts it)."""
        return self.connection == RETRIED

    @property
    def retry(self) -> bool:
        """A second attempt: it left when the first failed, not on schedule."""
        return self.connection.startswith("retry")

    @property
    def ok(self) -> bool:
        return self.status == self.expected

    @property
    def finished(self) -> float:
        return self.sent + self.latency


@dataclass
class Ledger:
    """Every request of one traffic run, in schedule order."""

    target: str
    rate: float
    requests: list[Request] = field(default_factory=list)
    #: The generator's clock minus the harness's (seconds), already taken off every time above, and
    #: within how much it is known: a pod's node keeps its own clock (see ``engine``).
    clock_offset: float = 0.0
    clock_uncertainty: float = 0.0
    #: CPU seconds the generator used, where it tells (the engine does): what the ledger cost to record.
    generator_cpu: float | None = None
    #: Clients that each kept a connection alive (0: a new connection per request).
    keepalive: int = 0

    @property
    def failures(self) -> list[Request]:
        """Requests the client lost: not the first attempts it sent again (their retries have outcomes of their own)."""
        return [r for r in self.requests if not r.ok and not r.retried]

    @property
    def retried(self) -> list[Request]:
        return [r for r in self.requests if r.retried]

    @property
    def sent_count(self) -> int:
        """Requests scheduled and sent, each once however many attempts it took."""
        return len(self.requests) - len(self.retried)

    @property
    def success_ratio(self) -> float:
        return 1.0 - len(self.failures) / self.sent_count if self.requests else 0.0

    def served_by(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests:
            if r.ok and r.pod:
                counts[r.pod] = counts.get(r.pod, 0) + 1
        return counts

    def between(self, start: float, end: float) -> list[Request]:
        """Requests sent in ``[start, end)``."""
        return [r for r in self.requests if start <= r.sent < end]

    def most_behind(self) -> Request | None:
        """The request the generator sent furthest behind its schedule (a retry aside: it leaves when its first
        attempt fails)."""
        return max((r for r in self.requests if not r.retry), key=lambda r: r.late, default=None)

    def max_send_lag(self) -> float:
        """The generator's worst lateness (its own health): a request's send behind its schedule, less any wait for a
        free kept-alive client."""
        worst = self.most_behind()
        return worst.late if worst is not None else 0.0

    def max_pool_wait(self) -> float:
        """The longest a request waited for a free kept-alive client (or connection slot): how far the app's answers
        held the pool up."""
        return max((r.waited for r in self.requests), default=0.0)

    @property
    def cpu_per_request(self) -> float | None:
        """CPU seconds the generator spent per request, where it tells."""
        return self.generator_cpu / self.sent_count if self.generator_cpu is not None and self.sent_count else None

    def check_usable(self) -> None:
        """Raise ``GeneratorLag`` when the ledger cannot carry a verdict: nothing sent, or sent too late."""
        worst = self.most_behind()
        if worst is None:
            raise GeneratorLag(f"no request to {self.target} was sent: the traffic generator did not run")
        lag = worst.late
        if lag > MAX_SEND_LAG:
            raise GeneratorLag(
                f"the traffic generator fell behind its schedule by {lag:.3f}s (request #{worst.seq}; "
                f"bound {MAX_SEND_LAG}s): the ledger may miss short windows, so no verdict is drawn from it"
            )

    def check_attributable(self) -> None:
        """Raise ``NotExercised`` when healthy answers came but none names its pod: no check could show what a disruption hit."""
        if any(r.ok for r in self.requests) and not any(r.pod for r in self.requests if r.ok):
            raise NotExercised(
                "no request could be attributed to a pod, so nothing could show a disruption hit pods carrying traffic: "
                "name the pod in a response header (servedBy.header in the workload file), or run on the local cluster, "
                "where connection tracking tells"
            )

    def summary(self) -> dict[str, object]:
        return {
            "target": self.target,
            "rate_per_s": self.rate,
            "requests": self.sent_count,
            "failed": len(self.failures),
            "retried": len(self.retried),
            "success_ratio": round(self.success_ratio, 5),
            "served_by": self.served_by(),
            "served_by_unknown": sum(1 for r in self.requests if r.ok and not r.pod),
            "max_send_lag_s": round(self.max_send_lag(), 4),
            "max_pool_wait_s": round(self.max_pool_wait(), 4),
            "clock_offset_s": round(self.clock_offset, 6),
            "clock_uncertainty_s": round(self.clock_uncertainty, 6),
            "generator_cpu_per_request_us": (round(self.cpu_per_request * 1e6, 1)
                                             if self.cpu_per_request is not None else None),
        }


class Traffic:
    """Sends GET ``url`` at ``rate`` per second in the background until stopped or bounded.

    Use as a context manager around the disruption; the ledger is complete on exit. ``limit``
    bounds the count and ``max_seconds`` the duration, so a forgotten generator stops itself.

    ``LANES`` event loops, one thread each, share the schedule: each request is a task started at its
    scheduled instant on a connection of its own (HTTP/1.1, ``Connection: close``), so a slow or
    hanging request occupies a socket, not a thread, and never delays the next one. Sockets are
    bounded only by the open-file limit, raised to its hard maximum: a cap on requests in flight
    would make late requests wait, which is the coordinated omission the ledger must not have.
    """

    def __init__(self, target: Target, rate: float = 20.0, timeout: float = 2.0, limit: int = 100_000,
                 max_seconds: float = 900.0) -> None:
        url = target.url
        parsed = urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"the traffic generator speaks plain HTTP; cannot send to {url!r}")
        self.url, self.rate, self.timeout = url, rate, timeout
        self.expect, self.naming = target.expect, target.naming
        self.limit, self.max_seconds = limit, max_seconds
        self.ledger = Ledger(url, rate)
        self._host, self._port = parsed.hostname, parsed.port or 80
        path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        self._request = f"GET {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nConnection: close\r\n\r\n".encode()
        self._stop = threading.Event()
        self._start = 0.0
        self._threads = [threading.Thread(target=self._run, args=(lane,), daemon=True, name=f"traffic-{lane}")
                         for lane in range(LANES)]
        _raise_open_file_limit()

    def __enter__(self) -> "Traffic":
        # A full garbage collection walks every object of this (long-lived) test process and can
        # stall the generator's threads past MAX_SEND_LAG; objects older than the window are not
        # garbage the window makes, so collections during it only look at newer ones.
        gc.freeze()
        self._start = now()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def finish(self) -> Ledger:
        """Let a bounded run send everything it scheduled, then return the complete ledger."""
        for thread in self._threads:
            thread.join()
        return self.stop()

    def stop(self) -> Ledger:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        gc.unfreeze()
        self.ledger.requests.sort(key=lambda r: r.seq)
        return self.ledger

    def _run(self, lane: int) -> None:
        asyncio.run(self._schedule(lane))

    async def _schedule(self, lane: int) -> None:
        """Send the requests of one lane: every ``LANES``-th of the schedule, from ``lane`` on."""
        in_flight: set[asyncio.Task[None]] = set()
        start = self._start
        for seq in range(lane, self.limit, LANES):
            due = start + seq / self.rate
            if due - start > self.max_seconds or self._stop.is_set():
                break
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
                if self._stop.is_set():
                    break
            task = asyncio.create_task(self._send(seq, due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)

    async def _send(self, seq: int, scheduled: float) -> None:
        loop = asyncio.get_running_loop()
        sent = now()
        status = error = pod = source = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self.timeout):
                await loop.sock_connect(sock, (self._host, self._port))
                await loop.sock_sendall(sock, self._request)
                chunks = []
                while chunk := await loop.sock_recv(sock, 65536):
                    chunks.append(chunk)
            status, head, body = _parse(b"".join(chunks))
            pod = _pod_named(self.naming, head, body) if status == self.expect else None
        except (OSError, TimeoutError, ValueError) as err:
            error = short_error(err)
        finally:
            # Also for a request that failed once connected (reset, timed out): its connection was tracked.
            host, port = sock.getsockname()[:2]
            source = f"{host}:{port}" if port and host != "0.0.0.0" else None
            sock.close()
        # list.append is atomic and only this thread appends: no lock needed.
        self.ledger.requests.append(Request(seq, scheduled, sent, now() - sent, status, error, pod, source, self.expect))


def _parse(response: bytes) -> tuple[int, bytes, bytes]:
    """Status code, header block and body of a complete HTTP/1.x response; an empty one means the server hung up."""
    if not response:
        raise ValueError("RemoteDisconnected")
    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        raise ValueError("BadStatusLine")
    return int(status_line[1]), head, body


#: The longest pod name a header or body may carry (a DNS subdomain); longer text is not a name.
MAX_POD_NAME = 253


def _pod_named(naming: PodNaming, head: bytes, body: bytes) -> str | None:
    """The pod an answer names, as ``naming`` says the app tells it; None when it does not."""
    if naming.header:
        wanted = naming.header.lower().encode() + b":"
        line = next((h for h in head.split(b"\r\n")[1:] if h.lower().startswith(wanted)), None)
        text = line[len(wanted):].strip().decode(errors="replace") if line else ""
    else:
        text = body.strip().decode(errors="replace") if naming.body else ""
    return text if 0 < len(text) <= MAX_POD_NAME else None


def _raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def short_error(err: Exception) -> str:
    """The root cause in a few words (connection refused, timed out, ...), for failure messages."""
    if isinstance(err, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, ConnectionResetError):
        return "Connection reset"
    if isinstance(err, OSError) and err.errno == errno.EHOSTUNREACH:
        return "No route to host"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host ({err.strerror})"
    if isinstance(err, ValueError):
        return str(err)
    return type(err).__name__
