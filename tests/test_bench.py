"""The benchmarks' own logic, without a cluster: arguments, the smoke runs' choices, parsing of what they read.

A benchmark only runs against the local cluster (CI runs each with ``--smoke``); what can be
checked here is that each one imports, parses its arguments, and builds its scene and figures.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from podlife.cluster.base import ClusterHandle
from podlife.kernel.defaults import TEST_LABEL
from podlife.observe.traffic import Ledger, Request
from podlife.report.upgrade_check import DEFAULT_PYTEST_ARGS

BENCH = Path(__file__).resolve().parent.parent / "bench"
BENCHMARKS = ("cluster_start", "suite", "traffic", "upgrade_check")


def bench(name: str) -> ModuleType:
    """A benchmark module, imported as ``python bench/NAME.py`` finds its neighbours: from ``bench/`` itself."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_has_a_smoke_mode(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench(name).main(["--help"])
    assert exit_.value.code == 0
    assert "--smoke" in capsys.readouterr().out


# -- common ----------------------------------------------------------------------------------------


def test_the_one_scene_of_the_benchmarks_is_built_in_a_namespace_deleted_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    common = bench("common")
    deleted = []

    class Janitor:
        def __init__(self, api: object, run_id: str) -> None:
            self.run_id = "run-1"

        def create(self, name: str) -> str:
            return f"podlife-run-1-{name}"

        def delete_all(self, wait: bool) -> None:
            deleted.append(wait)

    handle = ClusterHandle("local", Path("/kubeconfig"), None, "v1.37.2", 1)
    monkeypatch.setattr(ClusterHandle, "api_client", lambda self: "api")
    monkeypatch.setattr(common, "describe", lambda provider, kubeconfig, context: handle)
    monkeypatch.setattr(common, "NamespaceJanitor", Janitor)
    with common.local_scene(SimpleNamespace(layout=SimpleNamespace(kubeconfig=Path("/kubeconfig"))), "bench-x") as scene:
        assert (scene.api, scene.cluster, scene.namespace) == ("api", handle, "podlife-run-1-bench-x")
        assert scene.images.agnhost == "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
        assert scene.labels == {TEST_LABEL: "run-1"}
        assert deleted == []
    assert deleted == [False]


def test_a_benchmarks_evidence_prints_figures_and_drops_attachments(capsys: pytest.CaptureFixture[str]) -> None:
    evidence = bench("common").PrintedEvidence()
    evidence.measure("kill_delay_s", 6.1)
    evidence.waits_on(grace=6)
    evidence.attach("applied: web", "kind: Deployment")
    evidence.illustrate(object())
    assert capsys.readouterr().out == "kill_delay_s: 6.1\nkubernetes_timers_s: {'grace': 6}\n"


def test_benchmark_options_are_not_abbreviated() -> None:
    """``bench/suite.py --s...`` is a pytest option (``--sw``, ``--setup-show``), never ``--smoke``."""
    args, rest = bench("common").bench_parser("doc", "short").parse_known_args(["--sm", "-n", "2"])
    assert not args.smoke and rest == ["--sm", "-n", "2"]


# -- traffic ---------------------------------------------------------------------------------------


def test_the_climb_stops_at_the_first_rate_not_sustained_twice(capsys: pytest.CaptureFixture[str]) -> None:
    traffic = bench("traffic")
    achieved = {100: [99.0], 200: [150.0, 198.0], 400: [300.0, 310.0], 800: [790.0]}
    ran = []

    def run(rate: float) -> Any:
        ran.append(rate)
        return traffic.Step(rate, achieved[int(rate)].pop(0), 0.01)

    assert traffic.rate_of(traffic.climb((100, 200, 400, 800), run)) == 198.0, "200/s failed once, then held"
    assert ran == [100, 200, 200, 400, 400]
    lines = capsys.readouterr().out.splitlines()
    assert "(not sustained)" in lines[1] and "(second run)" in lines[2] and "(not sustained)  (second run)" in lines[4]


def test_a_step_is_not_sustained_when_requests_were_sent_late() -> None:
    traffic = bench("traffic")
    assert traffic.Step(100, 100.0, traffic.SEND_LAG).sustained
    assert not traffic.Step(100, 100.0, traffic.SEND_LAG + 0.01).sustained
    assert not traffic.Step(100, 94.0, 0.0).sustained


def test_a_step_counts_the_healthy_answers_back_by_its_last_scheduled_instant() -> None:
    """As wrk counts answers within its duration: a straggler or a failure costs one answer, not the step's span."""
    ledger = Ledger("http://svc", rate=10)
    ledger.requests = [Request(i, i / 10, i / 10 + 0.02, 0.03, 200, None, "pod") for i in range(10)]
    step = bench("traffic").Step.of(ledger, 10)
    assert step.achieved == pytest.approx(9 / 0.9), "the last one is still on its way at 0.9 s"
    assert step.lag == pytest.approx(0.02)
    ledger.requests[3] = Request(3, 0.3, 0.32, 1.0, 200, None, "pod")
    ledger.requests[5] = Request(5, 0.5, 0.52, 0.03, 503, None, None)
    assert bench("traffic").Step.of(ledger, 10).achieved == pytest.approx(7 / 0.9)


