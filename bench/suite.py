"""Benchmark of the quick scenario profile: each scenario's wall time beside the Kubernetes
timers it has to wait out, so the harness's own overhead is visible.

Run: ``python bench/suite.py [--smoke] [-n 2] [pytest args...]``. It runs ``pytest scenarios -m
"not slow"`` (against the cluster ``--cluster`` picks, the local one by default) into a scratch
directory, so the reports of the run before it stay in ``reports/``, then reads the per-test
durations from its ``junit.xml`` and the declared timers (back-off delays, grace periods:
``Evidence.waits_on``) from its ``summary.json``. Overhead is wall time minus
timers: deploying, scheduling, starting containers, watching and reading back evidence.
The suite's own wall time is printed against the target of 10 minutes with ``-n 2``.

The node scenarios (ND claims) wait out a node's grace period and its pods' toleration: run
them with ``python bench/suite.py -m "nodes and not slow" --run-nodes --nodes 3 -n 0``; each one's
wall time against its timers is printed as a ratio (target <= 1.2x).

``--smoke`` (CI) runs one scenario of the profile (``common.SMOKE_SCENARIO``, about 15 s) the
same way, and prints the same table for it, without the target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from common import SMOKE_SCENARIO, bench_parser, quick_profile

from podlife.report.summary import TIMERS

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 600.0
#: A scenario that waits on Kubernetes timers should take at most this many times their sum.
RATIO_TARGET = 1.2


def durations(junit: Path) -> dict[str, float]:
    """Test node id -> seconds (setup, call and teardown), from pytest's JUnit report."""
    out = {}
    for case in ET.parse(junit).iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        out[f"{path}.py::{case.get('name')}"] = float(case.get("time", 0))
    return out


def timers(summary: Path) -> dict[str, float]:
    """Test node id -> the sum of the Kubernetes timers it declared."""
    out: dict[str, float] = {}
    for claim in json.loads(summary.read_text())["claims"].values():
        for test in claim["tests"]:
            declared = test.get("measurements", {}).get(TIMERS)
            if declared:
                out[test["test"]] = sum(declared.values())
    return out


def pytest_command(smoke: bool, pytest_args: list[str], out: Path) -> list[str]:
    """The profile's pytest run, reporting into ``out``, on 2 xdist workers unless ``pytest_args`` say how many."""
    workers = [] if any(a.startswith("-n") for a in pytest_args) else ["-n", "2"]
    reports = [f"--junitxml={out / 'junit.xml'}", f"--podlife-summary={out / 'summary.json'}",
               f"--alluredir={out / 'allure-results'}"]
    return [sys.executable, "-m", "pytest", *quick_profile(smoke), "-q", "-p", "no:cacheprovider", *reports, *workers,
            *pytest_args]


def main(argv: list[str]) -> int:
    parser = bench_parser(__doc__, f"the one scenario {SMOKE_SCENARIO}, without the 10-minute target")
    parser.epilog = "Other arguments go to pytest (-n 2 unless they say how many workers)."
    args, pytest_args = parser.parse_known_args(argv)
    out = Path(tempfile.mkdtemp(prefix="podlife-suite-bench-"))
    started = time.monotonic()
    code = subprocess.call(pytest_command(args.smoke, pytest_args, out), cwd=ROOT)
    wall = time.monotonic() - started
    took, waited = durations(out / "junit.xml"), timers(out / "summary.json")
    print(f"\n{'scenario':<92} {'wall s':>7} {'timers s':>8} {'overhead s':>10} {'ratio':>6}")
    for test, seconds in sorted(took.items(), key=lambda kv: -kv[1]):
        timer = waited.get(test)
        ratio = f"{seconds / timer:5.2f}x" if timer else "-"
        print(f"{test:<92} {seconds:7.1f} {timer if timer is not None else '-':>8} "
              f"{seconds - timer if timer is not None else float('nan'):10.1f} {ratio:>6}")
    print(f"(ratio: wall time over the timers a scenario waits out; target <= {RATIO_TARGET}x where timers dominate)")
    target = "" if args.smoke else f" (target with -n 2: <= {TARGET_S:.0f}s) {'met' if wall <= TARGET_S else 'MISSED'}"
    print(f"\nsuite wall time: {wall:.0f}s{target}; tests' own time summed: {sum(took.values()):.0f}s; "
          f"declared timers summed: {sum(waited.values()):.0f}s; reports in {out}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
