"""Benchmark of the local cluster: warm start time, idle memory, cold build time.

Run as root: ``python bench/cluster_start.py [--smoke] [--version 1.37] [--nodes 3]``. It restarts the
local cluster (down, then up) and prints figures beside their targets:

- warm start: from ``up`` to Ready nodes with cluster DNS answering (target <= 20 s, also with 3 nodes);
- idle memory: resident set of every cluster process together, components, shims and pods,
  after the cluster settled (target <= 1.5 GiB); proportional set size (PSS) is printed too,
  since the processes share pages that RSS counts once per process;
- with ``--nodes N``: the cluster is measured idle with one node, then started again with N, and
  each node beyond the first is charged the difference (target <= 250 MiB a node);
- cold build: how long the builds that filled the cache took (the Kubernetes version with its
  companions, and the logging add-on OP-06 installs), or the builds it did now.

With the cache warm (as in CI, after the suite built it) a run takes under a minute, which is
short enough for CI to run it whole. ``--smoke`` skips the idle memory, and with it the 30 s the
cluster is left to settle: the warm start alone, about 15 s.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from common import bench_parser

from podlife.cluster.local import host
from podlife.cluster.local.build import Builder, resolve_version
from podlife.cluster.local.components import Settings
from podlife.cluster.local.logging_build import LoggingBuild
from podlife.cluster.local.provider import LocalCluster

START_TARGET_S = 20.0
MEMORY_TARGET_GIB = 1.5
NODE_MEMORY_TARGET_MIB = 250
SETTLE_S = 30.0


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from smaps_rollup; (0, 0) when it is gone."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in values:
                values[key] = int(rest[0])
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


def cluster_pids(cluster: LocalCluster) -> set[int]:
    """Components, containerd shims, and every process in a pod cgroup."""
    return (set(cluster.supervisor.running().values()) | set(host.shim_pids(cluster.layout.root))
            | host.pod_pids())


def idle_memory_gib(cluster: LocalCluster) -> tuple[float, float]:
    """(RSS, PSS) of every cluster process together, in GiB, once start-up allocations settled."""
    time.sleep(SETTLE_S)
    rss = pss = 0
    for pid in cluster_pids(cluster):
        r, p = _memory_kib(pid)
        rss, pss = rss + r, pss + p
    gib = 1024 * 1024
    return rss / gib, pss / gib


def _seconds(recorded: float | None) -> str:
    return f"{recorded:.0f} s" if recorded else "unknown (cache filled before timing was recorded)"


def restart(cluster: LocalCluster, settings: Settings) -> tuple[float, float]:
    """Take the cluster down and up with ``settings``: (seconds to ready, not counting builds; seconds spent building)."""
    if cluster.recorded():
        cluster.down()
    began = time.monotonic()
    result = cluster.up(settings)
    return time.monotonic() - began - result.cold_build_seconds, result.cold_build_seconds


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "the warm start alone, without settling and measuring idle memory")
    parser.add_argument("--version", default=None)
    parser.add_argument("--nodes", type=int, default=1, help="also start and measure a cluster of this many nodes")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/cluster_start.py: needs root (it runs the local cluster)", file=sys.stderr)
        return 1
    version = resolve_version(args.version)
    cluster = LocalCluster()
    wall, cold = restart(cluster, Settings(version=version))
    print(f"local cluster v{version}")
    print(f"warm start to node Ready + DNS answering: {wall:.1f} s (target <= {START_TARGET_S:.0f} s)")
    rss = pss = 0.0
    if not args.smoke:
        rss, pss = idle_memory_gib(cluster)
        print(f"idle memory, all cluster processes: RSS {rss:.2f} GiB, PSS {pss:.2f} GiB (target <= {MEMORY_TARGET_GIB} GiB)")
    if args.nodes > 1:
        wall_n, _ = restart(cluster, Settings(version=version, nodes=args.nodes))
        print(f"warm start of {args.nodes} nodes to every node Ready + DNS answering: {wall_n:.1f} s "
              f"(target <= {START_TARGET_S:.0f} s)")
        if not args.smoke:
            rss_n, pss_n = idle_memory_gib(cluster)
            extra = args.nodes - 1
            print(f"idle memory with {args.nodes} nodes: RSS {rss_n:.2f} GiB, PSS {pss_n:.2f} GiB; each node beyond the "
                  f"first: RSS {(rss_n - rss) * 1024 / extra:.0f} MiB, PSS {(pss_n - pss) * 1024 / extra:.0f} MiB "
                  f"(target <= {NODE_MEMORY_TARGET_MIB} MiB)")
    build = Builder(version).recorded_build_seconds()
    logging = LoggingBuild().recorded_build_seconds()
    built_now = " (built in this run)" if cold else ""
    print(f"cold build time: {_seconds(build)} Kubernetes v{version} and companions, "
          f"{_seconds(logging)} the logging add-on (OP-06){built_now}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
