"""The in-cluster traffic schedule, run by this host's bash and curl against loopback servers of the test's own."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from podlife.observe.incluster import SCHEDULE, parse_line
from podlife.observe.traffic import Request

LANES, RATE, COUNT = 2, 50, 40
#: curl's timeout: generous, since the test is about the schedule and the loopback server answers
#: from a busy test process (a 1 s timeout expired in CI with two workers).
TIMEOUT = "5"


def run_schedule(url: str, tmp_path: Path, naming: str = "body") -> list[Request]:
    start_file, stop_file = tmp_path / "start", tmp_path / "stop"
    lanes = [subprocess.Popen(["bash", "-c", SCHEDULE, "schedule", str(RATE), str(LANES), str(lane), str(COUNT), TIMEOUT, url,
                               str(start_file), str(stop_file), naming], stdout=subprocess.PIPE, text=True) for lane in range(LANES)]
    start_file.write_text(str(int((time.time() + 0.3) * 1e6)))
    outputs = [lane.communicate(timeout=60)[0] for lane in lanes]
    assert all(out.rstrip().endswith("END") for out in outputs)
    return sorted((r for out in outputs for r in map(parse_line, out.splitlines()) if r), key=lambda r: r.seq)


def test_lanes_share_one_schedule(server: str, tmp_path: Path) -> None:
    requests = run_schedule(f"{server}/hostname", tmp_path)
    assert [r.seq for r in requests] == list(range(COUNT))
    assert all(abs(r.scheduled - (requests[0].scheduled + r.seq / RATE)) < 1e-5 for r in requests)
    assert {(r.status, r.pod) for r in requests} == {(200, "pod-a")}
    # Never early; how late under load is a speed figure (bench/), and the ledger's lag check at run time.
    assert all(r.sent >= r.scheduled - 0.001 for r in requests)  # 1 ms: the timers' rounding


def test_a_header_names_the_pod_and_the_source_is_recorded(server: str, tmp_path: Path) -> None:
    requests = run_schedule(f"{server}/hostname", tmp_path, naming="header:X-Served-By")
    assert {r.pod for r in requests} == {"pod-h"}
    assert all(r.source and r.source.startswith("127.0.0.1:") for r in requests)


def test_refused_connections_are_recorded_as_such(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    requests = run_schedule(f"http://127.0.0.1:{port}/hostname", tmp_path)
    assert {(r.status, r.error) for r in requests} == {(None, "Connection refused")}


def test_parse_line() -> None:
    r = parse_line("R 7 1000000 1000500 1003500 0 200 10.0.0.9:4321 web-1")
    assert r == Request(7, 1.0, 1.0005, 0.003, 200, None, "web-1", "10.0.0.9:4321")
    assert parse_line("R 8 1000000 1000500 3000500 28 000 :0 ").error == "timed out"  # type: ignore[union-attr]
    assert parse_line("R 9 1000000 1000500 1003500 0 503 10.0.0.9:4322 web-1", expect=503).ok  # type: ignore[union-attr]
    assert parse_line("START 1") is None and parse_line("END") is None
