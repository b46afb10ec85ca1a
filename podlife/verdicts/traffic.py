"""Verdicts over the traffic ledger, explained against the timeline."""

from __future__ import annotations

from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger, Request

SHOWN_FAILURES = 8


def _describe(r: Request, origin: float) -> str:
    return f"#{r.seq} sent at {r.sent - origin:+.3f}s: {r.error or f'HTTP {r.status}'}"


def explain_failures(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> str:
    """Which requests failed, when, and relative to which landmark (e.g. the delete call)."""
    failures = ledger.failures
    origin = timeline.origin
    marks = ", ".join(f"{name} at {t - origin:+.3f}s" for name, t in sorted(landmarks.items(), key=lambda kv: kv[1]))
    lines = [f"{len(failures)} of {len(ledger.requests)} requests to {ledger.target} failed ({marks}):"]
    lines += [f"  {_describe(r, origin)}" for r in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failures) - SHOWN_FAILURES} more, last at {failures[-1].sent - origin:+.3f}s")
    return "\n".join(lines)


def assert_no_request_lost(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> None:
    ledger.check_usable()
    assert not ledger.failures, explain_failures(ledger, timeline, landmarks)


def assert_requests_lost(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> None:
    """The negative control's verdict: the bad variant must visibly lose requests."""
    ledger.check_usable()
    assert ledger.failures, (
        f"the bad variant lost none of {len(ledger.requests)} requests, so the check could not tell it "
        f"from the good one ({', '.join(landmarks)})"
    )


def assert_success_ratio(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float], at_least: float) -> None:
    ledger.check_usable()
    assert ledger.success_ratio >= at_least, (
        f"success ratio {ledger.success_ratio:.4f} is below {at_least}:\n" + explain_failures(ledger, timeline, landmarks)
    )
