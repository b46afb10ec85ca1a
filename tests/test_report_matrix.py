"""The claim catalog's parsing, the claims matrix's rows, the scorecard and the report's environment."""

from __future__ import annotations

from pathlib import Path

from podlife.report.catalog import load, packaged, parse
from podlife.report.matrix import counts, environment, rows, scorecard
from podlife.report.summary import allure_labels
from tests.report_samples import CLUSTER, summary

CATALOG = """# The claim catalog

Intro text with **bold** words that is not a claim.

## LC — Pod lifecycle
- **LC-04** A container that keeps crashing is restarted with exponential back-off:
  10 s, 20 s, 40 s, … capped at 5 minutes.
- **LC-05** The back-off resets once a container has run successfully for 10 minutes.

## SD — Pod shutdown
- **SD-03** The grace period is set per pod by `terminationGracePeriodSeconds`.

## RQ — Every client request handled
- **RQ-03** A delay before shutdown lets in-flight requests finish.
- **RQ-04** Not run anywhere.
"""


def test_catalog_reads_categories_claims_and_wrapped_text() -> None:
    catalog = parse(CATALOG)
    assert catalog.categories == {"LC": "Pod lifecycle", "SD": "Pod shutdown", "RQ": "Every client request handled"}
    assert list(catalog.claims) == ["LC-04", "LC-05", "SD-03", "RQ-03", "RQ-04"]
    assert catalog.claims["LC-04"].text == ("A container that keeps crashing is restarted with exponential back-off: "
                                            "10 s, 20 s, 40 s, … capped at 5 minutes.")
    assert catalog.claims["SD-03"].category == "SD"


def test_the_packaged_catalog_parses_whole() -> None:
    """The catalog podlife ships, the report's default: every claim of every category, with its text."""
    with packaged() as path:
        catalog = load(path)
    assert catalog is not None
    assert catalog.categories == {"LC": "Pod lifecycle", "SD": "Pod shutdown", "RQ": "Every client request handled",
                                  "OP": "Easier to run and manage", "ND": "Nodes come and go"}
    assert list(catalog.claims) == ([f"LC-{n:02}" for n in range(1, 16)] + [f"SD-{n:02}" for n in range(1, 7)]
                                    + [f"RQ-{n:02}" for n in range(1, 5)] + [f"OP-{n:02}" for n in range(1, 7)]
                                    + [f"ND-{n:02}" for n in range(1, 5)])
    assert catalog.claims["ND-01"].text.startswith("A drain evicts") and "source notes" not in catalog.claims["OP-06"].text
    assert all(c.text for c in catalog.claims.values())


def test_the_docs_catalog_is_the_packaged_one() -> None:
    """``docs/claims.md`` is where people read the catalog; it must not drift from the one podlife reads."""
    with packaged() as path:
        shipped = path.read_text(encoding="utf-8")
    assert (Path(__file__).resolve().parents[1] / "docs" / "claims.md").read_text(encoding="utf-8") == shipped


def test_a_missing_catalog_is_none(tmp_path: Path) -> None:
    assert load(tmp_path / "claims.md") is None
    assert load(tmp_path) is None


def test_rows_follow_the_catalog_then_list_claims_it_does_not_name() -> None:
    matrix = rows(summary(), parse(CATALOG))
    assert [r.claim for r in matrix] == ["LC-04", "LC-05", "SD-03", "RQ-03", "RQ-04", "XX-99"]
    by = {r.claim: r for r in matrix}
    assert by["RQ-03"].covered and by["RQ-03"].check.outcome == "passed" and by["RQ-03"].control.outcome == "passed"
    assert by["SD-03"].check.outcome == "passed" and by["SD-03"].control.outcome == "inconclusive"
    assert by["LC-04"].check.outcome == "failed" and by["LC-04"].control.outcome == "not run"
    assert by["LC-05"].check.outcome == "not run" and not by["LC-05"].check.tests
    assert by["XX-99"].text is None and by["XX-99"].check.outcome == "skipped"


