"""Verdicts over the order in which start-up steps ran (LC-07)."""

from __future__ import annotations


def assert_one_at_a_time(records: list[tuple[str, float]], steps: list[str], then: str) -> None:
    """LC-07: each step ran to its end before the next started, in declared order, and ``then`` came after the last."""
    ends = {e[: -len("-end")]: t for e, t in records if e.endswith("-end")}
    starts: dict[str, float] = {}
    for event, t in records:
        if event.endswith("-start"):
            starts[event[: -len("-start")]] = t  # the last attempt's start
    order = [e for e, _ in records]
    for step in steps:
        assert step in starts and step in ends, f"{step} did not run to completion: records {order}"
    for before, after in zip(steps, steps[1:]):
        assert starts[after] >= ends[before], (
            f"{after} started {ends[before] - starts[after]:.2f}s before {before} ended: the steps overlapped ({order})"
        )
    first_then = next((t for e, t in records if e == then), None)
    assert first_then is not None, f"no {then!r} record: {order}"
    assert first_then >= ends[steps[-1]], f"{then} came {ends[steps[-1]] - first_then:.2f}s before {steps[-1]} ended ({order})"
