"""The compiled traffic engine (``main.go``): the same open-loop schedule as ``traffic.Traffic``, at the machine's limit.

Python's event loops spend most of a request in the interpreter; a Go program spends it in the
kernel, so one process keeps thousands of requests a second on schedule on two cores. It is
built from the standard library alone, once per machine (cached by the source's hash under
``$PODLIFE_CACHE/engine``), where a Go toolchain is installed, as the local cluster's
components are; without one the harness keeps the Python generator.

The engine writes a line per request as soon as the request ends, and a reader thread turns
each into a ledger entry while the window is open, so verdicts read the ledger mid-window as
they do the Python generator's, and nothing is read from a log at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import IO

from podlife.access import Target
from podlife.cluster.local.gobuild import go_env, run_build_step
from podlife.cluster.local.paths import cache_root
from podlife.errors import HarnessError
from podlife.observe.incluster import naming_argument
from podlife.observe.traffic import Ledger, Request, Traffic

SOURCE = "main.go"
BINARY = "podlife-traffic"
GO_MOD = "module podlife.io/traffic\n\ngo 1.22\n"


def engine_source() -> str:
    return resources.files("podlife.observe.engine").joinpath(SOURCE).read_text()


def engine_binary() -> Path | None:
    """The engine built for this machine, building it if needed; None where no Go toolchain is installed."""
    source = engine_source()
    built = cache_root() / "engine" / hashlib.sha256(source.encode()).hexdigest()[:16] / BINARY
    if built.exists():
        return built
    if shutil.which("go") is None:
        return None
    built.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="podlife-engine-") as work:
        (Path(work) / "go.mod").write_text(GO_MOD)
        (Path(work) / SOURCE).write_text(source)
        partial = built.parent / f".{BINARY}.{os.getpid()}"
        run_build_step(["go", "build", "-ldflags=-s -w", "-o", str(partial), "."], cwd=Path(work), env=go_env())
        partial.replace(built)  # atomic: a concurrent build (another test worker) replaces it with the same binary
    return built


def parse_line(line: str, expect: int) -> Request:
    """One request line of the engine (see ``main.go``) as a ledger entry; the pod only for a healthy answer."""
    seq, scheduled, sent, latency, status, error, local, reused, pod = line.rstrip("\n").split("\t")
    code = int(status) or None
    return Request(int(seq), int(scheduled) / 1e6, int(sent) / 1e6, int(latency) / 1e6, code,
                   None if error == "-" else error, pod if pod != "-" and code == expect else None,
                   None if local == "-" else local, expect, reused == "1")


class EngineTraffic:
    """Sends GET ``target`` at ``rate`` per second through the engine until stopped or bounded (``traffic.Traffic``'s interface).

    ``keepalive`` above 0 keeps that many connections open, each a client sending its share of
    the schedule; 0 opens a new connection per request, as the Python generator does.
    """

    def __init__(self, target: Target, rate: float = 20.0, timeout: float = 2.0, limit: int = 100_000,
                 max_seconds: float = 900.0, keepalive: int = 0, binary: Path | None = None) -> None:
        found = binary or engine_binary()
        if found is None:
            raise HarnessError("the traffic engine needs a Go toolchain to be built on this machine")
        self.command = [str(found), "-url", target.url, "-rate", repr(rate), "-count", str(limit), "-seconds",
                        repr(max_seconds), "-timeout", f"{timeout}s", "-keepalive", str(keepalive),
                        "-naming", naming_argument(target.naming)]
        self.expect = target.expect
        self.ledger = Ledger(target.url, rate)
        self._proc: subprocess.Popen[str] | None = None
        self._reader = threading.Thread(target=self._read, daemon=True, name="traffic-engine")
        self._started = threading.Event()
        self.ended: int | None = None

    def __enter__(self) -> "EngineTraffic":
        self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, bufsize=1 << 16)
        self._reader.start()
        if not self._started.wait(10):
            self.stop()
            raise HarnessError(f"the traffic engine did not start: {self._stderr()}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _stderr(self) -> str:
        err = self._proc.stderr if self._proc else None
        return (err.read().strip() if err and self._proc and self._proc.poll() is not None else "") or "no word from it"

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream: IO[str] = self._proc.stdout
        for line in stream:
            if line.startswith("START "):
                self._started.set()
            elif line.startswith("END "):
                self.ended = int(line.split()[1])
            else:
                # list.append is atomic and only this thread appends: no lock needed.
                self.ledger.requests.append(parse_line(line, self.expect))
        self._started.set()

    def finish(self) -> Ledger:
        """Let a bounded run send everything it scheduled, then return the complete ledger."""
        if self._proc is not None:
            self._proc.wait()
        return self.stop()

    def stop(self) -> Ledger:
        """Stop the schedule (closing the engine's input); the requests in flight end first."""
        proc = self._proc
        if proc is not None:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait()
            self._reader.join()
            if proc.returncode != 0:
                raise HarnessError(f"the traffic engine failed (exit {proc.returncode}): {self._stderr()}")
        self.ledger.requests.sort(key=lambda r: r.seq)
        return self.ledger


def host_traffic(target: Target, rate: float) -> "EngineTraffic | Traffic":
    """The generator for traffic sent from this host: the engine where it can be built, else the Python one."""
    binary = engine_binary()
    return EngineTraffic(target, rate=rate, binary=binary) if binary else Traffic(target, rate=rate)
