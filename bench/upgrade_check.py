"""Benchmark of ``podlife upgrade-check``: how long two versions take, split into build, cluster start and suite.

Run as root: ``python bench/upgrade_check.py [--smoke] [--from 1.36] [--to 1.37] [-- PYTEST ARGS]``. It
runs the upgrade check itself (into a scratch directory) and prints, per version, the build
(now, and the recorded cold build when the cache already held it), the cluster start and the
suite, then the total. A first run on a fresh machine pays two cold builds.

``--smoke`` (CI) checks ``--to`` against itself, on one scenario unless PYTEST ARGS name others:
every step of an upgrade check (start, suite, timings, comparison and its files, this table) but
building a second version, which would cost a cold build of about 17 minutes. Its second run is
labelled ``<version>-again``; a regression between the two is a verdict that flips on one version.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import bench_parser, quick_profile

from podlife.cluster.local.build import DEFAULT_VERSION, default_progress, resolve_version
from podlife.report.upgrade_check import compare_runs, upgrade_check


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, "--to against itself on one scenario, nothing built")
    parser.add_argument("--from", dest="from_version", default="1.36")
    parser.add_argument("--to", dest="to_version", default=DEFAULT_VERSION)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, out: Path) -> int:
    """The upgrade check the arguments ask for, into ``out``; its exit status."""
    if not args.smoke:
        return upgrade_check(args.from_version, args.to_version, args.pytest_args, out, default_progress)
    version = resolve_version(args.to_version)
    return compare_runs((version, version), (f"{version}-again", version), args.pytest_args or quick_profile(smoke=True),
                        out, default_progress)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="podlife-upgrade-bench-"))
    started = time.monotonic()
    code = run(args, out)
    total = time.monotonic() - started
    timings = json.loads((out / "timings.json").read_text())
    print(f"\n{'version':<14}{'build now':>12}{'cold build':>12}{'start':>9}{'suite':>9}")
    for version, t in timings.items():
        recorded = t["cold_build_recorded_s"]
        print(f"{version:<14}{t['build_s']:>11.0f}s{(f'{recorded:.0f}s' if recorded else '-'):>12}"
              f"{t['cluster_start_s']:>8.1f}s{t['suite_s']:>8.0f}s")
    print(f"total {total:.0f}s (comparison exit {code}); reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
