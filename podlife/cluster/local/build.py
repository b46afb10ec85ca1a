"""Build every binary of the local cluster from Go modules, cached per Kubernetes version.

``k8s.io/kubernetes`` is not meant to be used as a module: its ``go.mod`` points every
``k8s.io/*`` staging module at a directory inside its own tree. A small wrapper module
requires it and replaces each staging module with its published ``v0.X.Y`` twin, which makes
``go build k8s.io/kubernetes/cmd/...`` work from the module proxy alone. etcd 3.5 and CoreDNS
get wrapper modules of their own (their dependency graphs disagree with Kubernetes'), and the
pause binary is compiled from the C source shipped inside the Kubernetes module.

Image tags (agnhost, pause, CoreDNS) are read from the Kubernetes module of the chosen version,
so the images carry the names that version's own manifests and e2e suite use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

from podlife.cluster.local.locks import exclusive
from podlife.cluster.local.paths import cache_root
from podlife.errors import PodlifeError

#: The newest minor whose kubelet runs on this kind of host (cgroup v1, containerd 1.6); see README.
DEFAULT_VERSION = "1.37.2"
#: The oldest minor ``--version`` accepts: 1.35 to 1.37 each build here and pass the quick
#: profile (run 2026-11-25); older ones were not proven on this kind of host, so they are refused.
OLDEST_MINOR = 35
#: etcd 3.5 is what the project certifies against (Debian ships 3.4, too old for the API server).
ETCD_VERSION = "3.5.35"

KUBE_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)

Progress = Callable[[str], None]


def default_progress(message: str) -> None:
    """Progress goes to stderr, so ``podlife cluster kubeconfig`` stays clean on stdout."""
    print(f"[podlife] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Release:
    """What a built Kubernetes version consists of: binaries and the image tags that go with it."""

    version: str
    bin_dir: Path
    agnhost_tag: str
    pause_tag: str
    coredns_tag: str
    etcd_version: str

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


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


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a build command; on failure raise one line naming it, with the tail of its output."""
    with _process_group(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate()
    if proc.returncode != 0:
        tail = (err or out).strip().splitlines()[-5:]
        raise PodlifeError(f"build step failed: {' '.join(cmd[:4])} ...: {' | '.join(tail)}")
    return out


def _go_env() -> dict[str, str]:
    """Static, reproducible binaries: no cgo (they must run on scratch images), no VCS stamping."""
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOFLAGS="-trimpath -buildvcs=false", GOTOOLCHAIN="local")
    return env


def resolve_version(requested: str | None) -> str:
    """Turn ``1.36`` or ``v1.36.3`` into an exact patch version, newest patch for a bare minor."""
    wanted = (requested or DEFAULT_VERSION).lstrip("v")
    match = re.fullmatch(r"1\.(\d+)(?:\.(\d+))?", wanted)
    if not match:
        raise PodlifeError(f"not a Kubernetes version: {requested!r} (expected e.g. 1.36 or 1.36.3)")
    if int(match.group(1)) < OLDEST_MINOR:
        raise PodlifeError(f"Kubernetes {wanted} is not supported by the local cluster: 1.{OLDEST_MINOR} is the oldest "
                           "minor proven to build and pass the quick profile here (kind reaches back to 1.31)")
    if match.group(2) is not None:
        return wanted
    cached = sorted(
        (p.name[1:] for p in cache_root().glob(f"k8s/v{wanted}.*") if (p / "release.json").exists()),
        key=lambda v: int(v.split(".")[2]),
    )
    try:
        listing = _run(["go", "list", "-m", "-versions", "k8s.io/kubernetes"], cwd=Path("/"))
    except PodlifeError:
        if cached:
            return cached[-1]
        raise PodlifeError(f"cannot list Kubernetes {wanted}.x releases (is the Go module proxy reachable?)")
    patches = [v[1:] for v in listing.split()[1:] if re.fullmatch(rf"v{re.escape(wanted)}\.\d+", v)]
    if not patches:
        raise PodlifeError(f"no Kubernetes {wanted}.x release on the Go module proxy")
    return max(patches, key=lambda v: int(v.split(".")[2]))


def kubernetes_source(version: str) -> Path:
    """The ``k8s.io/kubernetes`` module tree of ``version`` (downloaded once into the Go module cache)."""
    out = _run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@v{version}"], cwd=Path("/"))
    return Path(json.loads(out)["Dir"])


