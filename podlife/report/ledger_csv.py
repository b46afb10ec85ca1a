"""The full request ledger of a traffic window as CSV: one row per request, for Allure and spreadsheets.

The ledger summary says how many requests failed; this table says which, when, how and at
which pod, so a reader can line a lost request up with the timeline by hand.

Times (``*_s`` columns) are seconds from the window's start, ``Timeline.origin``: the zero of the
"timeline" and "landmarks" attachments and of the request-timeline picture. They are on the
harness's clock (``observe.clock``: wall-clock seconds, the clock Kubernetes stamps pod status
and events with; for ``--traffic in-cluster`` the node's wall clock, the same on the local
cluster). ``sent_epoch`` is the absolute instant, to join the table with other records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from podlife.observe.traffic import Ledger, Request

COLUMNS = ("seq", "scheduled_s", "sent_s", "latency_s", "outcome", "status", "error", "pod", "client", "sent_epoch",
           "connection")

#: What became of a request, in the order pictures list them: ``ok``, or how it failed. The error
#: texts are those of both generators (``traffic._short_error``, ``incluster.CURL_ERRORS``).
OUTCOMES = ("ok", "refused", "reset", "timeout", "http-status", "other")
_BY_ERROR = {"Connection refused": "refused", "Connection reset": "reset", "RemoteDisconnected": "reset",
             "timed out": "timeout"}


def outcome(r: Request) -> str:
    """One of ``OUTCOMES``: a refused connection (nothing listening) tells a different story from a reset or a timeout."""
    if r.ok:
        return "ok"
    if r.error is None:
        return "http-status"  # an answer, with a status other than the expected one
    return _BY_ERROR.get(r.error, "other")


def ledger_rows(ledger: Ledger, origin: float) -> Iterator[dict[str, str]]:
    """The table's rows, in schedule order; empty cells where the ledger knows nothing (no status, no pod).

    One at a time: a million-request ledger's rows all at once would hold several times the ledger.
    """
    return (
        {
            "seq": str(r.seq),
            "scheduled_s": f"{r.scheduled - origin:.4f}",
            "sent_s": f"{r.sent - origin:.4f}",
            "latency_s": f"{r.latency:.4f}",
            "outcome": outcome(r),
            "status": "" if r.status is None else str(r.status),
            "error": r.error or "",
            "pod": r.pod or "",
            "client": r.source or "",
            "sent_epoch": f"{r.sent:.6f}",
            "connection": r.connection,
        }
        for r in ledger.requests
    )


def ledger_csv(ledger: Ledger, origin: float) -> str:
    """The ledger as CSV text with a header row (``COLUMNS``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ledger_rows(ledger, origin))
    return out.getvalue()
