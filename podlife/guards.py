"""Per-test guards of the plugin: the time limit, what a failed test leaves, who may run what.

Registered by the plugin when pytest configures it: a hung test ends as inconclusive naming its
wait, a harness problem or a finding is recorded on the report, a test stopped by what the
cluster lacks is a skip, and disruptive, lifecycle and exclusive tests run only where allowed.
"""

from __future__ import annotations

import signal
from typing import Generator, Iterator

import pytest

from podlife.cluster.local.paths import StateLayout, state_root
from podlife.cluster.local.supervisor import Supervisor
from podlife.cluster.providers import active_context
from podlife.errors import HarnessError, NotApplicable, TestOverran
from podlife.provisioning import attached_cluster, cluster_request
from podlife.report.evidence import attach_namespace_evidence
from podlife.report.summary import FINDING_KEY, INCONCLUSIVE_KEY


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test gets its namespace's pod logs and events attached, while they still exist.

    A test stopped by ``NotApplicable`` is reported skipped, with its reason.
    """
    report = yield
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(NotApplicable):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")
        return report
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(HarnessError):
        report.user_properties.append((INCONCLUSIVE_KEY, str(call.excinfo.value).splitlines()[0]))
    elif report.failed and call.excinfo is not None and call.excinfo.errisinstance(AssertionError):
        report.user_properties.append((FINDING_KEY, str(call.excinfo.value)[:2000]))
    funcargs = getattr(item, "funcargs", {})
    if report.when == "call" and report.failed and "namespace" in funcargs and "k8s" in funcargs:
        attach_namespace_evidence(funcargs["k8s"], funcargs["namespace"])
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Bound the test's own run: a hung test ends as inconclusive, naming the wait it was stuck in.

    Uses SIGALRM, so only where the test runs in the main thread (always, under pytest and xdist),
    and only for tests on a podlife cluster: other projects' tests in the same environment keep
    their own alarm.
    """
    if "podlife_cluster" not in getattr(item, "fixturenames", ()):
        return (yield)
    limit = item.config.getoption("test_time_limit") * (4 if item.get_closest_marker("slow") else 1)

    def overrun(signum: int, frame: object) -> None:
        raise TestOverran(limit)

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse disruptive scenarios on an existing cluster unless allowed; stop at a dead local component."""
    if item.get_closest_marker("lifecycle") and not item.config.getoption("run_lifecycle"):
        pytest.skip("stops the local cluster: run with --run-lifecycle")
    if item.get_closest_marker("nodes") and not item.config.getoption("run_nodes"):
        pytest.skip("drains, stops or cuts off a whole node, taking every pod on it: run alone with "
                    "pytest -m nodes --run-nodes --nodes 3")
    if item.get_closest_marker("exclusive") and not item.config.getoption("run_exclusive"):
        pytest.skip("loads the machine as a whole test run does (it would starve the traffic of tests beside it): "
                    "run alone with --run-exclusive")
    handle = attached_cluster(item.config)
    if handle is not None and handle.on_this_host and "podlife_cluster" in getattr(item, "fixturenames", ()):
        Supervisor(StateLayout(state_root())).check_alive()
    if item.get_closest_marker("disruptive") is None or item.config.getoption("cluster") != "existing":
        return
    allowed = item.config.getoption("allow_disruptive")
    context = active_context(cluster_request(item.config))
    if allowed != context:
        pytest.skip(f"disruptive scenario refused on existing context {context!r}: pass --allow-disruptive={context}")
