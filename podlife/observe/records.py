"""Reading the records podlife's witnesses write: one ``<event> <epoch seconds>`` line per step.

Hooks, init containers and heartbeats of the reference workloads append such lines to a file
(``workloads.witness.recording`` writes them); the harness reads them back from the container's
termination message or with ``cat`` over exec. The reading side lives here, below every room
that judges or draws them.
"""

from __future__ import annotations


def parse_records(message: str | None) -> list[tuple[str, float]]:
    """``<event> <epoch>`` lines, in file order; malformed lines (a truncated tail) are skipped."""
    records = []
    for line in (message or "").splitlines():
        event, _, stamp = line.partition(" ")
        try:
            records.append((event, float(stamp)))
        except ValueError:
            continue
    return records
