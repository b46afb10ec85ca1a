"""How the local cluster's long jobs (builds, starts, stops) tell the user what they are doing."""

from __future__ import annotations

import sys
from typing import Callable

#: Takes one line of progress; the jobs call it as they go, so a cold build of many minutes shows it is alive.
Progress = Callable[[str], None]


def default_progress(message: str) -> None:
    """Progress goes to stderr, so ``podlife cluster kubeconfig`` stays clean on stdout."""
    print(f"[podlife] {message}", file=sys.stderr, flush=True)
