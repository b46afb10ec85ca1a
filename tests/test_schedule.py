"""The nightly profile's scheduling: slow tests longest first, the longest each on an xdist worker of its own."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

from podlife.schedule import pytest_xdist_make_scheduler

pytest_plugins = ["pytester"]

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

#: Tests in the order they are written, each recording the xdist worker that ran it.
TESTS = '''
import json, os, pytest

def record(name):
    with open("ran.jsonl", "a") as out:
        out.write(json.dumps([name, os.environ.get("PYTEST_XDIST_WORKER", "-")]) + "\\n")

def test_quick_first(): record("quick_first")

@pytest.mark.slow(seconds=450)
def test_waits_450(): record("waits_450")

@pytest.mark.slow(seconds=910)
def test_waits_910(): record("waits_910")

@pytest.mark.slow(seconds=655)
def test_waits_655(): record("waits_655")

@pytest.mark.slow
def test_waits_unknown(): record("waits_unknown")

@pytest.mark.slow(seconds=14)
def test_waits_14(): record("waits_14")

def test_quick_last(): record("quick_last")
'''
#: podlife's own plugin stays out of these runs: under xdist it would provision a cluster.
ARGS = ("-p", "podlife.schedule", "-p", "no:podlife", "-p", "no:cacheprovider", "-o", "addopts=",
        "-o", "markers=slow(seconds): test")


def test_slow_tests_are_collected_longest_first_and_the_others_keep_their_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_waits=TESTS)
    result = pytester.runpytest(*ARGS, "--collect-only", "-q")
    assert [line.split("::")[1] for line in result.outlines if "::" in line] == [
        "test_waits_unknown", "test_waits_910", "test_waits_655", "test_waits_450", "test_waits_14",
        "test_quick_first", "test_quick_last"]


@pytest.mark.parametrize("marker", ["slow(600)", "slow(seconds=-1)", "slow(seconds='ten minutes')", "slow(minutes=10)"])
def test_a_malformed_slow_marker_warns_and_is_scheduled_as_unknown(pytester: pytest.Pytester, marker: str) -> None:
    pytester.makepyfile(test_bad=f"import pytest\n\ndef test_quick(): pass\n\n@pytest.mark.{marker}\ndef test_bad(): pass\n")
    result = pytester.runpytest(*ARGS, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_bad.py::test_bad", "*test_bad.py::test_quick",
                                 "*@pytest.mark.slow takes only seconds=N, a positive number*unknown length*"])


def test_the_longest_tests_start_on_workers_of_their_own(pytester: pytest.Pytester) -> None:
    """Under ``-n 3`` the three longest go one to each worker (``--dist load`` sent the first two tests to one)."""
    pytester.makepyfile(test_waits=TESTS)
    result = pytester.runpytest_subprocess(*ARGS, "-n", "3")
    result.assert_outcomes(passed=7)
    worker = dict(json.loads(line) for line in (pytester.path / "ran.jsonl").read_text().splitlines())
    assert len({worker["waits_unknown"], worker["waits_910"], worker["waits_655"]}) == 3, worker


def test_only_the_default_distribution_is_replaced(pytester: pytest.Pytester) -> None:
    load = pytester.parseconfig("--tx", "2*popen", "--dist", "load")
    assert isinstance(pytest_xdist_make_scheduler(load, Producer("test")), LoadGroupScheduling)
    worksteal = pytester.parseconfig("--tx", "2*popen", "--dist", "worksteal")
    assert pytest_xdist_make_scheduler(worksteal, Producer("test")) is None


def test_every_slow_scenario_declares_its_seconds() -> None:
    """The order of the nightly profile rests on each slow scenario's ``seconds``: a bare ``slow`` would go first."""
    bare = []
    for path in sorted(SCENARIOS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                bare += [f"{path.name}::{node.name}" for d in node.decorator_list if ast.unparse(d) == "pytest.mark.slow"]
    assert not bare, f"slow scenarios without @pytest.mark.slow(seconds=N): {bare}"
