"""A small run for the report's tests: a summary and Allure results as a podlife run writes them.

Shaped after real runs' files (``reports/summary.json`` of the suite, allure-pytest's result
files); the figures are parameters, so two "runs" can differ and show a trend.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from podlife.report.summary import allure_labels

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


#: podlife's own tests as they land in a run's results (the README's ``pytest`` runs ``tests`` with
#: the scenarios): one with a URL in its parameters, text and fixture; one filed under "XX-01" the
#: way the labels of a pytest run inside it reached it before they were kept to their own session.
OWN_TESTS = ["test_window_grows_with_jitter_bounded_by_sync", "test_summary_tells_inconclusive_from_failed"]
OWN_URL = "http://127.0.0.1:39211/hostname"


def _attach(results: Path, name: str, text: str, kind: str = "text/plain") -> dict[str, str]:
    source = f"{uuid.uuid4().hex}-attachment.{'svg' if kind == 'image/svg+xml' else 'txt'}"
    (results / source).write_text(text)
    return {"name": name, "source": source, "type": kind}


def _result(results: Path, name: str, status: str, labels: list[tuple[str, str]], **fields: Any) -> str:
    """An allure-pytest result file; its uuid."""
    key = uuid.uuid4().hex
    result = {"uuid": key, "historyId": name, "testCaseId": name, "name": name, "fullName": f"scenarios#{name}",
              "status": status, "stage": "finished", "start": 1_760_000_000_000, "stop": 1_760_000_012_000,
              "labels": [{"name": n, "value": v} for n, v in labels], "attachments": [], **fields,
              **({"statusDetails": {"message": "restart 3 came 2.0s early"}} if status == "failed" else {})}
    (results / f"{key}-result.json").write_text(json.dumps(result))
    return key


def write_run(reports: Path, **figures: Any) -> Path:
    """``reports/summary.json`` and ``reports/allure-results/`` of a run; the results directory.

    The results: RQ-03's check (with a request timeline and a fixture's container) and control,
    LC-04's check, the workload's check (``summary``'s), and ``OWN_TESTS``, none of which the page shows.
    """
    results = reports / "allure-results"
    results.mkdir(parents=True, exist_ok=True)
    (reports / "summary.json").write_text(json.dumps(summary(**figures), indent=2))
    timeline = _attach(results, "request timeline", TIMELINE_SVG, "image/svg+xml")
    rq03 = _result(results, "test_rolling_update_with_pre_stop_loses_nothing", "passed",
                   allure_labels(["RQ-03"], "check", None), attachments=[timeline])
    _result(results, "test_rolling_update_without_pre_stop_loses_requests", "passed",
            [*allure_labels(["RQ-03"], "control", None), ("tag", "control")])
    _result(results, "test_backoff_doubles", "failed", allure_labels(["LC-04"], "check", None))
    _result(results, "test_rolling_update_loses_no_request[web]", "failed",
            allure_labels(["RQ-02", "RQ-03"], "check", ("web (podlife-workload.yaml)", "rolling_update_loses_no_request")))
    own = _result(results, OWN_TESTS[0], "passed", [("parentSuite", "tests"), ("suite", "test_observe_logic")],
                  parameters=[{"name": "server", "value": OWN_URL}], attachments=[_attach(results, "log", f"GET {OWN_URL}")])
    _result(results, OWN_TESTS[1], "passed", allure_labels(["XX-01"], "check", None))
    for children, attachment in (([rq03], "namespace web-1: created"), ([own], f"serving {OWN_URL}")):
        (results / f"{uuid.uuid4().hex}-container.json").write_text(json.dumps(
            {"uuid": uuid.uuid4().hex, "children": children, "befores": [
                {"name": "fixture", "status": "passed", "attachments": [_attach(results, "setup", attachment)]}]}))
    return results
