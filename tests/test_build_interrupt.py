"""An interrupted build leaves no compiler behind (``go`` is faked; no Go toolchain runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: A stand-in ``go`` that starts a child (as ``go build`` starts compilers) and records both pids.
FAKE_GO = """#!/bin/sh
sleep 300 &
echo $$ $! > "$PIDS"
wait
"""

BUILD = """
import sys
from podlife.cluster.local.gobuild import run_build_step
import signal
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    run_build_step(["go", "build", "./..."])
except KeyboardInterrupt:
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigterm_during_a_build_kills_the_whole_build(tmp_path: Path) -> None:
    (tmp_path / "go").write_text(FAKE_GO)
    (tmp_path / "go").chmod(0o755)
    pids = tmp_path / "pids"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PIDS": str(pids)}
    build = subprocess.Popen([sys.executable, "-c", BUILD], env=env)
    deadline = time.monotonic() + 30
    while not pids.exists() or not pids.read_text().strip():
        assert time.monotonic() < deadline, "the fake go never started"
        time.sleep(0.05)
    go, compiler = map(int, pids.read_text().split())
    build.send_signal(signal.SIGTERM)
    assert build.wait(timeout=30) == 130
    deadline = time.monotonic() + 10
    while (_alive(go) or _alive(compiler)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(go), "go outlived the interrupted build"
    assert not _alive(compiler), "go's child outlived the interrupted build"
