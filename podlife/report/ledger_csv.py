"""The full request ledger of a traffic window as CSV: one row per request, for Allure and spreadsheets.

The ledger summary says how many requests failed; this table says which, when, how and at
which pod, so a reader can line a lost request up with the timeline by hand.

Times (``*_s`` columns) are seconds from the window's start, ``Timeline.origin``: the zero of the
"timeline" and "landmarks" attachments and of the request-timeline picture. They are on the
harness's clock (``observe.clock``: wall-clock seconds, the clock Kubernetes stamps pod status
and events with; for ``--traffic in-cluster`` the node's wall clock, the same on the local
cluster). ``sent_epoch`` is the absolute instant, to join the table with other records.
``waited_s`` is how long a request waited for a free kept-alive client before it was sent (the
pool's queue, which slow answers make); the rest of ``sent_s - scheduled_s`` is the generator's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from podlife.errors import PodlifeError
from podlife.observe.traffic import Ledger, Request

COLUMNS = ("seq", "scheduled_s", "sent_s", "waited_s", "latency_s", "outcome", "status", "error", "pod", "client", "sent_epoch",
           "connection")

#: What became of a request, in the order pictures list them: ``ok``, or how it failed. The error
#: texts are those of both generators (``traffic.short_error``, ``incluster.CURL_ERRORS``).
OUTCOMES = ("ok", "refused", "reset", "timeout", "http-status", "other", "retried")
_BY_ERROR = {"Connection refused": "refused", "Connection reset": "reset", "RemoteDisconnected": "reset",
             "timed out": "timeout"}


def outcome(r: Request) -> str:
    """One of ``OUTCOMES``: a refused connection (nothing listening) tells a different story from a reset or a timeout,
    and a first attempt the client sent again was not lost."""
    if r.ok:
        return "ok"
    if r.retried:
        return "retried"  # a kept connection cut off under it; the client sent it again (the next entry)
    if r.error is None:
        return "http-status"  # an answer, with a status other than the expected one
    return _BY_ERROR.get(r.error, "other")


def ledger_row(r: Request, origin: float) -> dict[str, str]:
    """One request's row; empty cells where the ledger knows nothing (no status, no pod)."""
    return {
        "seq": str(r.seq),
        "scheduled_s": f"{r.scheduled - origin:.4f}",
        "sent_s": f"{r.sent - origin:.4f}",
        "waited_s": f"{r.waited:.4f}",
        "latency_s": f"{r.latency:.4f}",
        "outcome": outcome(r),
        "status": "" if r.status is None else str(r.status),
        "error": r.error or "",
        "pod": r.pod or "",
        "client": r.source or "",
        "sent_epoch": f"{r.sent:.6f}",
        "connection": r.connection,
    }


def ledger_csv(ledger: Ledger, origin: float) -> Iterator[str]:
    """The ledger as CSV lines, the header (``COLUMNS``) first, in schedule order.

    One at a time: a million-request ledger as one string would hold several times the ledger.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in ledger.requests:
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        writer.writerow(ledger_row(r, origin))
    yield out.getvalue()


class LedgerFile:
    """The ledger written to ``path`` as CSV while the requests arrive (``podlife traffic --ledger``).

    Rows go to ``.NAME.partial`` beside it, renamed to ``path`` by ``keep``: opening it is the check that
    the file can be written, made before any request is sent, and a run that ends without ``keep``
    (bad input found later, an error) removes what it wrote, leaving nothing behind. Times are
    seconds from the first request's scheduled instant, in arrival order (``seq`` tells the schedule's).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        if path.is_dir():
            raise PodlifeError(f"cannot write the ledger to {path}: it is a directory")
        try:
            self._file = self.partial.open("w", newline="")  # a partial file a killed run left is written over
        except OSError as err:
            raise PodlifeError(f"cannot write the ledger to {path}: {err.strerror or err}") from None
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS, lineterminator="\n")
        self._writer.writeheader()
        self._origin: float | None = None
        self.written = 0

    def write(self, r: Request) -> None:
        if self._origin is None:
            self._origin = r.scheduled
        self._writer.writerow(ledger_row(r, self._origin))
        self.written += 1

    def keep(self) -> None:
        """The run is over: the file takes its name."""
        self._file.close()
        self.partial.replace(self.path)

    def discard(self) -> None:
        self._file.close()
        self.partial.unlink(missing_ok=True)
