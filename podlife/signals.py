"""SIGTERM as Ctrl-C, for as long as podlife works, and no longer.

CI cancels a job with SIGTERM. While podlife builds, provisions or runs scenarios, that signal
must unwind like ``KeyboardInterrupt`` so builds stop their compilers and namespace fixtures
still delete what they made. Outside that work the process's own handler stays: the pytest
plugin is loaded into every pytest run of the environment, podlife's or not, and tests call
the CLI's ``main`` in-process.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` inside the block; the previous handler is restored after it."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
