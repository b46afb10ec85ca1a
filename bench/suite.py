"""Benchmark of the quick scenario profile: each scenario's wall time beside the Kubernetes
timers it has to wait out, so the harness's own overhead is visible.

Run: ``python bench/suite.py [-n 2] [pytest args...]``. It runs ``pytest scenarios -m "not
slow"`` (against the cluster ``--cluster`` picks, the local one by default), then reads the
per-test durations from ``reports/junit.xml`` and the declared timers (back-off delays, grace
periods: ``Evidence.waits_on``) from ``reports/summary.json``. Overhead is wall time minus
timers: deploying, scheduling, starting containers, watching and reading back evidence.
The suite's own wall time is printed against the target of 10 minutes with ``-n 2``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 600.0
TIMERS = "kubernetes_timers_s"


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


def main(args: list[str]) -> int:
    if not any(a.startswith("-n") for a in args):
        args = ["-n", "2", *args]
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", "scenarios", "-m", "not slow", "-q", "-p", "no:cacheprovider", *args],
                           cwd=ROOT)
    wall = time.monotonic() - started
    took, waited = durations(ROOT / "reports/junit.xml"), timers(ROOT / "reports/summary.json")
    print(f"\n{'scenario':<92} {'wall s':>7} {'timers s':>8} {'overhead s':>10}")
    for test, seconds in sorted(took.items(), key=lambda kv: -kv[1]):
        timer = waited.get(test)
        print(f"{test:<92} {seconds:7.1f} {timer if timer is not None else '-':>8} "
              f"{seconds - timer if timer is not None else float('nan'):10.1f}")
    serial = sum(took.values())
    print(f"\nsuite wall time: {wall:.0f}s (target with -n 2: <= {TARGET_S:.0f}s) "
          f"{'met' if wall <= TARGET_S else 'MISSED'}; tests' own time summed: {serial:.0f}s; "
          f"declared timers summed: {sum(waited.values()):.0f}s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
