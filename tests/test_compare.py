"""``podlife compare``: verdict flips, measurements within and beyond tolerance, one-sided claims and tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from podlife.cli import main
from podlife.errors import PodlifeError
from podlife.report.compare import compare, load, render

CHECK = "scenarios/test_sd04_grace_override.py::test_delete_grace_period_overrides_the_pods"
CONTROL = "scenarios/test_rq01_readiness.py::test_without_readiness_probe_requests_fail"
BACKOFF = "scenarios/test_lc04_lc05_lc06_crash_loop.py::test_crash_loop_backs_off_exponentially"
POLICY = {"initial_s": 10.0, "factor": 2.0, "cap_s": 300.0, "source": "kubelet configz of node"}


def _test(name: str, kind: str, outcome: str = "passed", **measurements: Any) -> dict[str, Any]:
    return {"test": name, "kind": kind, "outcome": outcome, **({"measurements": measurements} if measurements else {})}


def _run() -> dict[str, Any]:
    """A base run: SD-04 and RQ-01 covered, LC-04's back-off measured."""
    delays = [{"restart": 2, "delay_s": 10.4, "expected_s": 10.0, "allowed_s": [9.0, 19.0]},
              {"restart": 3, "delay_s": 20.3, "expected_s": 20.0, "allowed_s": [19.0, 34.0]}]
    return {
        "cluster": {"provider": "local", "version": "v1.36.4", "nodes": 1, "feature_gates": {},
                    "backoff": {"initial_s": 10.0, "cap_s": 300.0}},
        "claims": {
            "SD-04": {"covered": True, "tests": [_test(CHECK, "check", kill_delay_s=6.2)]},
            "RQ-01": {"covered": True, "tests": [_test(CONTROL, "control", success_ratio=0.4)]},
            "LC-04": {"covered": False, "tests": [_test(BACKOFF, "check", restart_delays=delays, expected_policy=POLICY,
                                                        inferred_policy={"initial_s": 10.4, "factor": 1.95, "cap_s": None})]},
        },
        "workloads": {"web": {"passed": True, "checks": {"pod_shuts_down": {
            "test": "scenarios/test_workload.py::test_pod_shuts_down[web]", "claims": ["SD-02"], "outcome": "passed",
            "measurements": {"shutdown_s": 6.0, "pre_stop": "sleep 5s"}}}}},
    }


