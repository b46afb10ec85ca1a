"""Start the cluster's components as detached processes and stop them again.

``podlife cluster up`` returns while the cluster keeps running, so components run in their own
session with a pidfile each. A component counts as running only while the pid in its file is
alive *and* runs the binary the file names, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from podlife.cluster.local.paths import StateLayout
from podlife.errors import ComponentDied, PodlifeError


@dataclass(frozen=True)
class Component:
    """One process of the cluster and how to tell it is serving."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    #: The prefix that enters the node's network namespace (``Node.enter``); empty on the host's.
    enter: list[str] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        """What is executed: ``argv`` behind ``enter`` (``nsenter`` execs it, keeping the pid)."""
        return [*self.enter, *self.argv]


class Supervisor:
    def __init__(self, layout: StateLayout) -> None:
        self.layout = layout

    def pid(self, name: str) -> int | None:
        """The live pid of ``name``, or None when it is not running (stale files are ignored)."""
        pidfile = self.layout.pidfile(name)
        try:
            pid_text, binary = pidfile.read_text().split("\n", 1)
            pid = int(pid_text)
            exe = os.readlink(f"/proc/{pid}/exe")
        except (OSError, ValueError):
            return None
        return pid if exe.removesuffix(" (deleted)") == binary.strip() else None

    def start(self, component: Component) -> None:
        """Start ``component`` unless it runs already, and wait until it reports ready.

        A component that exits or does not get ready in time is named in one line together
        with its log file, which is what a person needs to look at next.
        """
        log = self.layout.log(component.name)
        if self.pid(component.name) is None:
            self.layout.logs.mkdir(parents=True, exist_ok=True)
            self.layout.pids.mkdir(parents=True, exist_ok=True)
            with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
                proc = subprocess.Popen(
                    component.command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **component.env},
                )
            binary = os.path.realpath(component.argv[0])
            self.layout.pidfile(component.name).write_text(f"{proc.pid}\n{binary}\n")
        deadline = time.monotonic() + component.timeout
        while time.monotonic() < deadline:
            # Until nsenter has exec'd the binary, the pid runs nsenter: not the component yet, not dead
            # either. Asked first: once it no longer runs nsenter it runs the binary for good (or died).
            if not _entering(self.layout.pidfile(component.name)) and self.pid(component.name) is None:
                raise PodlifeError(f"{component.name} exited during start-up; see {log}")
            if component.ready():
                return
            time.sleep(0.2)
        raise PodlifeError(f"{component.name} did not become ready within {component.timeout:.0f}s; see {log}")

    def stop(self, name: str, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (at once when ``grace`` is 0); forget the pidfile either way."""
        pid = self.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            deadline = time.monotonic() + grace
            while self.pid(name) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid(name) is not None:
                os.kill(pid, signal.SIGKILL)
                while self.pid(name) is not None:
                    time.sleep(0.05)
        self.layout.pidfile(name).unlink(missing_ok=True)

    def running(self) -> dict[str, int]:
        """Every component with a live process, by name."""
        if not self.layout.pids.exists():
            return {}
        found = {p.stem: self.pid(p.stem) for p in self.layout.pids.glob("*.pid")}
        return {name: pid for name, pid in found.items() if pid is not None}

    def check_alive(self) -> None:
        """Raise ``ComponentDied`` naming the first component whose recorded process is gone.

        Called before each test on the local cluster, so a kubelet that crashed mid-run reads as
        "kubelet (pid N) exited; see .../kubelet.log" instead of every later test timing out.
        """
        for pidfile in sorted(self.layout.pids.glob("*.pid")) if self.layout.pids.exists() else []:
            if self.pid(pidfile.stem) is None:
                recorded = pidfile.read_text().split("\n", 1)[0] if pidfile.exists() else "?"
                raise ComponentDied(f"{pidfile.stem} (pid {recorded}) exited; see {self.layout.log(pidfile.stem)}")


def _entering(pidfile: Path) -> bool:
    """Whether the process of ``pidfile`` still runs ``nsenter`` (about to exec the component)."""
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
        return os.readlink(f"/proc/{pid}/exe").endswith("/nsenter")
    except (OSError, ValueError):
        return False
