"""Fixtures of the unit tests: servers of the tests' own, on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest


class _Hostname(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = b"pod-a" if self.path == "/hostname" else b"nope"
        self.send_response(200 if self.path == "/hostname" else 404)
        self.send_header("X-Served-By", "pod-h")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """An HTTP server answering ``/hostname`` with ``pod-a``, as agnhost's netexec answers with its pod's name.

    Every answer also names ``pod-h`` in an ``X-Served-By`` header, as a user's app might.
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostname)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
