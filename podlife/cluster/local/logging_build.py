"""The central-logging pair OP-06 installs: a log collector and a log store, built from Go modules.

- **Collector: the OpenTelemetry Collector** (core ``v0.165.0``, contrib ``v0.165.1``) with the
  filelog receiver, which tails the kubelet's container log files, parses the CRI format and
  takes the pod's namespace, name and container from each file's path, and the OTLP/HTTP
  exporter. It is the vendor-neutral collector; a main of our own (``gosrc/otelcol``) links just
  those two, as the collector builder would.
- **Store: VictoriaLogs** (``v1.52.1``): one static binary, Apache-2.0, that ingests OTLP logs
  directly and answers LogsQL queries over HTTP. Loki, the other common choice, is under the
  AGPL and is not used here.

Both are cached like the cluster's own components (``cluster.local.cache``): one directory per
pair of versions, filled in a staging directory under a lock, so a Kubernetes upgrade does not
build them again. The local cluster builds them with its first ``up``; a scenario packs them
into images at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from podlife.cluster.local.cache import recorded_build_seconds, staged_build, staging_dir
from podlife.cluster.local.gobuild import go_build_module
from podlife.cluster.local.images import ImageSpec
from podlife.cluster.local.paths import cache_root
from podlife.cluster.local.progress import Progress, default_progress

OTELCOL_VERSION = "v0.165.0"
#: The contrib release that goes with the core one (the filelog receiver lives there).
OTELCOL_CONTRIB_VERSION = "v0.165.1"
VICTORIALOGS_VERSION = "v1.52.1"
#: What the store listens on, in its pod.
STORE_PORT = 9428


@dataclass(frozen=True)
class LoggingBinaries:
    """The built collector and store."""

    bin_dir: Path

    def collector_image(self) -> ImageSpec:
        """The collector alone on an empty image: it reads host files mounted in and writes over HTTP."""
        return ImageSpec(name=f"podlife/otelcol:{OTELCOL_VERSION}", files={"/otelcol": self.bin_dir / "otelcol"},
                         entrypoint=["/otelcol"])

    def store_image(self) -> ImageSpec:
        return ImageSpec(name=f"podlife/victoria-logs:{VICTORIALOGS_VERSION}",
                         files={"/victoria-logs": self.bin_dir / "victoria-logs"},
                         directories={"/tmp": 0o1777, "/storage": 0o755},
                         entrypoint=["/victoria-logs"], exposed_ports=[f"{STORE_PORT}/tcp"])


class LoggingBuild:
    """Builds (or finds in the cache) the collector and the store."""

    def __init__(self, progress: Progress = default_progress) -> None:
        self.progress = progress
        self.root = cache_root() / "addons" / f"logging-otelcol-{OTELCOL_VERSION}-victorialogs-{VICTORIALOGS_VERSION}"
        self.stage = staging_dir(self.root)
        self.cold_build_seconds = 0.0

    def cached(self) -> LoggingBinaries | None:
        bins = self.root / "bin"
        complete = (bins / "otelcol").is_file() and (bins / "victoria-logs").is_file()
        return LoggingBinaries(bins) if complete else None

    def recorded_build_seconds(self) -> float | None:
        return recorded_build_seconds(self.root)

    def ensure(self) -> LoggingBinaries:
        self.cold_build_seconds = staged_build(self.root, "the logging add-on (OpenTelemetry Collector, VictoriaLogs)",
                                               self.progress, lambda: self.cached() is not None, self._build)
        built = self.cached()
        assert built is not None, "a finished build leaves both binaries"
        return built

    def _build(self) -> None:
        main_go = resources.files("podlife.cluster.local").joinpath("gosrc/otelcol/main.go").read_text()
        collector = "\n".join([
            "module podlife.local/otelcol", "", "go 1.26", "", "require (",
            f"\tgo.opentelemetry.io/collector/otelcol {OTELCOL_VERSION}",
            f"\tgo.opentelemetry.io/collector/exporter/otlphttpexporter {OTELCOL_VERSION}",
            f"\tgithub.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver {OTELCOL_CONTRIB_VERSION}",
            ")", "",
        ])
        go_build_module(self.stage, "otelcol", collector, {"main.go": main_go}, ["."], "-s -w", self.progress)
        store = f"module podlife.local/victorialogs\n\ngo 1.26\n\nrequire github.com/VictoriaMetrics/VictoriaLogs {VICTORIALOGS_VERSION}\n"
        go_build_module(self.stage, "victorialogs", store, {},
                        ["github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs"], "-s -w", self.progress)
