"""Cross-process exclusion for the local cluster, and the runs that are using it.

Two pytest runs, or a pytest run and a ``podlife cluster up`` in another terminal, may ask for
the cluster at the same moment. ``exclusive`` serialises whoever starts, stops or builds:
the second caller waits, says for whom, and then finds the work done. ``Leases`` records
which processes are attached to the running cluster, so nobody stops or restarts it under
them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Callable, Iterator


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


def _me() -> str:
    try:
        cmdline = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = "?"
    return f"pid {os.getpid()} ({cmdline[:120]})"


@contextlib.contextmanager
def exclusive(path: Path, what: str, progress: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; if another process holds it, say so and wait.

    ``flock`` locks die with their process, so a killed holder never leaves the lock taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for {_holder(path)} to finish {what}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, _me().encode())
        yield
    finally:
        os.close(fd)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


class Leases:
    """One file per process attached to the cluster, named by pid and stamped with its start time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def hold(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / str(os.getpid())).write_text(f"{_start_time(os.getpid())}\n{_me()}\n")

    def release(self) -> None:
        (self.directory / str(os.getpid())).unlink(missing_ok=True)

    def others(self) -> list[str]:
        """Live processes other than this one that hold a lease; stale files are removed."""
        found = []
        for lease in sorted(self.directory.glob("[0-9]*")) if self.directory.exists() else []:
            try:
                started, who = lease.read_text().split("\n", 1)
            except (OSError, ValueError):
                continue
            if _start_time(int(lease.name)) != started:
                lease.unlink(missing_ok=True)
            elif int(lease.name) != os.getpid():
                found.append(who.strip())
        return found
