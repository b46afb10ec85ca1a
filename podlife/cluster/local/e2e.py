"""The upstream Kubernetes e2e suite's node lifecycle specs, run against the local cluster.

podlife's scenarios judge claims on the local cluster; whether that cluster behaves like a real
one is judged by an independent referee: the e2e suite of the very ``k8s.io/kubernetes`` module
the cluster was built from, focused on the areas the claims are about (container lifecycle
hooks with the sleep action, probes, init containers, pods, the termination message, graceful
deletion and PreStop, basic StatefulSet behaviour). Opt-in, since compiling the suite takes
minutes: ``podlife e2e``.

The suite binary is compiled with ``go test -c`` in a wrapper module like the cluster's own (the
staging modules pinned to their published twins), cached per version beside the release, staged
and renamed into place like every other build. Specs that need what a single-node, cgroup v1,
no-cloud cluster cannot have are skipped by the upstream labels that say so (``Serial``,
``Disruptive``, ``Slow``, ``Flaky``, ``Feature:`` gates that are off by default); every spec
that remains ran and passed here on 1.37.2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podlife.cluster.local.build import Builder, kubernetes_source, kubernetes_wrapper_gomod
from podlife.cluster.local.gobuild import go_compile
from podlife.cluster.local.locks import exclusive
from podlife.cluster.local.progress import Progress
from podlife.errors import PodlifeError

#: The node lifecycle areas the claims are about, by the upstream spec names that hold them.
FOCUS = (
    r"\[sig-node\] Container Lifecycle Hook",
    r"\[sig-node\] Lifecycle [Ss]leep",
    r"\[sig-node\] Probing container",
    r"\[sig-node\] InitContainer",
    r"\[sig-node\] Pods should",
    r"\[sig-node\] Container Runtime blackbox test on terminated container",
    r"\[sig-node\] PreStop",
    r"\[sig-apps\] StatefulSet Basic StatefulSet functionality",
)

#: Upstream's own labels for specs that need a dedicated, disruptable or multi-node cluster, or
#: minutes of waiting each, or a feature gate that is off by default.
SKIP_LABELS = (r"\[Serial\]", r"\[Disruptive\]", r"\[Slow\]", r"\[Flaky\]", r"\[Feature:[^\]]+\]")

#: The whole run must finish within this.
RUN_TIMEOUT = "2h"
#: Parallel suite processes, as upstream runs the suite: many lifecycle specs spend minutes
#: waiting (a liveness probe that must *not* restart a container is watched for 4 minutes), so
#: four processes share the node's two cores well.
PROCS = 4


@dataclass
class SpecResult:
    """One spec as the suite's JSON report gives it."""

    name: str
    state: str
    seconds: float
    failure: str = ""


@dataclass
class SuiteRun:
    """What one run of the suite did; ``failed`` is what makes ``podlife e2e`` exit non-zero."""

    specs: list[SpecResult] = field(default_factory=list)
    build_seconds: float | None = None
    run_seconds: float = 0.0

    def counted(self, state: str) -> list[SpecResult]:
        return [s for s in self.specs if s.state == state]

    @property
    def failed(self) -> list[SpecResult]:
        return [s for s in self.specs if s.state not in ("passed", "skipped", "pending")]


def suite_binaries(version: str, progress: Progress) -> tuple[Path, float | None]:
    """The directory holding the compiled suite (``e2e.test``) and the ``ginkgo`` runner of its
    module for ``version``, and, when this call compiled them, how long that took.

    Built in a staging directory under a lock of its own, renamed into place when complete, so a
    second caller waits and then finds it, and an interrupted build is continued next time.
    """
    release_root = Builder(version, progress).root
    done = release_root / "e2e"
    if (done / "build-seconds").exists():
        return done, None
    with exclusive(release_root.with_name(f"v{version}.e2e.lock"), f"building the e2e suite of v{version}", progress):
        if (done / "build-seconds").exists():
            return done, None
        started = time.monotonic()
        stage = release_root / "e2e.partial"
        stage.mkdir(parents=True, exist_ok=True)
        kube_src = kubernetes_source(version)
        (stage / "go.mod").write_text(kubernetes_wrapper_gomod(kube_src, version, "podlife.local/e2e"))
        progress(f"compiling the upstream e2e suite of v{version} (cold: many minutes on 2 cores; cached afterwards)")
        # -mod=mod lets go record the suite's test-only dependencies, which no tidy of a wrapper sees.
        go_compile(["go", "test", "-mod=mod", "-c", "-o", str(stage / "e2e.test"), "k8s.io/kubernetes/test/e2e"],
                   stage, "e2e suite", progress)
        go_compile(["go", "build", "-mod=mod", "-o", str(stage / "ginkgo"), "github.com/onsi/ginkgo/v2/ginkgo"],
                   stage, "ginkgo", progress)
        seconds = time.monotonic() - started
        (stage / "build-seconds").write_text(f"{seconds:.0f}\n")
        stage.rename(done)
        return done, seconds


