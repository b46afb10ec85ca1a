"""Benchmark of ``podlife upgrade-check``: how long two versions take, split into build, cluster start and suite.

Run as root: ``python bench/upgrade_check.py [--from 1.36] [--to 1.37] [-- PYTEST ARGS]``. It
runs the upgrade check itself (into a scratch directory) and prints, per version, the build
(now, and the recorded cold build when the cache already held it), the cluster start and the
suite, then the total. A first run on a fresh machine pays two cold builds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from podlife.cluster.local.build import DEFAULT_VERSION, default_progress
from podlife.report.upgrade_check import upgrade_check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_version", default="1.36")
    parser.add_argument("--to", dest="to_version", default=DEFAULT_VERSION)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="podlife-upgrade-bench-"))
    started = time.monotonic()
    code = upgrade_check(args.from_version, args.to_version, args.pytest_args, out, default_progress)
    total = time.monotonic() - started
    timings = json.loads((out / "timings.json").read_text())
    print(f"\n{'version':<10}{'build now':>12}{'cold build':>12}{'start':>9}{'suite':>9}")
    for version, t in timings.items():
        recorded = t["cold_build_recorded_s"]
        print(f"{version:<10}{t['build_s']:>11.0f}s{(f'{recorded:.0f}s' if recorded else '-'):>12}"
              f"{t['cluster_start_s']:>8.1f}s{t['suite_s']:>8.0f}s")
    print(f"total {total:.0f}s (comparison exit {code}); reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
