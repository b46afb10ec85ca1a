"""A small run for the report's tests: a summary and Allure results as a podlife run writes them.

Shaped after real runs' files (``reports/summary.json`` of the suite, allure-pytest's result
files); the figures are parameters, so two "runs" can differ and show a trend.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

CLUSTER = {"provider": "local", "version": "v1.37.2", "nodes": 1,
           "feature_gates": {"ReduceDefaultCrashLoopBackOffDecay": False},
           "backoff": {"initial_s": 10.0, "cap_s": 300.0}, "backoff_source": "kubelet configz of podlife-node"}
TIMELINE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="120" id="podlife-sample-timeline">'
                '<rect width="480" height="120" fill="#eef"/><text x="12" y="64" font-size="16">'
                'request timeline web-1 web-2</text></svg>')


def summary(lag: float = 1.2, lost: int = 0, kill: float = 31.4, delays: tuple[float, ...] = (10.4, 20.6, 40.9),
            workload: bool = True) -> dict[str, Any]:
    """A run: RQ-03 covered (a check with traffic figures and its control), SD-03 checked with its
    kill at the grace period but its control inconclusive, LC-04's back-off checked and failing,
    a claim outside the catalog, and (``workload``) one user's workload on the scorecard."""
    rq03 = "scenarios/test_rq02_rq03_shutdown_delay.py::test_rolling_update_with_pre_stop_loses_nothing"
    return {
        "cluster": CLUSTER,
        "claims": {
            "RQ-03": {"covered": True, "tests": [
                {"test": rq03, "kind": "check", "outcome": "passed",
                 "measurements": {"requests": 500, "failed_requests": lost,
                                  "endpoint_removal_lag_s": {"web-7d9fb-bcdfg": lag, "web-7d9fb-hjklm": lag / 2}}},
                {"test": rq03.replace("with_pre_stop_loses_nothing", "without_pre_stop_loses_requests"),
                 "kind": "control", "outcome": "passed", "measurements": {"requests": 500, "failed_requests": 37}},
            ]},
            "SD-03": {"covered": False, "tests": [
                {"test": "scenarios/test_sd_shutdown_sequence.py::test_sigterm_ignored_is_killed_at_grace",
                 "kind": "check", "outcome": "passed",
                 "measurements": {"kubernetes_timers_s": {"grace": 30.0}, "kill_delay_s": kill}},
                {"test": "scenarios/test_sd_shutdown_sequence.py::test_control_short_grace", "kind": "control",
                 "outcome": "inconclusive", "reason": "timed out after 60s waiting for the pod to run"},
            ]},
            "LC-04": {"covered": False, "tests": [
                {"test": "scenarios/test_lc04_lc05_lc06_crash_loop.py::test_backoff_doubles", "kind": "check",
                 "outcome": "failed", "finding": "restart 3 came 2.0s early",
                 "measurements": {"expected_policy": {"initial_s": 10.0, "factor": 2.0, "cap_s": 300.0, "source": "x"},
                                  "restart_delays": [{"restart": i, "delay_s": d, "expected_s": 10.0 * 2 ** (i - 1),
                                                      "allowed_s": [1.0, 2.0]} for i, d in enumerate(delays, 1)]}},
            ]},
            "XX-99": {"covered": False, "tests": [
                {"test": "scenarios/test_extra.py::test_new_claim", "kind": "check", "outcome": "skipped"}]},
        },
        **({"workloads": {"web": {"passed": False, "checks": {
            "rolling_update_loses_no_request": {
                "test": "scenarios/test_workload.py::test_rolling_update_loses_no_request[web]",
                "outcome": "failed", "finding": "3 requests lost to pods shutting down\nfix: preStop",
                "measurements": {"requests": 400, "failed_requests": 3, "advice": ["no readiness probe (RQ-01)"]}},
        }}}} if workload else {}),
    }


def write_run(reports: Path, **figures: Any) -> Path:
    """``reports/summary.json`` and ``reports/allure-results/`` of a run; the results directory."""
    results = reports / "allure-results"
    results.mkdir(parents=True, exist_ok=True)
    (reports / "summary.json").write_text(json.dumps(summary(**figures), indent=2))
    tests = [
        ("test_rolling_update_with_pre_stop_loses_nothing", "passed", ["RQ-03"], "check", True),
        ("test_rolling_update_without_pre_stop_loses_requests", "passed", ["RQ-03"], "control", False),
        ("test_backoff_doubles", "failed", ["LC-04"], "check", False),
    ]
    for name, status, claims, kind, timeline in tests:
        key = uuid.uuid4().hex
        attachments = []
        if timeline:
            (results / f"{key}-attachment.svg").write_text(TIMELINE_SVG)
            attachments.append({"name": "request timeline", "source": f"{key}-attachment.svg", "type": "image/svg+xml"})
        categories = sorted({c.split("-")[0] for c in claims})
        labels = ([{"name": "epic", "value": c} for c in categories] + [{"name": "parentSuite", "value": categories[0]}]
                  + [{"name": "feature", "value": c} for c in claims] + [{"name": "story", "value": kind}]
                  + [{"name": "tag", "value": v} for v in [*claims, kind]])
        result = {"uuid": key, "historyId": name, "testCaseId": name, "name": name, "fullName": f"scenarios#{name}",
                  "status": status, "stage": "finished", "start": 1_760_000_000_000, "stop": 1_760_000_012_000,
                  "labels": labels, "attachments": attachments,
                  **({"statusDetails": {"message": "restart 3 came 2.0s early"}} if status == "failed" else {})}
        (results / f"{key}-result.json").write_text(json.dumps(result))
    return results
