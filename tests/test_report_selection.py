"""The page of a run shows its claims and users' workloads, not podlife's own tests; and the
claims' labels go only into the Allure results of the session whose tests carry them."""

from __future__ import annotations

import json
from pathlib import Path

import allure_commons
import pytest

from podlife.report.selection import select
from podlife.report.summary import allure_labels, shown_in_report
from tests.report_samples import OWN_TESTS, OWN_URL, write_run

pytest_plugins = ["pytester"]

CLAIMED = '''
import pytest

@pytest.mark.claim("XX-01")
def test_claimed():
    pass
'''


def test_the_page_shows_the_summarys_claims_and_the_workloads() -> None:
    workload = allure_labels(["RQ-03"], "check", ("web (podlife-workload.yaml)", "rolling_update_loses_no_request"))
    assert shown_in_report(allure_labels(["RQ-03"], "check", None), {"RQ-03", "LC-04"})
    assert shown_in_report(workload, set())
    assert not shown_in_report(allure_labels(["XX-01"], "check", None), {"RQ-03"})  # a claim the run did not count
    assert not shown_in_report([("parentSuite", "tests"), ("suite", "test_observe_logic")], {"RQ-03"})


def test_only_the_claims_and_workloads_results_reach_the_generator(tmp_path: Path) -> None:
    results = write_run(tmp_path / "reports")
    before = sorted(p.name for p in results.iterdir())
    selected = select(results, set(json.loads((tmp_path / "reports" / "summary.json").read_text())["claims"]),
                      tmp_path / "page-results")
    assert (selected.shown, selected.left_out) == (4, len(OWN_TESTS))
    shown = [json.loads(p.read_text()) for p in selected.directory.glob("*-result.json")]
    assert sorted(r["name"] for r in shown) == [
        "test_backoff_doubles", "test_rolling_update_loses_no_request[web]",
        "test_rolling_update_with_pre_stop_loses_nothing", "test_rolling_update_without_pre_stop_loses_requests"]
    copied = {p.name: p.read_text() for p in selected.directory.iterdir()}
    assert all(a["source"] in copied for r in shown for a in r["attachments"])
    [container] = [json.loads(text) for name, text in copied.items() if name.endswith("-container.json")]
    assert container["children"] == [r["uuid"] for r in shown if r["attachments"]]
    assert container["befores"][0]["attachments"][0]["source"] in copied
    assert not any(OWN_URL in text or "XX-01" in text for text in copied.values())
    assert sorted(p.name for p in results.iterdir()) == before  # the run's results stay whole


class Labels:
    """Stands in for the Allure listener of a pytest session with a pytest run inside one of its tests."""

    def __init__(self) -> None:
        self.added: list[tuple[object, object]] = []

    @allure_commons.hookimpl
    def add_label(self, label_type: object, labels: object) -> None:
        self.added.append((label_type, labels))


def test_a_pytest_run_inside_a_test_files_nothing_under_its_claims(pytester: pytest.Pytester) -> None:
    """Podlife's own tests run claim-marked tests with pytester; their labels once filed the test
    running them under "XX" on the run's page."""
    outer = Labels()
    allure_commons.plugin_manager.register(outer)
    try:
        pytester.makepyfile(test_claimed=CLAIMED)
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    finally:
        allure_commons.plugin_manager.unregister(outer)
    assert outer.added == []


def test_a_session_writing_allure_results_files_its_tests_under_their_claims(pytester: pytest.Pytester) -> None:
    """In a process of its own, so its labels cannot reach this session's results either."""
    pytester.makepyfile(test_claimed=CLAIMED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--alluredir", "results").assert_outcomes(passed=1)
    [result] = [json.loads(p.read_text()) for p in (pytester.path / "results").glob("*-result.json")]
    labels = [(label["name"], label["value"]) for label in result["labels"]]
    assert set(allure_labels(["XX-01"], "check", None)) <= set(labels)
    assert shown_in_report(labels, {"XX-01"})
