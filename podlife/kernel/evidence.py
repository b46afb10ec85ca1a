"""The sink a test leaves its evidence in: figures for ``summary.json``, text and pictures for the report.

Rooms below the report (the scene, the observation window, the disruptions) write evidence
through this protocol; ``report.summary.Evidence`` is the sink a test gets, and it alone knows
Allure and how pictures are drawn. So the window can hand over what it saw without importing
the report, and a unit test can pass a sink that just keeps what it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol

#: How an attachment is shown: plain text, a table, a picture.
Attachment = Literal["text", "csv", "svg"]


class EvidenceSink(Protocol):
    """Where a test's figures, texts and pictures go."""

    def measure(self, name: str, value: object) -> None:
        """A figure for the summary (``reports/summary.json``), under the test's claims or workload."""

    def waits_on(self, **timers: float) -> None:
        """The Kubernetes timers (seconds) the test cannot finish before: back-off, grace periods, ..."""

    def attach(self, name: str, text: str | Iterable[str], kind: Attachment = "text") -> None:
        """Text (or a drawn picture) for a person reading the test's report; a long one as its pieces, one at
        a time (a million-request table is never held as one string)."""

    def illustrate(self, observation: object) -> None:
        """Draw what the report draws of ``observation`` (a closed traffic window, a watched shutdown), if anything.

        Drawing can never fail the test: a picture that cannot be drawn becomes a note saying why.
        """