def test_rows_measure_checks_only_as_ranges() -> None:
    by = {r.claim: r for r in rows(summary(lag=1.2, lost=0), parse(CATALOG))}
    # The control lost 37 requests on purpose; its figures are not the claim's measurements.
    assert by["RQ-03"].measurements == {"endpoint_removal_lag_s": (1.2, 1.2), "failed_requests": (0, 0), "requests": (500, 500)}
    assert by["SD-03"].measurements["kill_at_grace_error_s"] == (1.4, 1.4)
    assert by["LC-04"].measurements["restart_delays[2].delay_s"] == (20.6, 20.6)


def test_without_a_catalog_the_rows_are_the_claims_the_run_tested() -> None:
    assert [r.claim for r in rows(summary(), None)] == ["LC-04", "RQ-03", "SD-03", "XX-99"]


def test_a_side_is_its_worst_test() -> None:
    run = summary()
    run["claims"]["RQ-03"]["tests"].append({**run["claims"]["RQ-03"]["tests"][0], "test": "other", "outcome": "error"})
    row = {r.claim: r for r in rows(run, None)}["RQ-03"]
    assert row.check.outcome == "error" and len(row.check.tests) == 2


def test_counts() -> None:
    assert counts(rows(summary(), parse(CATALOG))) == {"claims": 6, "covered": 1, "failing": 1, "not run": 2}


def test_scorecard_lists_each_workload_check_with_finding_figures_and_advice() -> None:
    cards = scorecard(summary())
    passed, checks = cards["web"]
    assert not passed
    assert checks[0].name == "rolling update loses no request" and checks[0].outcome == "failed"
    assert checks[0].detail == "3 requests lost to pods shutting down"
    assert checks[0].measurements == {"requests": 400, "failed_requests": 3}
    assert checks[0].advice == ("no readiness probe (RQ-01)",)
    assert scorecard(summary(workload=False)) == {}


def test_environment_names_the_cluster_its_gates_and_back_off_with_its_source() -> None:
    assert environment(CLUSTER) == [
        ("provider", "local"), ("version", "v1.37.2"), ("nodes", "1"),
        ("feature gates", "ReduceDefaultCrashLoopBackOffDecay=False"), ("back-off", "initial 10.0s, cap 300.0s"),
        ("back-off from", "kubelet configz of podlife-node")]
    namespaced = {"provider": "existing", "version": "v1.36.3", "nodes": None,
                  "backoff": "unknown (namespace-scoped mode lists no nodes)"}
    assert environment(namespaced) == [("provider", "existing"), ("version", "v1.36.3"), ("nodes", "not visible"),
                                       ("back-off", "unknown (namespace-scoped mode lists no nodes)")]
    assert environment(None) == [("cluster", "unknown (the run recorded no cluster facts)")]


def test_allure_labels_file_tests_by_category_claim_and_kind() -> None:
    assert allure_labels(["LC-12", "SD-01", "SD-02"], "check", None) == [
        ("epic", "LC"), ("epic", "SD"), ("parentSuite", "LC"), ("feature", "LC-12"), ("feature", "SD-01"),
        ("feature", "SD-02"), ("story", "check"), ("tag", "LC-12"), ("tag", "SD-01"), ("tag", "SD-02"), ("tag", "check")]
    assert allure_labels(["RQ-03"], "control", None)[-2:] == [("story", "control"), ("tag", "RQ-03")]
    assert allure_labels(["LC-04", "LC-06"], "check", ("web (podlife-workload.yaml)", "crashed_container_restarts")) == [
        ("epic", "workload"), ("parentSuite", "workload"), ("feature", "workload web (podlife-workload.yaml)"),
        ("story", "crashed container restarts"), ("tag", "LC-04"), ("tag", "LC-06"), ("tag", "check")]
    assert allure_labels([], "check", None) == []
