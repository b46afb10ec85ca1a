"""Caches of built binaries that appear complete or not at all, however a build ends.

Each cache is a directory below ``paths.cache_root()`` (one per Kubernetes version, one per pair
of logging add-on versions), filled in a staging directory next to it under a lock and renamed
into place when the build is done.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from podlife.cluster.local.locks import exclusive
from podlife.cluster.local.progress import Progress


def staging_dir(root: Path) -> Path:
    """Where the cache ``root`` is built before it is renamed into place."""
    return root.with_name(f"{root.name}.partial")


def staged_build(root: Path, what: str, progress: Progress, complete: Callable[[], bool],
                 fill: Callable[[], None]) -> float:
    """Fill the cache directory ``root`` unless ``complete()``; return the seconds a build took (0 when cached).

    The directory appears complete or not at all: ``fill`` writes into ``<root>.partial`` under
    the lock ``<root>.lock``, which is renamed into place at the end. A second process asking for
    the same cache waits for the lock and then finds it complete; an interrupted build leaves its
    staging directory for the next one to continue from (each step stamps what it finished).
    """
    if complete():
        return 0.0
    with exclusive(root.with_name(f"{root.name}.lock"), f"building {what}", progress):
        if complete():
            return 0.0
        stage = staging_dir(root)
        (stage / "bin").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        fill()
        took = time.monotonic() - started
        progress(f"built {what} in {took:.0f}s")
        (stage / "build-seconds").write_text(f"{took:.0f}\n")
        if root.exists():  # an incomplete cache written before builds were staged
            shutil.rmtree(root)
        stage.rename(root)
        return took


def recorded_build_seconds(root: Path) -> float | None:
    """How long the build that filled the cache ``root`` took, if it finished."""
    try:
        return float((root / "build-seconds").read_text())
    except (OSError, ValueError):
        return None
