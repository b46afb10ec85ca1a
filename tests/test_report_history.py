"""The history of runs: measurements flattened, a run's line, appending, and the trend series."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podlife.report.history import (
    History,
    append,
    entry,
    flatten,
    load,
    outcomes,
    run_key,
    series,
    with_run,
    worst,
)
from tests.report_samples import summary

AT = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


def run(key: str, day: int, **figures: Any) -> dict[str, Any]:
    return entry(summary(**figures), key, AT.replace(day=day))


def test_worst_outcome_ranks_failures_first_and_not_run_last() -> None:
    assert worst(iter(["passed", "inconclusive", "skipped"])) == "inconclusive"
    assert worst(["passed", "failed", "error"]) == "failed"
    assert worst(["skipped", "passed"]) == "passed"
    assert worst([]) == "not run"


def test_flatten_names_nested_listed_and_per_pod_figures() -> None:
    measured = {
        "requests": 500, "failed_requests": 0, "healthy": True, "deletion": "graceful",
        "endpoint_removal_lag_s": {"web-65575744fb-hhcjs": 0.8, "web-65575744fb-f8dvl": 1.4},
        "requests_served_after_deletion_started": {"web-7f7c896777-gmmf5": 18, "web-dff7784dc-t9ph9": 30},
        "served_by_member": {"db-0": 40, "db-1": 35},
        "inferred_policy": {"initial_s": 10.2, "factor": 2.0, "cap_s": None},
        "restart_delays": [{"restart": 2, "delay_s": 20.5, "expected_s": 20.0, "allowed_s": [15.0, 31.0]}],
        "restart_delays_s": [10.1, 20.2],
        "starts": [{"pod": "r0-5mb", "seconds": 0.8}, {"pod": "r0-50mb", "seconds": 1.4}],
        "expected_policy": {"initial_s": 10.0, "source": "kubelet configz of n"},
        "kubernetes_timers_s": {"grace": 30.0}, "kill_delay_s": 29.6,
        "advice": ["no readiness probe (RQ-01)"],
    }
    assert flatten(measured) == {
        "requests": 500, "failed_requests": 0, "endpoint_removal_lag_s": 1.4,
        "requests_served_after_deletion_started": 30, "served_by_member.db-0": 40, "served_by_member.db-1": 35,
        "inferred_policy.initial_s": 10.2, "inferred_policy.factor": 2.0,
        "restart_delays[2].delay_s": 20.5, "restart_delays_s[1]": 10.1, "restart_delays_s[2]": 20.2,
        "kill_delay_s": 29.6, "kill_at_grace_error_s": -0.4,
    }


def test_entry_keeps_claim_sides_and_check_figures_not_controls() -> None:
    line = run("a", 1, lag=1.2, lost=0)
    assert line["at"] == "2026-11-01T02:00:00+00:00" and line["run"] == "a"
    assert line["cluster"] == {"provider": "local", "version": "v1.37.2", "nodes": 1}
    assert line["claims"]["RQ-03"] == {"check": "passed", "control": "passed", "covered": True}
    assert line["claims"]["SD-03"] == {"check": "passed", "control": "inconclusive", "covered": False}
    tests = line["tests"]
    assert not any("without_pre_stop" in name for name in tests)  # the control
    rq03 = next(t for name, t in tests.items() if "with_pre_stop" in name)
    assert rq03["claims"] == ["RQ-03"] and rq03["values"]["failed_requests"] == 0
    assert tests["workload web: rolling_update_loses_no_request"]["values"] == {"requests": 400, "failed_requests": 3}
    assert "values" not in tests["scenarios/test_extra.py::test_new_claim"]


def test_run_key_names_the_content() -> None:
    assert run_key("{}") == run_key("{}") != run_key('{"claims": {}}')


def test_append_and_load_round_trip_and_skip_unreadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "runs.jsonl"
    assert load(path) == History([])
    append(path, run("a", 1))
    with path.open("a") as file:
        file.write('{"run": "cut sh\n[1, 2]\n')
    append(path, run("b", 2))
    history = load(path)
    assert [r["run"] for r in history.runs] == ["a", "b"] and history.unreadable == 2
    assert path.read_text().count("\n") == 4  # one line per run, each in one write


def test_a_run_already_kept_is_not_kept_twice() -> None:
    history = History([run("a", 1)])
    runs, new = with_run(history, run("a", 1))
    assert not new and len(runs) == 1
    runs, new = with_run(history, run("b", 2))
    assert new and [r["run"] for r in runs] == ["a", "b"]


def test_two_consecutive_runs_give_each_measurement_a_second_point() -> None:
    runs = [run("a", 1, lag=1.2, lost=0, kill=31.4), run("b", 2, lag=1.9, lost=2, kill=32.2)]
    trends = series(runs, limit=12)
    first = series(runs[:1], limit=12)
    assert set(trends) == set(first) and trends  # the same measurements, each now with two points
    assert all(len(points) == 2 for points in trends.values())
    lag = next(points for (test, name), points in trends.items() if name == "endpoint_removal_lag_s")
    assert [p.value for p in lag] == [1.2, 1.9] and lag[0].at < lag[1].at
    kill = next(points for (test, name), points in trends.items() if name == "kill_at_grace_error_s")
    assert [round(p.value, 3) for p in kill] == [1.4, 2.2]
    lost = [p.value for (test, name), p2 in trends.items() if name == "failed_requests" and "workload" not in test for p in p2]
    assert lost == [0, 2]


def test_series_and_outcomes_keep_the_last_runs_only() -> None:
    runs = [run(str(day), day, lag=float(day)) for day in range(1, 6)]
    lag = next(points for (test, name), points in series(runs, limit=3).items() if name == "endpoint_removal_lag_s")
    assert [p.value for p in lag] == [3.0, 4.0, 5.0]
    rq03 = outcomes(runs, limit=2)["RQ-03"]
    assert [at for at, _ in rq03] == [runs[3]["at"], runs[4]["at"]] and rq03[0][1]["covered"]

