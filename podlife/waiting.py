"""Polling with a deadline: what the harness does instead of sleeping a guessed time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from podlife.errors import WaitTimeout

T = TypeVar("T")

__all__ = ["WaitTimeout", "wait_for", "waiting_on"]

#: What the current ``wait_for`` calls of this process wait for, innermost last; a test that
#: overruns its time limit names it (see ``guards``' time limit). The one piece of process state
#: in podlife: the limit's SIGALRM handler runs in no test's frame and can reach nothing else.
_waits: list[str] = []


def waiting_on() -> str | None:
    return _waits[-1] if _waits else None


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Return the first truthy value of ``condition()``, or fail naming ``what`` after ``timeout``.

    ``condition`` may raise a ``HarnessError`` of its own to end the wait early, for a state
    that can no longer turn good (an image that cannot be pulled).
    """
    deadline = time.monotonic() + timeout
    _waits.append(what)
    try:
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)
    finally:
        _waits.pop()
