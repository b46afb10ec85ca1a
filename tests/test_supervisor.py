"""A component that died is named with its pid and log, instead of every later test timing out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from podlife.cluster.local.paths import StateLayout
from podlife.cluster.local.supervisor import Supervisor
from podlife.errors import ComponentDied, HarnessError


def _record(layout: StateLayout, name: str, pid: int) -> None:
    layout.pids.mkdir(parents=True, exist_ok=True)
    layout.pidfile(name).write_text(f"{pid}\n{Path(sys.executable).resolve()}\n")


def test_a_dead_component_is_named_with_its_log(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        _record(layout, "kube-apiserver", alive.pid)
        Supervisor(layout).check_alive()
        _record(layout, "kubelet", dead.pid)
        with pytest.raises(ComponentDied, match=rf"kubelet \(pid {dead.pid}\) exited; see {layout.log('kubelet')}"):
            Supervisor(layout).check_alive()
    finally:
        alive.kill()
        alive.wait()
    assert issubclass(ComponentDied, HarnessError)
