"""Polling with a deadline: what the harness does instead of sleeping a guessed time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from podlife.errors import TestOverran, WaitTimeout

T = TypeVar("T")

__all__ = ["WaitTimeout", "wait_for"]


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Return the first truthy value of ``condition()``, or fail naming ``what`` after ``timeout``.

    ``condition`` may raise a ``HarnessError`` of its own to end the wait early, for a state
    that can no longer turn good (an image that cannot be pulled). A test that runs past its
    time limit inside the wait learns here what it was waiting for (the innermost wait names it).
    """
    deadline = time.monotonic() + timeout
    try:
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)
    except TestOverran as overran:
        if overran.waiting_for is not None:
            raise
        raise TestOverran(overran.limit, what) from None