def suite_command(binaries: Path, kubeconfig: Path, report_dir: Path, focus: str | None, skip: str | None,
                  serial: bool = False) -> list[str]:
    """ginkgo's command line: the runner's own flags (focus, skip, report), then the suite's (after ``--``).

    ``serial`` runs the specs upstream marks ``[Serial]`` too (a node's taints, the scheduler's
    spreading over every node): they need the cluster to themselves, so in one process.
    """
    skips = [label for label in SKIP_LABELS if not (serial and label == r"\[Serial\]")] + ([skip] if skip else [])
    return [
        str(binaries / "ginkgo"), "run",
        f"--procs={1 if serial else PROCS}",
        f"--focus={focus or '|'.join(FOCUS)}",
        f"--skip={'|'.join(skips)}",
        f"--json-report={report_dir / 'e2e.json'}",
        f"--timeout={RUN_TIMEOUT}",
        "--no-color",
        str(binaries / "e2e.test"), "--",
        f"--kubeconfig={kubeconfig}",
        "--provider=local",
        f"--report-dir={report_dir}",
    ]


def read_report(path: Path) -> list[SpecResult]:
    """Every spec of a ginkgo JSON report, named as upstream names it (containers, then the leaf)."""
    try:
        suites: list[dict[str, Any]] = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PodlifeError(f"the e2e suite left no readable report at {path}: {err}") from None
    results = []
    for suite in suites:
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue
            name = " ".join([*spec.get("ContainerHierarchyTexts", []), spec.get("LeafNodeText", "")]).strip()
            message = (spec.get("Failure") or {}).get("Message", "")
            results.append(SpecResult(name, spec.get("State", "?"), spec.get("RunTime", 0) / 1e9,
                                      message.strip().splitlines()[0] if message.strip() else ""))
    return results


def run_suite(version: str, kubeconfig: Path, report_dir: Path, progress: Progress,
              focus: str | None = None, skip: str | None = None, serial: bool = False) -> SuiteRun:
    """Compile (once) and run the focused suite against the cluster behind ``kubeconfig``."""
    if shutil.which("go") is None:
        raise PodlifeError("the e2e suite is compiled with Go, which is not on PATH")
    binaries, build_seconds = suite_binaries(version, progress)
    report_dir = report_dir.resolve()  # the suite runs there, and every path it is given must still hold
    if report_dir.exists():
        shutil.rmtree(report_dir)
    report_dir.mkdir(parents=True)
    log = report_dir / "e2e.log"
    progress(f"running the e2e lifecycle subset of v{version}; its output goes to {log}")
    started = time.monotonic()
    # The suite leaves temporary files behind (a kuberc per process and run): in the report
    # directory, which the next run replaces, rather than in the host's /tmp.
    scratch = report_dir / "tmp"
    scratch.mkdir()
    with log.open("w") as out:
        subprocess.run(suite_command(binaries, kubeconfig, report_dir, focus, skip, serial),
                       stdout=out, stderr=subprocess.STDOUT, cwd=report_dir, env={**os.environ, "TMPDIR": str(scratch)})
    run = SuiteRun(read_report(report_dir / "e2e.json"), build_seconds, time.monotonic() - started)
    if not run.specs:
        raise PodlifeError(f"the e2e suite ran no spec (focus {focus or 'default'}); see {log}")
    return run
