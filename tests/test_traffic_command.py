"""Traffic's bad input, said before a request is sent: ``podlife traffic``'s one line and non-zero exit,
with no ledger file left behind, and a scenario window's ``RateTooHigh`` (a harness problem).

The target here is this host's loopback (a port nothing listens on, or a server that answers
slowly): no cluster is needed, and the engine is never built, as every refusal comes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from podlife.access import Target
from podlife.cli import main
from podlife.errors import RateTooHigh
from podlife.kernel.evidence import EvidenceSink
from podlife.observe.incluster import Route
from podlife.observe.window import observe


class Slow(BaseHTTPRequestHandler):
    """Answers every GET after 50 ms, keeping the connection (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def slow_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command, which must refuse; the one line it printed."""
    assert main(["traffic", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("podlife: error: "), (out, err)
    return err.removeprefix("podlife: error: ").strip()


def test_a_url_that_is_not_plain_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert refused(["https://example/"], capsys) == "not a plain http URL: 'https://example/' (http://HOST[:PORT]/PATH)"


@pytest.mark.parametrize("where", ["missing/ledger.csv", "."])
def test_a_ledger_file_that_cannot_be_written(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / where
    reason = "it is a directory" if where == "." else "No such file or directory"
    assert refused(["http://127.0.0.1:9/", "--ledger", str(path)], capsys) == f"cannot write the ledger to {path}: {reason}"
    assert sorted(tmp_path.iterdir()) == []


def test_an_unreachable_target_leaves_no_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.csv"
    assert refused(["http://127.0.0.1:9/", "--ledger", str(ledger)], capsys) == "http://127.0.0.1:9/ does not answer: Connection refused"
    assert sorted(tmp_path.iterdir()) == []


def test_kept_alive_clients_too_few_for_the_rate_at_the_targets_answer_time(slow_server: str, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """4 clients at answers of 50 ms carry 80 a second at most; planned 80 % busy, 64: 200 a second needs 13 or more."""
    line = refused([slow_server, "--rate", "200", "--keepalive", "4", "--ledger", str(tmp_path / "l.csv")], capsys)
    assert line.startswith("4 kept-alive clients carry at most ") and "for 200 a second use at least " in line, line
    assert int(line.rsplit(" ", 1)[1]) >= 13, line  # 200 x 0.05 / 0.8, answers taking a little over 50 ms
    assert sorted(tmp_path.iterdir()) == []


def test_a_kept_alive_window_too_busy_for_its_clients_is_refused_before_it_opens(slow_server: str) -> None:
    """The window refuses before its timeline or traffic starts: the route is never used."""
    with pytest.raises(RateTooHigh, match="4 kept-alive clients carry at most"):
        with observe(cast(Route, None), Target(slow_server), cast(EvidenceSink, None), rate=200, keepalive=4):
            pass  # pragma: no cover - refused before


def test_a_partial_ledger_a_killed_run_left_is_written_over_and_removed(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".ledger.csv.partial").write_text("seq\n0\n")
    refused(["http://127.0.0.1:9/", "--ledger", str(tmp_path / "ledger.csv")], capsys)
    assert sorted(tmp_path.iterdir()) == []
