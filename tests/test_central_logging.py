"""OP-06's pure logic: the verdict over stored lines, the store's answers, the collector's configuration, the staged cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from podlife.cluster.local.cache import staged_build
from podlife.errors import HarnessError, PodlifeError
from podlife.observe.logstore import StoredLine, VictoriaLogs, parse_query_url
from podlife.verdicts.central_logging import Shipped, assert_logs_outlive_the_pod
from podlife.workloads.logging import COLLECTOR, collector_config, numbered_line

NS, POD, CONTAINER = "podlife-t1", "writer", "writer"
WRITTEN = tuple(numbered_line("m", n, 5) for n in range(1, 6))
GONE = 'HTTP 404: Not Found, pods "writer" not found'


def stored(*messages: str, pod: str = POD) -> tuple[StoredLine, ...]:
    return tuple(StoredLine(m, f"2026-12-01T16:00:0{i}Z", NS, pod, CONTAINER) for i, m in enumerate(messages))


def shipped(lines: tuple[StoredLine, ...]) -> Shipped:
    return Shipped(NS, POD, CONTAINER, WRITTEN, GONE, lines)


def test_every_line_once_in_order_with_its_pod_passes() -> None:
    assert_logs_outlive_the_pod(shipped(stored(*WRITTEN)))


def test_lines_of_others_in_the_answer_are_not_held_against_the_pod() -> None:
    assert_logs_outlive_the_pod(shipped(stored("canary", *WRITTEN)))


def test_nothing_stored_names_the_loss_and_the_apis_refusal() -> None:
    with pytest.raises(AssertionError, match=r"5 of the 5 lines podlife-t1/writer \(container writer\) wrote are gone.*"
                                             r'pods "writer" not found.*first missing'):
        assert_logs_outlive_the_pod(shipped(()))


def test_a_missing_line_fails() -> None:
    with pytest.raises(AssertionError, match=r"1 of the 5 lines .*\(first missing: 'm line 003 of 005'\)"):
        assert_logs_outlive_the_pod(shipped(stored(*WRITTEN[:2], *WRITTEN[3:])))


def test_a_line_stored_twice_fails() -> None:
    with pytest.raises(AssertionError, match=r"more than once \(first: 'm line 002 of 005'\)"):
        assert_logs_outlive_the_pod(shipped(stored(*WRITTEN[:2], WRITTEN[1], *WRITTEN[2:])))


def test_lines_out_of_order_fail() -> None:
    with pytest.raises(AssertionError, match=r"out of the order they were written \(first out of place: 'm line 003 of 005'\)"):
        assert_logs_outlive_the_pod(shipped(stored(WRITTEN[0], WRITTEN[2], WRITTEN[1], *WRITTEN[3:])))


def test_lines_without_the_pods_identity_fail() -> None:
    with pytest.raises(AssertionError, match=r"5 of .* stored without that identity .* pod=other"):
        assert_logs_outlive_the_pod(shipped(stored(*WRITTEN, pod="other")))


@pytest.mark.parametrize("value, url", [
    ("victorialogs+http://logs.example:9428", "http://logs.example:9428"),
    ("http://10.0.0.5:9428/", "http://10.0.0.5:9428"),
    ("victorialogs+https://logs.example", "https://logs.example"),
])
def test_log_query_urls(value: str, url: str) -> None:
    assert parse_query_url(value) == url


@pytest.mark.parametrize("value", ["loki+http://loki:3100", "logs.example:9428", "victorialogs+ftp://x", "http://"])
def test_log_query_refuses_what_it_cannot_query_in_one_line(value: str) -> None:
    with pytest.raises(PodlifeError, match=r"^--log-query") as caught:
        parse_query_url(value)
    assert "\n" not in str(caught.value)


class _Answer:
    def __init__(self, status: int, text: str) -> None:
        self.status_code, self.text = status, text


def test_stored_lines_carry_the_identity_under_whichever_name_the_pipeline_used(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [{"_msg": "a", "_time": "t1", "k8s.namespace.name": NS, "k8s.pod.name": POD, "k8s.container.name": CONTAINER},
               {"_msg": "b", "_time": "t2", "kubernetes.namespace_name": NS, "kubernetes.pod_name": POD,
                "kubernetes.container_name": CONTAINER},
               {"_msg": "c", "_time": "t3"}]
    asked: dict[str, Any] = {}

    def answer(method: str, url: str, **kwargs: Any) -> _Answer:
        asked.update(method=method, url=url, **kwargs)
        return _Answer(200, "\n".join(json.dumps(r) for r in records) + "\n")

    monkeypatch.setattr(requests, "request", answer)
    lines = VictoriaLogs("http://store:9428/").lines("podlife-abc")
    assert asked["url"] == "http://store:9428/select/logsql/query"
    assert asked["params"] == {"query": '_time:1h "podlife-abc" | sort by (_time)'}
    assert [(s.message, s.namespace, s.pod, s.container) for s in lines] == [
        ("a", NS, POD, CONTAINER), ("b", NS, POD, CONTAINER), ("c", None, None, None)]


@pytest.mark.parametrize("fault", [requests.ConnectionError("refused"), _Answer(400, "cannot parse query")])
def test_a_store_that_cannot_answer_is_a_harness_problem(monkeypatch: pytest.MonkeyPatch, fault: object) -> None:
    def answer(method: str, url: str, **kwargs: Any) -> object:
        if isinstance(fault, Exception):
            raise fault
        return fault

    monkeypatch.setattr(requests, "request", answer)
    with pytest.raises(HarnessError, match="the log store at http://store:9428"):
        VictoriaLogs("http://store:9428").lines("x")


def test_the_collector_reads_its_namespaces_pods_from_the_beginning_but_not_itself() -> None:
    filelog = collector_config(NS)["receivers"]["filelog"]
    assert filelog["include"] == [f"/var/log/pods/{NS}_*/*/*.log"]
    assert filelog["exclude"] == [f"/var/log/pods/{NS}_{COLLECTOR}-*/*/*.log"]
    assert filelog["start_at"] == "beginning" and filelog["include_file_path"] is True
    assert [op["type"] for op in filelog["operators"]] == ["container"]


def test_a_staged_cache_is_built_once_and_appears_whole(tmp_path: Path) -> None:
    root = tmp_path / "cache" / "thing"
    calls: list[int] = []

    def fill() -> None:
        calls.append(1)
        (root.with_name("thing.partial") / "bin" / "tool").write_text("built")

    def complete() -> bool:
        return (root / "bin" / "tool").exists()

    root.parent.mkdir()
    assert staged_build(root, "a thing", lambda _: None, complete, fill) >= 0
    assert staged_build(root, "a thing", lambda _: None, complete, fill) == 0.0
    assert calls == [1] and (root / "bin" / "tool").read_text() == "built"
    assert (root / "build-seconds").exists() and not root.with_name("thing.partial").exists()


def test_an_interrupted_staged_build_leaves_no_cache_behind(tmp_path: Path) -> None:
    root = tmp_path / "thing"

    def fill() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        staged_build(root, "a thing", lambda _: None, lambda: root.exists(), fill)
    assert not root.exists() and root.with_name("thing.partial").exists()
