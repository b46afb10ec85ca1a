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

import json
import re
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from podlife.cluster.local.cache import recorded_build_seconds, staged_build, staging_dir
from podlife.cluster.local.gobuild import go_build_module, run_build_step
from podlife.cluster.local.paths import cache_root
from podlife.cluster.local.progress import Progress, default_progress
from podlife.errors import PodlifeError

#: The newest minor whose kubelet runs on this kind of host (cgroup v1, containerd 1.6); see docs/local-cluster.md.
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
        listing = run_build_step(["go", "list", "-m", "-versions", "k8s.io/kubernetes"], cwd=Path("/"))
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
    out = run_build_step(["go", "mod", "download", "-json", f"k8s.io/kubernetes@v{version}"], cwd=Path("/"))
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


def local_kubectl() -> str | None:
    """The kubectl of the local cluster's default version, when it has been built (for ``kubectl kustomize``)."""
    built = Builder(DEFAULT_VERSION).cached()
    return str(built.binary("kubectl")) if built else None


class Builder:
    """Builds (or finds in the cache) one Kubernetes version and its companions.

    A version's cache directory appears complete or not at all (``cache.staged_build``): the
    build runs in a staging directory next to it, under a lock per version, and is renamed into
    place at the end. A second process asking for the same version waits for the lock and then
    finds the cache; an interrupted build leaves its staging directory for the next one to
    continue from.
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
        modcache = Path(run_build_step(["go", "env", "GOMODCACHE"]).strip())
        info = modcache / f"cache/download/k8s.io/kubernetes/@v/v{self.version}.info"
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
        run_build_step(["gcc", "-Os", "-Wall", "-static", f"-DVERSION=v{tag}-podlife", "-o", str(target),
                        str(kube_src / "build/pause/linux/pause.c")])

    def _go_build(self, name: str, gomod: str, sources: dict[str, str], packages: list[str], ldflags: str,
                  rename: dict[str, str] | None = None) -> None:
        go_build_module(self.stage, name, gomod, sources, packages, ldflags, self.progress, rename)