def test_the_kept_alive_comparison_alternates_the_engine_and_wrk_and_takes_medians(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    traffic, ran = bench("traffic"), []
    engine_rates, wrk_rates = [9000.0, 12000.0, 10000.0], [11000.0, 9500.0, 10500.0]

    def engine_step(url: str, rate: float, seconds: float, keepalive: int = 0) -> Any:
        ran.append(("engine", rate, keepalive))
        return traffic.Step(rate, engine_rates.pop(0), 0.005, 25e-6)

    def wrk_rate(url: str, seconds: float, keepalive: bool = False) -> tuple[float, float]:
        ran.append(("wrk", keepalive))
        return wrk_rates.pop(0), 24e-6

    monkeypatch.setattr(traffic, "engine_step", engine_step)
    monkeypatch.setattr(traffic, "wrk_rate", wrk_rate)
    engines, wrks = traffic.saturation("http://svc", 15000, 5.0, 3)
    assert ran == [("engine", 15000, 16), ("wrk", True)] * 3
    assert traffic.median(engines, key=lambda step: step.achieved).achieved == 10000.0
    assert traffic.median(wrks, key=lambda run: run[0]) == (10500.0, 24e-6)
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_wrk_figures_are_read_from_its_output() -> None:
    traffic = bench("traffic")
    assert traffic.wrk_requests_per_second("  Latency  4.1ms\nRequests/sec:   3712.45\nTransfer/sec: 1MB\n") == 3712.45
    with pytest.raises(ValueError, match="no Requests/sec"):
        traffic.wrk_requests_per_second("unable to connect to 10.96.0.10:80 Connection refused")


# -- suite -----------------------------------------------------------------------------------------


def test_the_suite_runs_the_quick_profile_on_two_workers_unless_told_reporting_aside() -> None:
    suite, out = bench("suite"), Path("/scratch")
    reports = ["--junitxml=/scratch/junit.xml", "--podlife-summary=/scratch/summary.json", "--alluredir=/scratch/allure-results"]
    assert suite.pytest_command(False, ["-x"], out)[3:] == [
        *DEFAULT_PYTEST_ARGS, "-q", "-p", "no:cacheprovider", *reports, "-n", "2", "-x"]
    assert suite.pytest_command(True, ["-n", "3"], out)[3:] == [
        *DEFAULT_PYTEST_ARGS, "-k", bench("common").SMOKE_SCENARIO, "-q", "-p", "no:cacheprovider", *reports, "-n", "3"]


def test_the_suite_reads_durations_and_declared_timers(tmp_path: Path) -> None:
    suite = bench("suite")
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="scenarios.test_sd04_grace_override" '
        'name="test_delete_grace_period_overrides_the_pods" time="14.2"/></testsuite></testsuites>')
    nodeid = "scenarios/test_sd04_grace_override.py::test_delete_grace_period_overrides_the_pods"
    (tmp_path / "summary.json").write_text(json.dumps({"claims": {"SD-04": {"tests": [
        {"test": nodeid, "measurements": {"kubernetes_timers_s": {"grace": 6.0}}}]}}}))
    assert suite.durations(tmp_path / "junit.xml") == {nodeid: 14.2}
    assert suite.timers(tmp_path / "summary.json") == {nodeid: 6.0}


# -- upgrade check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["--smoke"], ("compare_runs", ("1.37.2", "1.37.2"), ("1.37.2-again", "1.37.2"),
                   [*DEFAULT_PYTEST_ARGS, "-k", "test_delete_grace_period_overrides_the_pods"])),
    (["--smoke", "--to", "1.36", "--", "-k", "crash_loop"], ("compare_runs", ("1.36.3", "1.36.3"), ("1.36.3-again", "1.36.3"),
                                                            ["--", "-k", "crash_loop"])),
    (["--from", "1.35", "--to", "1.36"], ("upgrade_check", "1.35", "1.36", [])),
])
def test_the_upgrade_check_smoke_compares_one_version_with_itself(monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                                  expected: tuple[Any, ...]) -> None:
    upgrade = bench("upgrade_check")
    calls = []
    monkeypatch.setattr(upgrade, "compare_runs", lambda base, new, args, out, say: calls.append(("compare_runs", base, new, args)))
    monkeypatch.setattr(upgrade, "upgrade_check", lambda a, b, args, out, say: calls.append(("upgrade_check", a, b, args)))
    upgrade.run(upgrade.parse_args(argv), Path("/nowhere"))
    assert calls == [expected]