def _tests(run: dict[str, Any], claim: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = run["claims"][claim]["tests"]
    return tests


def test_identical_runs_have_no_differences() -> None:
    assert compare(_run(), _run()) == []
    assert render([], "a", "b").endswith("no differences")


def test_a_check_that_passed_and_now_fails_is_a_regression_with_its_finding() -> None:
    new = _run()
    _tests(new, "SD-04")[0].update(outcome="failed", finding="witness was killed 12.0s after the delete\nmore")
    new["claims"]["SD-04"]["covered"] = False
    rows = compare(_run(), new)
    flipped = [r for r in rows if r.section == "verdicts"]
    assert [(r.subject, r.base, r.new, r.regression) for r in flipped] == [(CHECK, "passed", "failed", True)]
    assert flipped[0].note == "witness was killed 12.0s after the delete"
    assert [(r.subject, r.base, r.new) for r in rows if r.section == "claims"] == [("SD-04", "covered", "not covered")]
    assert "REGRESSION" in render(rows, "a", "b")


def test_an_inconclusive_result_is_a_harness_problem_not_a_regression() -> None:
    new = _run()
    _tests(new, "SD-04")[0].update(outcome="inconclusive", reason="the generator fell 0.9 s behind")
    [row] = [r for r in compare(_run(), new) if r.section == "verdicts"]
    assert not row.regression and "harness problem" in row.note and "0.9 s behind" in row.note


def test_a_measurement_within_its_tolerance_is_no_difference() -> None:
    new = _run()
    _tests(new, "SD-04")[0]["measurements"]["kill_delay_s"] = 8.9   # 2.7 s: within the 3 s kill window
    new["workloads"]["web"]["checks"]["pod_shuts_down"]["measurements"]["shutdown_s"] = 7.9
    assert compare(_run(), new) == []


def test_a_measurement_beyond_its_tolerance_is_shown_with_the_tolerance_and_the_cluster_difference() -> None:
    new = _run()
    new["cluster"]["version"] = "v1.37.2"
    _tests(new, "SD-04")[0]["measurements"]["kill_delay_s"] = 9.5
    new["workloads"]["web"]["checks"]["pod_shuts_down"]["measurements"]["shutdown_s"] = 9.0
    rows = compare(_run(), new)
    assert [(r.section, r.subject, r.base, r.new) for r in rows] == [
        ("cluster", "version", "v1.36.4", "v1.37.2"),
        ("measurements", f"{CHECK}: kill_delay_s", 6.2, 9.5),
        ("measurements", "workload web: pod_shuts_down: shutdown_s", 6.0, 9.0),
    ]
    assert all("cluster differs: version v1.36.4 -> v1.37.2" in r.note for r in rows[1:])
    assert "kill window" in rows[1].note and not any(r.regression for r in rows)


def test_a_controls_figures_are_not_compared() -> None:
    """A control provokes the failure; how much of it a run sees is timing (measured: 0.036 and 0.018 on two runs)."""
    new = _run()
    _tests(new, "RQ-01")[0]["measurements"]["success_ratio"] = 0.9
    assert compare(_run(), new) == []


def test_back_off_outside_the_base_window_names_the_policy_that_changed() -> None:
    """A kubelet with ReduceDefaultCrashLoopBackOffDecay: 1 s initial, so restart 2 comes after about a second."""
    new = _run()
    measured = _tests(new, "LC-04")[0]["measurements"]
    measured["restart_delays"] = [{"restart": 2, "delay_s": 1.2, "expected_s": 1.0, "allowed_s": [0.0, 5.5]},
                                  {"restart": 3, "delay_s": 20.9, "expected_s": 2.0, "allowed_s": [1.0, 7.0]}]
    measured["expected_policy"] = {**POLICY, "initial_s": 1.0, "cap_s": 60.0}
    measured["inferred_policy"] = {"initial_s": 1.2, "factor": 1.9, "cap_s": None}
    rows = compare(_run(), new)
    assert [(r.subject.split(": ")[-1], r.base, r.new) for r in rows] == [
        ("inferred_policy.initial_s", 10.4, 1.2), ("restart 2 delay_s", 10.4, 1.2)]
    assert "outside the base run's window 9..19s" in rows[1].note and "back-off policy differs" in rows[1].note


def test_claims_and_tests_of_one_side_only_are_listed() -> None:
    new = _run()
    del new["claims"]["RQ-01"]
    new["claims"]["OP-01"] = {"covered": True, "tests": [_test("scenarios/test_op01.py::test_logs", "check")]}
    rows = compare(_run(), new)
    assert {(r.section, r.subject, r.base, r.new) for r in rows} == {
        ("claims", "OP-01", "absent", "covered"), ("claims", "RQ-01", "covered", "absent"),
        ("tests", "scenarios/test_op01.py::test_logs", "absent", "passed"), ("tests", CONTROL, "passed", "absent"),
    }


def test_a_run_is_read_from_its_report_directory_or_file(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(_run()))
    assert load(tmp_path) == load(tmp_path / "summary.json") == _run()
    with pytest.raises(PodlifeError, match="no such run summary"):
        load(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PodlifeError, match="is not a run summary"):
        load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text("[1]")
    with pytest.raises(PodlifeError, match="it has no claims"):
        load(tmp_path / "other.json")


def test_the_cli_exits_1_on_a_regression_2_on_bad_input_and_files_the_comparison(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    for d in (base, new / "allure-results"):
        d.mkdir(parents=True)
    (base / "summary.json").write_text(json.dumps(_run()))
    failed = copy.deepcopy(_run())
    _tests(failed, "SD-04")[0]["outcome"] = "failed"
    (new / "summary.json").write_text(json.dumps(failed))
    assert main(["compare", str(base), str(new)]) == 1
    assert "REGRESSION" in (new / "compare.txt").read_text()
    [result] = [json.loads(p.read_text()) for p in (new / "allure-results").glob("*-result.json")]
    assert result["status"] == "failed" and result["attachments"][0]["name"] == "comparison"
    assert main(["compare", str(base), str(base / "summary.json")]) == 0
    capsys.readouterr()
    assert main(["compare", str(base), str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
