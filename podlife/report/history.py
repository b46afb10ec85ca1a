"""Runs over time: each ``podlife report`` adds its run to a history file, and the claims page
draws every claim's outcomes and every measurement across the runs kept there.

The question nightly certification asks is "did the same cluster get slower to remove
endpoints this week?", so a run is kept as the figures a trend needs, not the whole summary:
per claim, how its check and its control came out; per test, its numeric measurements,
flattened to one number per name. The file is JSON lines, one run a line, appended with a
single write, and kept outside ``reports/`` (which every pytest run rewrites): under the
podlife cache, not the local cluster's state directory, which ``podlife cluster down`` clears.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from podlife.cluster.local.paths import cache_root
from podlife.report.summary import TIMERS

#: Outcomes from worst to best: a claim's side (its checks, or its controls) reads as its worst test.
OUTCOMES = ("failed", "error", "inconclusive", "passed", "skipped")
NOT_RUN = "not run"
#: Declared expectations and timers, not behaviour: constant from run to run, no trend to read.
EXPECTATIONS = frozenset({TIMERS, "expected_policy", "expected_s", "allowed_s"})
#: A name a ReplicaSet gives its pod: its pod-template hash, then five characters of its own, both
#: from the alphabet Kubernetes draws random names from (no vowels; no 0, 1 or 3). Such names are
#: new every run, so a figure per generated pod never continues a series; the highest pod's
#: figure is the one a trend can follow. (A StatefulSet's ``db-0`` keeps its series.)
GENERATED_POD = re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")
#: A test's name for a user's workload check, the same ``podlife compare`` uses.
WORKLOAD_TEST = "workload {name}: {check}"


def default_path() -> Path:
    return cache_root() / "history" / "runs.jsonl"


def worst(outcomes: Iterable[str]) -> str:
    """The side's outcome: its worst test's, or "not run" when it has none."""
    seen = set(outcomes)
    ranked = [o for o in OUTCOMES if o in seen]
    return ranked[0] if ranked else NOT_RUN


def flatten(measurements: dict[str, Any]) -> dict[str, float]:
    """A test's measurements as one number per name, for tables and trends.

    Nested figures get dotted names (``inferred_policy.factor``); list items get their restart
    number or their position (``restart_delays[2].delay_s``, ``restart_delays_s[1]``); figures
    per generated pod name their highest pod (``GENERATED_POD``). Records listed by position
    alone (OP-01's ``starts``, one per pod started) are a check's raw samples: their positions
    mean nothing from run to run, and the check's fitted figures stand for them. Strings,
    booleans and declared expectations are left out. The error of a kill at the grace
    period is derived where a test measured the kill and declared the grace period it waited on.
    """
    flat: dict[str, float] = {}

    def visit(name: str, value: Any) -> None:
        if isinstance(value, bool) or name.rsplit(".", 1)[-1] in EXPECTATIONS:
            return
        if isinstance(value, (int, float)):
            flat[name] = value
        elif isinstance(value, dict) and value and all(GENERATED_POD.search(str(key)) for key in value):
            numbers = [v for v in value.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numbers:
                flat[name] = max(numbers)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(f"{name}.{key}", item)
        elif isinstance(value, list):
            for position, item in enumerate(value, 1):
                if not isinstance(item, dict):
                    visit(f"{name}[{position}]", item)
                elif "restart" in item:
                    visit(f"{name}[{item['restart']}]", {k: v for k, v in item.items() if k != "restart"})

    for key, value in measurements.items():
        visit(key, value)
    grace = (measurements.get(TIMERS) or {}).get("grace")
    if "kill_delay_s" in flat and isinstance(grace, (int, float)):
        flat["kill_at_grace_error_s"] = round(flat["kill_delay_s"] - grace, 3)
    return flat


def tests_of(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every test of a run once, by name: its claims, kind, outcome and measurements."""
    found: dict[str, dict[str, Any]] = {}
    for claim, entry in summary["claims"].items():
        for test in entry["tests"]:
            known = found.setdefault(test["test"], {**test, "claims": []})
            known["claims"].append(claim)
    for name, card in (summary.get("workloads") or {}).items():
        for check, result in card["checks"].items():
            found[WORKLOAD_TEST.format(name=name, check=check)] = {**result, "kind": "check", "claims": [], "workload": name}
    return found


def run_key(summary_text: str) -> str:
    """Names a run by its summary's content, so reporting the same run twice records it once."""
    return hashlib.sha256(summary_text.encode()).hexdigest()[:16]


def entry(summary: dict[str, Any], key: str, at: datetime) -> dict[str, Any]:
    """The run as one history line: when, on what cluster, each claim's sides, each check's figures.

    A control's figures are left out, as ``podlife compare`` leaves them: it provokes the failure
    on purpose, and how much of it a run sees depends on timing, not on the cluster.
    """
    tests = tests_of(summary)
    claims = {}
    for claim, item in summary["claims"].items():
        sides = {kind: worst(t["outcome"] for t in item["tests"] if t["kind"] == kind) for kind in ("check", "control")}
        claims[claim] = {**sides, "covered": bool(item.get("covered"))}
    cluster = summary.get("cluster") or {}
    return {
        "run": key,
        "at": at.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "cluster": {k: cluster.get(k) for k in ("provider", "version", "nodes")},
        "claims": claims,
        "tests": {name: {"claims": t["claims"], "outcome": t["outcome"],
                         **({"values": values} if (values := flatten(t.get("measurements") or {})) else {})}
                  for name, t in tests.items() if t["kind"] != "control"},
    }


@dataclass(frozen=True)
class History:
    """The runs read from a history file, oldest first, and how many lines could not be read."""

    runs: list[dict[str, Any]]
    unreadable: int = 0


def load(path: Path) -> History:
    """The history at ``path``; a line that is not a run (a write cut short) is skipped and counted."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return History([])
    runs, unreadable = [], 0
    for line in filter(str.strip, lines):
        try:
            run = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        if isinstance(run, dict) and isinstance(run.get("claims"), dict) and isinstance(run.get("tests"), dict):
            runs.append(run)
        else:
            unreadable += 1
    return History(runs, unreadable)


def with_run(history: History, run: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The runs including ``run``, and whether it is new (a run already kept is not kept twice)."""
    if any(r.get("run") == run["run"] for r in history.runs):
        return history.runs, False
    return [*history.runs, run], True


def append(path: Path, run: dict[str, Any]) -> None:
    """Add the run as one line, in one write: two reports appending at once cannot interleave it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(run, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Point:
    at: str
    value: float


def series(runs: list[dict[str, Any]], limit: int) -> dict[tuple[str, str], list[Point]]:
    """Per (test, measurement), its values in the last ``limit`` runs that measured it, oldest first."""
    found: dict[tuple[str, str], list[Point]] = {}
    for run in runs:
        for test, result in run["tests"].items():
            for name, value in (result.get("values") or {}).items():
                found.setdefault((test, name), []).append(Point(run["at"], value))
    return {key: points[-limit:] for key, points in found.items()}


def outcomes(runs: list[dict[str, Any]], limit: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per claim, its sides in the last ``limit`` runs that ran it, oldest first."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for run in runs:
        for claim, sides in run["claims"].items():
            found.setdefault(claim, []).append((run["at"], sides))
    return {claim: points[-limit:] for claim, points in found.items()}
