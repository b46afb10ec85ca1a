"""Verdicts over pod identity: names that follow a replacement (LC-02), state that survives what
it should (LC-03), two pods of one identity alive at once (SD-05), and records kept across a
scale-down (SD-06)."""

from __future__ import annotations


def assert_reaches(answer: str | None, expected: str, how: str) -> None:
    """LC-02: a client that addresses the member ``how`` gets an answer from ``expected``."""
    assert answer == expected, f"a client addressing {expected} {how} got {answer!r} instead of an answer from {expected}"


def assert_state(report: dict[str, str], expected: dict[str, str], after: str) -> None:
    """LC-03: after ``after``, each location's marker was ``kept`` or ``fresh`` as expected."""
    wrong = {path: seen for path, seen in report.items() if expected.get(path) != seen}
    assert not wrong, "; ".join(
        f"{path} was {seen} after {after}, expected {expected.get(path)}" for path, seen in sorted(wrong.items())
    ) + f" (report: {report})"


def overlap(beats: list[tuple[str, float]], old: str, new: str) -> float:
    """Seconds during which both pods beat: the old one's last beat minus the new one's first (negative: a gap)."""
    old_beats = [t for e, t in beats if e == f"beat-{old}"]
    new_beats = [t for e, t in beats if e == f"beat-{new}"]
    assert old_beats and new_beats, f"missing heartbeats: {len(old_beats)} from the old pod, {len(new_beats)} from the new"
    return max(old_beats) - min(new_beats)


def assert_overlapped(beats: list[tuple[str, float]], old: str, new: str) -> float:
    """SD-05: the old and the new pod of one identity ran at the same time; returns the overlap."""
    window = overlap(beats, old, new)
    assert window > 0, f"the replacement's first heartbeat came {-window:.2f}s after the old pod's last: they never overlapped"
    return window


def assert_never_overlapped(beats: list[tuple[str, float]], old: str, new: str) -> float:
    """SD-05: the replacement started only after the old pod's process had stopped; returns the gap."""
    window = overlap(beats, old, new)
    assert window < 0, f"two pods of one identity ran at the same time for {window:.2f}s"
    return -window


def assert_no_record_lost(written: set[str], found: set[str], stranded_in: str) -> None:
    """SD-06: every record written before the scale-down is on a remaining member."""
    lost = sorted(written - found)
    assert not lost, f"{len(lost)} of {len(written)} records are not on any remaining member (stranded in {stranded_in}): {lost}"
