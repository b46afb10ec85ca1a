"""``reports/summary.json``: per claim, which tests checked it, how, with what result and figures.

Workers under pytest-xdist only see their own tests, so everything the summary needs travels
on each test report's ``user_properties`` (which xdist ships to the controller), and only the
controller writes the file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import allure
import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.kernel.evidence import Attachment
from podlife.observe.kubelet import backoff_policy, node_configz, unreadable
from podlife.report.drawing import illustrate
from podlife.served import name_of

SUMMARY = Path("reports/summary.json")
#: The measurement naming the Kubernetes timers a test must wait out (``bench/suite.py`` compares wall time with it).
TIMERS = "kubernetes_timers_s"
CLAIMS_KEY, KIND_KEY, MEASURE_KEY, CLUSTER_KEY = "podlife.claims", "podlife.kind", "podlife.measure", "podlife.cluster"
#: Set on a report whose test failed on a ``HarnessError``: the reason, one line.
INCONCLUSIVE_KEY = "podlife.inconclusive"
#: Set on a workload scenario's reports: the workload's name and the check's; and on a failed
#: one, what the verdict found (its assertion message, with the fix it suggests).
#: Lines of a check's finding the scorecard shows: a failure's placement (a header, a line per
#: leaving pod of a three-replica rollout, the fix), not the request list after it.
SCORECARD_LINES = 6
WORKLOAD_KEY, CHECK_KEY, FINDING_KEY = "podlife.workload", "podlife.check", "podlife.finding"


#: How each kind of attachment reaches Allure.
ALLURE_KINDS: dict[Attachment, allure.attachment_type] = {
    "text": allure.attachment_type.TEXT, "csv": allure.attachment_type.CSV, "svg": allure.attachment_type.SVG}


class Evidence:
    """What a test leaves for people: figures for the summary, text and pictures attached to Allure.

    The ``kernel.evidence.EvidenceSink`` every room below the report writes to.
    """

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def measure(self, name: str, value: Any) -> None:
        self._item.user_properties.append((MEASURE_KEY, {name: value}))

    def waits_on(self, **timers: float) -> None:
        """Declare the Kubernetes timers (seconds) this test cannot finish before: back-off, grace periods, ..."""
        self.measure(TIMERS, {name: round(value, 1) for name, value in timers.items()})

    def attach(self, name: str, text: str | Iterable[str], kind: Attachment = "text") -> None:
        if isinstance(text, str):
            allure.attach(text, name=name, attachment_type=ALLURE_KINDS[kind])
            return
        # Written piece by piece to a file Allure copies: the pieces are never one string.
        with tempfile.TemporaryDirectory(prefix="podlife-attachment-") as scratch:
            path = Path(scratch) / "attachment"
            with path.open("w") as out:
                out.writelines(text)
            allure.attach.file(str(path), name=name, attachment_type=ALLURE_KINDS[kind])

    def illustrate(self, observation: object) -> None:
        illustrate(self, observation)


def cluster_facts(handle: ClusterHandle, api: client.ApiClient) -> dict[str, Any]:
    """What the cluster is, for the summary and for comparing two runs (``podlife compare``).

    Besides provider, version and nodes: the feature gates and crash-loop back-off of the first
    node's kubelet (from its configz), which change what LC-04 and LC-05 measure. Where nodes
    may not be listed (namespace-scoped mode) or configz not read, the reason stands instead.
    """
    facts: dict[str, Any] = {"provider": handle.provider, "version": handle.version, "nodes": handle.node_count}
    if handle.node_count is None:
        return {**facts, "backoff": "unknown (namespace-scoped mode lists no nodes)"}
    try:
        node = name_of(client.CoreV1Api(api).list_node(limit=1).items[0])
        config = node_configz(api, node)
    except (client.ApiException, IndexError, KeyError, ValueError) as err:
        return {**facts, "backoff": f"unknown (kubelet configz unreadable: {unreadable(err)})"}
    policy = backoff_policy(config, f"kubelet configz of {node}")
    # The source stands apart from the policy: ``podlife compare`` compares policies, and nodes' names differ.
    return {**facts, "feature_gates": config.get("featureGates") or {},
            "backoff": {"initial_s": policy.initial, "cap_s": policy.cap}, "backoff_source": policy.source}


def cluster_property(facts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return CLUSTER_KEY, facts


#: The category (epic) ``allure_labels`` files users' workload checks under, beside the claims' ``LC``, ``SD``, ...
WORKLOAD = "workload"


def allure_labels(claims: list[str], kind: str, workload: tuple[str, str] | None) -> list[tuple[str, str]]:
    """How the Allure report files a test: by claim, so its trees read as the claim catalog.

    A claim's tests go under their category (epic and parent suite: ``LC``, ``SD``, ``RQ``,
    ``OP``), then each claim (feature), then check or control (story); a user's workload check
    (``workload``: its label and the check's name) under ``workload``, the workload and the
    check, so the Behaviors view reads as the scorecard. Claim IDs and check or control are tags
    too, for the report's filters; a control's tag comes from its marker, which allure-pytest
    makes a tag as it does every marker without arguments. A test with no claim and no workload
    keeps Allure's defaults.
    """
    if workload is not None:
        name, check = workload
        labels = [("epic", WORKLOAD), ("parentSuite", WORKLOAD), ("feature", f"workload {name}"),
                  ("story", check.replace("_", " "))]
    elif claims:
        categories = list(dict.fromkeys(claim.split("-", 1)[0] for claim in claims))
        labels = [*(("epic", c) for c in categories), ("parentSuite", categories[0]),
                  *(("feature", claim) for claim in claims), ("story", kind)]
    else:
        return []
    return labels + [("tag", claim) for claim in claims] + ([("tag", kind)] if kind == "check" else [])


def shown_in_report(labels: list[tuple[str, str]], claims: set[str]) -> bool:
    """Whether ``podlife report``'s page shows the Allure result with these labels: one ``allure_labels``
    filed under a claim of the run's summary (``claims``) or under a user's workload.

    Everything else (podlife's own tests, several hundred, which ``pytest`` runs beside the
    scenarios) says nothing about the cluster. A claim label counts only if the summary counts
    that claim, so the page shows the tests summary.json and the claims page count and no others:
    a label that reached a result some other way (see ``SummaryPlugin.pytest_runtest_setup``)
    files nothing.
    """
    return any((name, value) == ("epic", WORKLOAD) or (name == "feature" and value in claims) for name, value in labels)


def user_app_of(item: pytest.Item) -> Any:
    """The user's workload a workload scenario runs against (its ``user_app`` parameter), else None."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("user_app") if callspec else None


class SummaryPlugin:
    def __init__(self) -> None:
        self.tests: dict[str, dict[str, Any]] = {}
        self.cluster: dict[str, Any] | None = None
        self.workloads: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        claims = [c for m in item.iter_markers("claim") for c in m.args]
        kind = "control" if item.get_closest_marker("control") else "check"
        if claims:
            item.user_properties += [(CLAIMS_KEY, claims), (KIND_KEY, kind)]
        app = user_app_of(item)
        check = getattr(item, "originalname", item.name).removeprefix("test_")
        if app is not None:
            item.user_properties += [(WORKLOAD_KEY, app.workload.name), (CHECK_KEY, check)]
        # Only into this session's own Allure results. allure's calls reach every listener in the
        # process: a session writing none (a pytest run inside a test, as podlife's own tests run
        # scenarios with pytester) would file the test running it under these claims, the
        # category "XX" that its "XX-01" once put on the report's page.
        if item.config.getoption("allure_report_dir", None):
            for name, value in allure_labels(claims, kind, (app.workload.label, check) if app is not None else None):
                allure.dynamic.label(name, value)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties: list[tuple[str, Any]] = report.user_properties  # pytest types the values as object
        props = dict(properties)
        if CLUSTER_KEY in props:
            self.cluster = props[CLUSTER_KEY]
        if CLAIMS_KEY not in props:
            return
        entry = self.tests.setdefault(report.nodeid, {"claims": props[CLAIMS_KEY], "kind": props[KIND_KEY], "outcome": "passed"})
        if WORKLOAD_KEY in props:
            entry.update(workload=props[WORKLOAD_KEY], check=props[CHECK_KEY])
        if FINDING_KEY in props:
            entry["finding"] = props[FINDING_KEY]
        if report.failed and INCONCLUSIVE_KEY in props:
            entry["outcome"] = "inconclusive"
            entry["reason"] = props[INCONCLUSIVE_KEY]
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
        measures = {k: v for key, value in properties if key == MEASURE_KEY for k, v in value.items()}
        if measures:
            entry["measurements"] = measures

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput") or not self.tests:
            return
        claims: dict[str, list[dict[str, Any]]] = {}
        workloads: dict[str, dict[str, Any]] = {}
        for nodeid, entry in sorted(self.tests.items()):
            if "workload" in entry:  # a user's app: its scorecard, not evidence about the cluster's claims
                checks = workloads.setdefault(entry["workload"], {"passed": True, "checks": {}})
                checks["checks"][entry["check"]] = {"test": nodeid, **{k: v for k, v in entry.items()
                                                                       if k not in ("workload", "check", "kind")}}
                checks["passed"] = checks["passed"] and entry["outcome"] in ("passed", "skipped")
                continue
            for claim in entry["claims"]:
                claims.setdefault(claim, []).append({"test": nodeid, **{k: v for k, v in entry.items() if k != "claims"}})
        path = Path(session.config.rootpath) / session.config.getoption("podlife_summary")
        earlier: dict[str, Any] = {}
        if session.config.getoption("podlife_summary_append") and path.exists():
            earlier = json.loads(path.read_text())
            claims = merged_claims(earlier.get("claims", {}), claims)
            workloads = {**earlier.get("workloads", {}), **workloads}
        summary = {
            "cluster": self.cluster,
            **({"clusters": [*earlier.get("clusters", [earlier["cluster"]]), self.cluster]} if earlier else {}),
            "claims": {
                claim: {
                    "covered": any(t["kind"] == "check" and t["outcome"] == "passed" for t in tests)
                    and any(t["kind"] == "control" and t["outcome"] == "passed" for t in tests),
                    "tests": tests,
                }
                for claim, tests in sorted(claims.items())
            },
            **({"workloads": workloads} if workloads else {}),
        }
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(summary, indent=2) + "\n")
        self.workloads = workloads

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The workload scorecard, where a person reads the end of the run."""
        if not self.workloads:
            return
        terminalreporter.section("podlife workload scorecard")
        for name, card in self.workloads.items():
            terminalreporter.write_line(f"{name}: {'passed' if card['passed'] else 'FAILED'}")
            for check, entry in card["checks"].items():
                terminalreporter.write_line(f"  {entry['outcome']:<12} {check.replace('_', ' ')}")
                detail = entry.get("finding") or entry.get("reason")
                for line in (detail or "").splitlines()[:SCORECARD_LINES]:
                    terminalreporter.write_line(f"               {line}")
                for advice in entry.get("measurements", {}).get("advice", []):
                    terminalreporter.write_line(f"               advice: {advice}")


def merged_claims(earlier: dict[str, Any], now: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The tests of an earlier session's claims with this session's: a test run again replaces its earlier entry."""
    merged = {claim: [t for t in entry.get("tests", [])] for claim, entry in earlier.items()}
    for claim, tests in now.items():
        again = {t["test"] for t in tests}
        merged[claim] = [t for t in merged.get(claim, []) if t["test"] not in again] + tests
    return merged