def kubernetes_wrapper_gomod(kube_src: Path, version: str, module: str) -> str:
    """A ``go.mod`` that requires ``k8s.io/kubernetes`` and pins each staging module to its published twin."""
    staging = re.findall(r"^\s+(k8s\.io/[\w.-]+) => \./staging/", (kube_src / "go.mod").read_text(), re.M)
    pin = f"v0.{version.split('.', 1)[1]}"
    return "\n".join(
        [f"module {module}", "", "go 1.22", "", f"require k8s.io/kubernetes v{version}", "", "replace ("]
        + [f"\t{mod} => {mod} {pin}" for mod in staging]
        + [")", ""]
    )


def go_compile(cmd: list[str], module: Path, label: str, progress: Progress) -> None:
    """Run a long ``go`` compile in ``module``: heartbeats while it runs, one line with its tail if it fails.

    With ``go build -v``, every line on stderr is a package compiled, which the heartbeat counts;
    ``go test -c`` lists none, so there it tells only the time.
    """
    tail: list[str] = []
    counting = cmd[:2] == ["go", "build"] and "-v" in cmd
    with _process_group(cmd, cwd=module, env=_go_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc, \
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


def local_kubectl() -> str | None:
    """The kubectl of the local cluster's default version, when it has been built (for ``kubectl kustomize``)."""
    built = Builder(DEFAULT_VERSION).cached()
    return str(built.binary("kubectl")) if built else None


class Builder:
    """Builds (or finds in the cache) one Kubernetes version and its companions.

    A version's cache directory appears complete or not at all: the build runs in a staging
    directory next to it, under a lock per version, and is renamed into place at the end. A
    second process asking for the same version waits for the lock and then finds the cache; an
    interrupted build leaves its staging directory for the next one to continue from.
    """

    def __init__(self, version: str, progress: Progress = default_progress) -> None:
        self.version = version
        self.progress = progress
        self.root = cache_root() / "k8s" / f"v{version}"
        self.bin_dir = self.root / "bin"
        self.stage = staging_dir(self.root)
        self.cold_build_seconds = 0.0

    def recorded_build_seconds(self) -> float | None:
        """How long the build that filled this cache took, if it finished."""
        return recorded_build_seconds(self.root)

    def cached(self) -> Release | None:
        try:
            data = json.loads((self.root / "release.json").read_text())
        except (OSError, ValueError):
            return None
        return Release(**{**data, "bin_dir": Path(data["bin_dir"])})

    def ensure(self) -> Release:
        """Return the release, building whatever is missing; a complete cache costs nothing."""
        self.cold_build_seconds = staged_build(self.root, f"Kubernetes v{self.version} and companions", self.progress,
                                               lambda: self.cached() is not None, self._build)
        release = self.cached()
        assert release is not None, "a finished build writes release.json"
        return release

    def _build(self) -> None:
        kube_src = self._kubernetes_source()
        release = Release(
            version=self.version,
            bin_dir=self.bin_dir,
            agnhost_tag=(kube_src / "test/images/agnhost/VERSION").read_text().strip(),
            pause_tag=self._kubeadm_constant(kube_src, "PauseVersion"),
            coredns_tag=self._kubeadm_constant(kube_src, "CoreDNSVersion"),
            etcd_version=ETCD_VERSION,
        )
        self._build_kubernetes(kube_src)
        self._build_etcd()
        self._build_coredns(release.coredns_tag)
        self._build_pause(kube_src, release.pause_tag)
        (self.stage / "release.json").write_text(json.dumps({**asdict(release), "bin_dir": str(self.bin_dir)}, indent=2))

    # -- Kubernetes -------------------------------------------------------------------------

    def _kubernetes_source(self) -> Path:
        self.progress(f"fetching k8s.io/kubernetes v{self.version} from the Go module proxy")
        return kubernetes_source(self.version)

    @staticmethod
    def _kubeadm_constant(kube_src: Path, name: str) -> str:
        text = (kube_src / "cmd/kubeadm/app/constants/constants.go").read_text()
        match = re.search(rf'\b{name}\s*=\s*"v?([^"]+)"', text)
        if not match:
            raise PodlifeError(f"cannot find {name} in {kube_src}/cmd/kubeadm/app/constants/constants.go")
        value = match.group(1)
        return f"v{value}" if name == "CoreDNSVersion" else value

    def _build_kubernetes(self, kube_src: Path) -> None:
        gomod = kubernetes_wrapper_gomod(kube_src, self.version, "podlife.local/kubernetes")
        packages = [f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBE_COMMANDS]
        packages.append("k8s.io/kubernetes/test/images/agnhost")
        self._go_build("kubernetes", gomod, {}, packages, self._version_ldflags())

    def _version_ldflags(self) -> str:
        """Stamp the real version, as Kubernetes' own build does, so ``kubectl version`` tells it."""
        major, minor, _ = self.version.split(".")
        info = Path(_run(["go", "env", "GOMODCACHE"]).strip()) / f"cache/download/k8s.io/kubernetes/@v/v{self.version}.info"
        commit = json.loads(info.read_text()).get("Origin", {}).get("Hash", "") if info.exists() else ""
        values = {
            "gitVersion": f"v{self.version}",
            "gitMajor": major,
            "gitMinor": minor,
            "gitCommit": commit,
            "gitTreeState": "clean",
            "buildDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        flags = ["-s", "-w"]
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            flags += [f"-X {pkg}.{key}={value}" for key, value in values.items()]
        return " ".join(flags)

    # -- companions ---------------------------------------------------------------------------

    def _build_etcd(self) -> None:
        gomod = f"module podlife.local/etcd\n\ngo 1.22\n\nrequire go.etcd.io/etcd/server/v3 v{ETCD_VERSION}\n"
        self._go_build("etcd", gomod, {}, ["go.etcd.io/etcd/server/v3"], "-s -w", rename={"server": "etcd"})

    def _build_coredns(self, tag: str) -> None:
        main_go = resources.files("podlife.cluster.local").joinpath("gosrc/coredns/main.go").read_text()
        gomod = f"module podlife.local/coredns\n\ngo 1.22\n\nrequire github.com/coredns/coredns {tag}\n"
        self._go_build("coredns", gomod, {"main.go": main_go}, ["."], "-s -w")

    def _build_pause(self, kube_src: Path, tag: str) -> None:
        target = self.stage / "bin" / "pause"
        if target.exists():
            return
        self.progress(f"compiling pause {tag} from the Kubernetes module's C source")
        _run(["gcc", "-Os", "-Wall", "-static", f"-DVERSION=v{tag}-podlife", "-o", str(target),
              str(kube_src / "build/pause/linux/pause.c")])

    def _go_build(self, name: str, gomod: str, sources: dict[str, str], packages: list[str], ldflags: str,
                  rename: dict[str, str] | None = None) -> None:
        go_build_module(self.stage, name, gomod, sources, packages, ldflags, self.progress, rename)


def staging_dir(root: Path) -> Path:
    """Where the cache ``root`` is built before it is renamed into place."""
    return root.with_name(f"{root.name}.partial")


def staged_build(root: Path, what: str, progress: Progress, complete: Callable[[], bool],
                 fill: Callable[[], None]) -> float:
    """Fill the cache directory ``root`` unless ``complete()``; return the seconds a build took (0 when cached).

    The directory appears complete or not at all: ``fill`` writes into ``<root>.partial`` under
    the lock ``<root>.lock``, which is renamed into place at the end. A second process asking for
    the same cache waits for the lock and then finds it complete; an interrupted build leaves its
    staging directory for the next one to continue from (each step stamps what it finished).
    """
    if complete():
        return 0.0
    with exclusive(root.with_name(f"{root.name}.lock"), f"building {what}", progress):
        if complete():
            return 0.0
        stage = staging_dir(root)
        (stage / "bin").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        fill()
        took = time.monotonic() - started
        progress(f"built {what} in {took:.0f}s")
        (stage / "build-seconds").write_text(f"{took:.0f}\n")
        if root.exists():  # an incomplete cache written before builds were staged
            shutil.rmtree(root)
        stage.rename(root)
        return took


def recorded_build_seconds(root: Path) -> float | None:
    """How long the build that filled the cache ``root`` took, if it finished."""
    try:
        return float((root / "build-seconds").read_text())
    except (OSError, ValueError):
        return None


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
    _run(["go", "mod", "tidy"], cwd=module, env=_go_env())
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
