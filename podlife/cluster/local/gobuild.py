"""Running the Go toolchain (and the other build commands) for the local cluster's binaries.

Every command runs in a process group of its own that is killed whole when the build is
interrupted, so Ctrl-C or SIGTERM leaves no compiler behind. ``go_build_module`` builds binaries
from a small wrapper module written for the purpose, which is how each component of the local
cluster is built from the Go module proxy alone; ``go_compile`` runs one long compile with
heartbeats; ``run_build_step`` runs any shorter command (``go list``, ``gcc``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from podlife.cluster.local.progress import Progress
from podlife.errors import PodlifeError


@contextlib.contextmanager
def _process_group(cmd: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """Run ``cmd`` in a process group of its own that is killed whole if the block is left early.

    ``go build`` runs compilers as its children; on Ctrl-C or SIGTERM the whole group goes,
    so an interrupted build leaves no compiler behind.
    """
    proc = subprocess.Popen(cmd, start_new_session=True, text=True, **popen)
    try:
        yield proc
    except BaseException:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
                break
        raise


def run_build_step(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a build command; on failure raise one line naming it, with the tail of its output."""
    with _process_group(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate()
    if proc.returncode != 0:
        tail = (err or out).strip().splitlines()[-5:]
        raise PodlifeError(f"build step failed: {' '.join(cmd[:4])} ...: {' | '.join(tail)}")
    return out


def go_env() -> dict[str, str]:
    """Static, reproducible binaries: no cgo (they must run on scratch images), no VCS stamping."""
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOFLAGS="-trimpath -buildvcs=false", GOTOOLCHAIN="local")
    return env


def go_compile(cmd: list[str], module: Path, label: str, progress: Progress) -> None:
    """Run a long ``go`` compile in ``module``: heartbeats while it runs, one line with its tail if it fails.

    With ``go build -v``, every line on stderr is a package compiled, which the heartbeat counts;
    ``go test -c`` lists none, so there it tells only the time.
    """
    tail: list[str] = []
    counting = cmd[:2] == ["go", "build"] and "-v" in cmd
    with _process_group(cmd, cwd=module, env=go_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc, \
            _Heartbeat(label, progress, counting=counting) as beat:
        assert proc.stderr is not None
        for line in proc.stderr:
            if beat.packages is not None:
                beat.packages += 1
            tail = (tail + [line.rstrip()])[-5:]
        proc.wait()
    if proc.returncode != 0:
        raise PodlifeError(f"go build of {label} failed: {' | '.join(tail)}")


class _Heartbeat:
    """Prints how far a long ``go build -v`` got (``packages`` is None where the compile lists none), so CI logs show it is alive."""

    def __init__(self, label: str, progress: Progress, every: float = 60.0, counting: bool = True) -> None:
        self.label, self.progress, self.every = label, progress, every
        self.packages: int | None = 0 if counting else None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        start = time.monotonic()
        while not self._done.wait(self.every):
            done = "" if self.packages is None else f"{self.packages} packages compiled, "
            self.progress(f"  ... {self.label}: {done}{time.monotonic() - start:.0f}s")

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()


def go_build_module(
    stage: Path,
    name: str,
    gomod: str,
    sources: dict[str, str],
    packages: list[str],
    ldflags: str,
    progress: Progress,
    rename: dict[str, str] | None = None,
) -> None:
    """Write a wrapper module below ``stage``, resolve it, and build ``packages`` into ``stage/bin``.

    Imports of the wanted packages go into a ``tools.go`` so ``go mod tidy`` keeps them.
    ``rename`` maps the name ``go build`` gives a binary to the name the cluster expects.
    """
    stamp = stage / f"{name}.built"
    if stamp.exists():
        return
    module = stage / "src" / name
    if module.exists():
        shutil.rmtree(module)
    module.mkdir(parents=True)
    (module / "go.mod").write_text(gomod)
    for filename, text in sources.items():
        (module / filename).write_text(text)
    imports = [p for p in packages if p != "."]
    if imports:
        lines = "\n".join(f'\t_ "{p}"' for p in imports)
        (module / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{lines}\n)\n")
    progress(f"resolving Go modules for {name}")
    run_build_step(["go", "mod", "tidy"], cwd=module, env=go_env())
    out_dir = module / "out"
    out_dir.mkdir()
    progress(f"building {name} (cold: many minutes on 2 cores; cached afterwards)")
    started = time.monotonic()
    go_compile(["go", "build", "-v", "-ldflags", ldflags, "-o", str(out_dir) + "/", *packages], module, name, progress)
    for built in out_dir.iterdir():
        target = (rename or {}).get(built.name, built.name)
        built.replace(stage / "bin" / target)
    shutil.rmtree(out_dir)
    progress(f"built {name} in {time.monotonic() - started:.0f}s")
    stamp.touch()
