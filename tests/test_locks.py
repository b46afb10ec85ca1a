"""Cross-process exclusion and leases of the local cluster, between real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from podlife.cluster.local.locks import Leases, exclusive

HOLD = """
import sys, time
from pathlib import Path
from podlife.cluster.local.locks import exclusive
with exclusive(Path(sys.argv[1]), "a test", print):
    Path(sys.argv[2]).touch()
    time.sleep(float(sys.argv[3]))
"""


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_second_holder_waits_and_names_the_first(tmp_path: Path) -> None:
    lock, held = tmp_path / "lock", tmp_path / "held"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(held), "1.0"])
    _wait_for(held)
    said: list[str] = []
    started = time.monotonic()
    with exclusive(lock, "starting the cluster", said.append):
        waited = time.monotonic() - started
    first.wait()
    assert waited > 0.3
    assert len(said) == 1 and said[0].startswith(f"waiting for pid {first.pid} ") and said[0].endswith("to finish starting the cluster")


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    lock, held = tmp_path / "lock", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(held), "60"])
    _wait_for(held)
    holder.kill()
    holder.wait()
    said: list[str] = []
    with exclusive(lock, "x", said.append):
        pass
    assert said == []


def test_leases_name_live_others_and_forget_the_dead(tmp_path: Path) -> None:
    mine = Leases(tmp_path)
    mine.hold()
    assert mine.others() == []
    other = subprocess.Popen([sys.executable, "-c", f"from podlife.cluster.local.locks import Leases; from pathlib import Path; "
                              f"Leases(Path({str(tmp_path)!r})).hold(); import time; time.sleep(60)"])
    _wait_for(tmp_path / str(other.pid))
    assert len(mine.others()) == 1 and mine.others()[0].startswith(f"pid {other.pid} ")
    other.kill()
    other.wait()
    assert mine.others() == []
    assert not (tmp_path / str(other.pid)).exists()
    mine.release()
    assert list(tmp_path.iterdir()) == []
