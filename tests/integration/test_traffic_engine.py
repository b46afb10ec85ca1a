"""The compiled traffic engine against a small HTTP server on this host's loopback: no cluster needed.

It is built from the package's Go source as the harness builds it (once, cached by the source's
hash), then run on a schedule; the ledger must hold every request, on time, with what the
server answered, on new or kept-alive connections as asked.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from podlife.access import PodNaming, Target
from podlife.cli import main
from podlife.errors import HarnessError
from podlife.observe.engine import EngineTraffic, engine_binary, parse_line

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="building the engine needs a Go toolchain")


class Named(BaseHTTPRequestHandler):
    """Answers every GET with its own name, keeping the connection when asked (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    #: Headers and body go out in two writes; with Nagle's algorithm the body waits for the client's
    #: delayed ACK (40 ms) on a kept-alive connection. Servers of real apps (Go's, nginx) disable it.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        body = b"pod-a\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


class ClosingIdle(Named):
    """Answers as if it kept the connection (no ``Connection: close``), then closes it: an idle close, as a server
    shutting down or timing out an idle connection does."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        super().do_GET()
        self.close_connection = True


class ClosingWithTheAnswer(Named):
    """Answers as if it kept the connection, and ends it in the same segment: the answer is corked, and the
    shutdown sends it with the FIN on it, so the close is there when the client reads the answer."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        super().do_GET()
        self.connection.shutdown(socket.SHUT_WR)
        self.close_connection = True


class AnnouncingTheClose(ClosingWithTheAnswer):
    """The same, saying so (``Connection: close``): a close the client was told of, not one it finds."""

    def end_headers(self) -> None:
        self.send_header("Connection", "close")
        super().end_headers()


class DroppingTheNext(Named):
    """Answers a connection's first request and drops the connection at the next, unanswered: a kept connection
    cut off under a request, as an app that exits with its connections open does."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if getattr(self, "answered", False):
            self.close_connection = True
            return
        self.answered = True
        super().do_GET()


class Framed(Named):
    """Answers with the bytes of ``answer``, a byte at a time when ``trickle``: the ways an HTTP/1.x answer can be
    framed and cut into segments, which the engine parses as they arrive."""

    answer = b""
    trickle = False

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        for piece in (self.answer[i:i + 1] for i in range(len(self.answer))) if self.trickle else [self.answer]:
            self.wfile.write(piece)
        self.close_connection = self.answer.startswith(b"HTTP/1.0")


FRAMINGS = {
    "chunked, with extensions and a trailer": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pod: pod-c\r\n\r\n"
                                              b"4;ext=1\r\npod-\r\n2\r\nc\n\r\n0\r\nTrailer: x\r\n\r\n",
    "HTTP/1.0, ended by the close": b"HTTP/1.0 200 OK\r\nX-Pod: pod-c\r\n\r\npod-c\n",
    "after 100 Continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Pod: pod-c\r\nContent-Length: 6\r\n\r\npod-c\n",
}


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hostname"
    httpd.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Named) as url:
        yield url


@pytest.fixture(scope="module")
def dropping_server() -> Iterator[str]:
    with serving(DroppingTheNext) as url:
        yield url


@pytest.fixture(scope="module")
def closing_server() -> Iterator[str]:
    with serving(ClosingIdle) as url:
        yield url


@pytest.mark.parametrize("keepalive", [0, 4])
def test_every_request_is_in_the_ledger_on_time_and_named(server: str, keepalive: int) -> None:
    assert engine_binary() is not None
    traffic = EngineTraffic(Target(server, naming=PodNaming(body=True)), rate=200, limit=200, keepalive=keepalive)
    with traffic:
        ledger = traffic.finish()
    assert [r.seq for r in ledger.requests] == list(range(200)) and traffic.ended == 200
    assert all(r.ok and r.pod == "pod-a" and r.source and r.source.startswith("127.0.0.1:") for r in ledger.requests)
    assert ledger.max_send_lag() < 0.05, ledger.max_send_lag()
    assert ledger.generator_cpu is not None and 0 < ledger.generator_cpu < 10, ledger.generator_cpu
    reused = sum(r.reused for r in ledger.requests)
    assert (reused == 0) if keepalive == 0 else reused >= 200 - keepalive


@pytest.mark.parametrize("trickle", [False, True], ids=["whole", "a byte at a time"])
@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("naming", [PodNaming(body=True), PodNaming(header="x-pod")], ids=["body", "header"])
def test_an_answer_is_read_however_it_is_framed_and_cut(framing: str, trickle: bool, naming: PodNaming) -> None:
    handler = type("Answering", (Framed,), {"answer": FRAMINGS[framing], "trickle": trickle})
    with serving(handler) as url, EngineTraffic(Target(url, naming=naming), rate=100, limit=20, keepalive=2) as traffic:
        ledger = traffic.finish()
    assert all(r.ok and r.pod == "pod-c" for r in ledger.requests), [(r.error, r.pod) for r in ledger.requests]
    closes = framing.startswith("HTTP/1.0")
    assert all(r.connection.endswith(",close") == closes for r in ledger.requests), [r.connection for r in ledger.requests]


def test_a_request_the_server_never_answers_times_out_at_its_deadline() -> None:
    silent = type("Silent", (Named,), {"do_GET": lambda self: time.sleep(1.5)})
    with serving(silent) as url, EngineTraffic(Target(url), rate=20, limit=4, keepalive=2, timeout=0.3) as traffic:
        ledger = traffic.finish()
    assert [r.error for r in ledger.requests] == ["timed out"] * 4
    assert all(0.3 <= r.latency < 0.4 for r in ledger.requests), [r.latency for r in ledger.requests]


def test_a_kept_alive_connection_the_server_closed_while_idle_is_reopened_not_failed(closing_server: str) -> None:
    """As HTTP client pools do, the engine watches idle connections and does not reuse one its server closed."""
    traffic = EngineTraffic(Target(closing_server), rate=50, limit=20, keepalive=1)
    with traffic:
        ledger = traffic.finish()
    assert all(r.ok for r in ledger.requests), [r.error for r in ledger.failures]
    assert [r.connection for r in ledger.requests] == ["new"] + ["reopened"] * 19


def test_a_connection_the_server_closed_right_after_an_answer_is_not_reused_for_the_next_request_waiting() -> None:
    """One client, requests queued behind it: each goes out the moment the answer before it is read, before another
    wait for the sockets, so the engine must take the server's close from the wait that brought the answer (the FIN
    came in the same segment), as a pool that saw the close would."""
    with serving(ClosingWithTheAnswer) as url, EngineTraffic(Target(url), rate=2000, limit=30, keepalive=1) as traffic:
        ledger = traffic.finish()
    assert max(r.waited for r in ledger.requests) > 0, "no request waited for the client: the path was not taken"
    assert [r.connection for r in ledger.requests] == ["new"] + ["reopened"] * 29


def test_a_close_the_answer_announced_makes_the_next_connection_new_not_reopened() -> None:
    """The close comes with the answer in both, but only an unannounced one is a reopening."""
    with serving(AnnouncingTheClose) as url, EngineTraffic(Target(url), rate=2000, limit=30, keepalive=1) as traffic:
        ledger = traffic.finish()
    assert max(r.waited for r in ledger.requests) > 0, "no request waited for the client: the path was not taken"
    assert [r.connection for r in ledger.requests] == ["new,close"] * 30


def test_new_connections_beyond_the_bound_wait_for_one_to_close_and_the_wait_is_the_apps() -> None:
    """With a new connection per request, at most ``-connections`` are open: a server slower than the schedule
    makes requests wait for a slot (recorded as ``waited``, as a pool's queue is), not pile up in the kernel."""
    slow = type("Slow", (Named,), {"do_GET": lambda self: (time.sleep(0.2), Named.do_GET(self))})
    binary = engine_binary()
    assert binary is not None
    with serving(slow) as url, subprocess.Popen([str(binary), "-url", url, "-rate", "100", "-count", "30", "-connections",
                                                  "4"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as engine:
        assert engine.stdin is not None and engine.stdout is not None
        engine.stdin.write("start 0\n")
        engine.stdin.flush()  # the end of its input would stop the schedule: it stays open until the end
        lines = list(iter(engine.stdout.readline, ""))
        engine.stdin.close()
    ledger = [parse_line(line, 200) for line in lines if line[:1].isdigit()]
    assert len(ledger) == 30 and all(r.ok for r in ledger), [r.error for r in ledger]
    open_at = [sum(1 for o in ledger if o.sent <= r.sent < o.finished) for r in ledger]
    assert max(open_at) <= 4, open_at
    assert max(r.waited for r in ledger) > 0.5, "no request waited for a slot: the bound was not reached"
    assert max(r.late for r in ledger) < 0.05, "the wait was counted as the engine's lateness"


def test_a_request_a_kept_connection_dropped_is_sent_again_on_a_new_one_and_both_attempts_are_kept(
        dropping_server: str) -> None:
    """As pools do for a GET (RFC 9112, 9.3.1); the cut attempt stays in the ledger for RQ-04's check to see."""
    traffic = EngineTraffic(Target(dropping_server), rate=50, limit=10, keepalive=1)
    with traffic:
        ledger = traffic.finish()
    assert [r.connection for r in ledger.requests] == ["new"] + ["reused,retried", "retry"] * 9
    assert [r.seq for r in ledger.requests if not r.retried] == list(range(10))
    assert not ledger.failures and ledger.success_ratio == 1.0 and ledger.summary()["retried"] == 9
    assert all(r.error == "RemoteDisconnected" and r.status is None for r in ledger.requests if r.retried)


def test_the_traffic_command_writes_every_request_to_its_ledger_as_it_runs(server: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.csv"
    assert main(["traffic", server, "--rate", "200", "--seconds", "1", "--pod-in-body", "--ledger", str(ledger)]) == 0
    out = capsys.readouterr().out
    assert "200 requests, 0 failed (success ratio 1.00000)" in out and "answered by: pod-a 200" in out, out
    assert f"ledger: {ledger} (200 rows)" in out and "engine CPU" in out, out
    rows = list(csv.DictReader(ledger.open()))
    assert sorted(int(r["seq"]) for r in rows) == list(range(200)) and {r["pod"] for r in rows} == {"pod-a"}
    assert sorted(tmp_path.iterdir()) == [ledger]  # the partial file took the ledger's name


def test_a_refused_connection_is_a_failed_request_not_a_harness_error() -> None:
    with EngineTraffic(Target("http://127.0.0.1:9/"), rate=50, limit=10) as traffic:
        ledger = traffic.finish()
    assert [r.error for r in ledger.requests] == ["Connection refused"] * 10


def test_bad_input_is_one_line() -> None:
    with pytest.raises(HarnessError, match="not a plain http URL"):
        with EngineTraffic(Target("ftp://example/"), rate=50, limit=10):
            pass
