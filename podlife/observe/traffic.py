"""An open-loop HTTP traffic generator that records every request in a ledger.

Requests are scheduled at fixed instants (``start + i / rate``) and each one is sent by its
own worker, so a stalled request never delays the ones due after it: the ledger holds the
requests that *should* have been sent, not just those a blocked client got round to (no
coordinated omission). Every request opens a new connection by default, as a fresh client
would, so a Service's load balancing is exercised per request.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from podlife.errors import GeneratorLag
from podlife.observe.clock import now

#: The latest a request may leave after its scheduled instant for the ledger to count. kube-proxy
#: syncs at most once a second and a deleted pod stays routable for 0.04-1 s (measured on the
#: local cluster), so a generator stalled for half a sync period could miss that window whole
#: and make a lost-request verdict pass for want of requests, not for good behaviour.
MAX_SEND_LAG = 0.5


@dataclass(frozen=True)
class Request:
    """One ledger line. Times are wall-clock seconds on the harness's clock (see ``clock``)."""

    seq: int
    scheduled: float
    sent: float
    latency: float
    status: int | None
    error: str | None
    pod: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def finished(self) -> float:
        return self.sent + self.latency


@dataclass
class Ledger:
    """Every request of one traffic run, in schedule order."""

    target: str
    rate: float
    requests: list[Request] = field(default_factory=list)

    @property
    def failures(self) -> list[Request]:
        return [r for r in self.requests if not r.ok]

    @property
    def success_ratio(self) -> float:
        return 1.0 - len(self.failures) / len(self.requests) if self.requests else 0.0

    def served_by(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests:
            if r.ok and r.pod:
                counts[r.pod] = counts.get(r.pod, 0) + 1
        return counts

    def between(self, start: float, end: float) -> list[Request]:
        """Requests sent in ``[start, end)``."""
        return [r for r in self.requests if start <= r.sent < end]

    def max_send_lag(self) -> float:
        """The worst gap between a request's scheduled and actual send time (the generator's own health)."""
        return max((r.sent - r.scheduled for r in self.requests), default=0.0)

    def check_usable(self) -> None:
        """Raise ``GeneratorLag`` when the ledger cannot carry a verdict: nothing sent, or sent too late."""
        if not self.requests:
            raise GeneratorLag(f"no request to {self.target} was sent: the traffic generator did not run")
        lag = self.max_send_lag()
        if lag > MAX_SEND_LAG:
            worst = max(self.requests, key=lambda r: r.sent - r.scheduled)
            raise GeneratorLag(
                f"the traffic generator fell behind its schedule by {lag:.3f}s (request #{worst.seq}; "
                f"bound {MAX_SEND_LAG}s): the ledger may miss short windows, so no verdict is drawn from it"
            )

    def summary(self) -> dict[str, object]:
        return {
            "target": self.target,
            "rate_per_s": self.rate,
            "requests": len(self.requests),
            "failed": len(self.failures),
            "success_ratio": round(self.success_ratio, 5),
            "served_by": self.served_by(),
            "max_send_lag_s": round(self.max_send_lag(), 4),
        }


class Traffic:
    """Sends GET ``url`` at ``rate`` per second in the background until stopped or bounded.

    Use as a context manager around the disruption; the ledger is complete on exit. ``limit``
    bounds the count and ``max_seconds`` the duration, so a forgotten generator stops itself.
    """

    def __init__(self, url: str, rate: float = 20.0, timeout: float = 2.0, limit: int = 100_000,
                 max_seconds: float = 900.0, keep_alive: bool = False) -> None:
        self.url, self.rate, self.timeout = url, rate, timeout
        self.limit, self.max_seconds, self.keep_alive = limit, max_seconds, keep_alive
        self.ledger = Ledger(url, rate)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(8, int(rate * timeout * 2)), thread_name_prefix="traffic")
        self._local = threading.local()
        self._scheduler = threading.Thread(target=self._schedule, daemon=True)

    def __enter__(self) -> "Traffic":
        self._scheduler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def finish(self) -> Ledger:
        """Let a bounded run send everything it scheduled, then return the complete ledger."""
        self._scheduler.join()
        return self.stop()

    def stop(self) -> Ledger:
        self._stop.set()
        self._scheduler.join()
        self._pool.shutdown(wait=True)
        self.ledger.requests.sort(key=lambda r: r.seq)
        return self.ledger

    def _schedule(self) -> None:
        start = now()
        for seq in range(self.limit):
            due = start + seq / self.rate
            if due - start > self.max_seconds:
                break
            if self._stop.wait(max(0.0, due - now())):
                break
            self._pool.submit(self._send, seq, due)

    def _session(self) -> requests.Session | None:
        if not self.keep_alive:
            return None
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _send(self, seq: int, scheduled: float) -> None:
        sent = now()
        status = error = pod = None
        try:
            getter = self._session() or requests
            response = getter.get(self.url, timeout=self.timeout, headers={} if self.keep_alive else {"Connection": "close"})
            status = response.status_code
            pod = response.text.strip() if status == 200 else None
        except requests.RequestException as err:
            error = _short_error(err)
        record = Request(seq, scheduled, sent, now() - sent, status, error, pod)
        with self._lock:
            self.ledger.requests.append(record)


def _short_error(err: requests.RequestException) -> str:
    """The root cause in a few words (connection refused, timed out, ...), for failure messages."""
    text = str(err)
    for needle in ("Connection refused", "timed out", "Connection reset", "No route to host", "RemoteDisconnected"):
        if needle in text:
            return needle
    return type(err).__name__
