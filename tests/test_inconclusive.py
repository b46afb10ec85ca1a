"""A harness problem is reported as inconclusive, never as a violated claim, and never satisfies a control."""

from __future__ import annotations

import json

import pytest

from podlife.errors import ExecFailed, GeneratorLag, TestOverran, WaitTimeout
from podlife.observe.traffic import MAX_SEND_LAG, Ledger, Request
from podlife.waiting import wait_for

pytest_plugins = ["pytester"]

SCENARIOS = '''
import pytest
from podlife.errors import WaitTimeout

@pytest.mark.claim("XX-01")
def test_check_that_timed_out():
    raise WaitTimeout("timed out after 5s waiting for the pod to run")

@pytest.mark.claim("XX-01")
def test_check_that_failed():
    assert 1 == 2, "the claim was violated"

@pytest.mark.claim("XX-01")
@pytest.mark.control
def test_control_whose_wait_timed_out():
    with pytest.raises(AssertionError):
        raise WaitTimeout("timed out after 5s waiting for the bad variant")
'''


def test_summary_tells_inconclusive_from_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    summary = json.loads((pytester.path / "reports/summary.json").read_text())
    tests = {t["test"].split("::")[1]: t for t in summary["claims"]["XX-01"]["tests"]}
    assert tests["test_check_that_timed_out"]["outcome"] == "inconclusive"
    assert tests["test_check_that_timed_out"]["reason"] == "timed out after 5s waiting for the pod to run"
    assert tests["test_check_that_failed"]["outcome"] == "failed"
    assert tests["test_control_whose_wait_timed_out"]["outcome"] == "inconclusive"


NOT_APPLICABLE = '''
import pytest
from podlife.errors import NotApplicable

@pytest.fixture
def target():
    raise NotApplicable("this cluster's credentials may not list nodes")

def test_in_setup(target):
    pass

def test_in_call():
    raise NotApplicable("no node address")
'''


def test_what_the_cluster_lacks_is_a_skip_with_its_reason(pytester: pytest.Pytester) -> None:
    """``NotApplicable``, raised where pytest is not imported, reaches the user as a skip, in setup or in the test."""
    pytester.makepyfile(test_scenarios=NOT_APPLICABLE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*credentials may not list nodes*", "*no node address*"])


@pytest.mark.parametrize("error", [WaitTimeout, ExecFailed, GeneratorLag])
def test_harness_errors_are_not_assertion_errors(error: type[Exception]) -> None:
    assert not issubclass(error, AssertionError)


def _ledger(lags: list[float]) -> Ledger:
    ledger = Ledger("http://svc", rate=10)
    ledger.requests = [Request(i, i / 10, i / 10 + lag, 0.001, 200, None, "pod") for i, lag in enumerate(lags)]
    return ledger


def test_a_lagging_generator_makes_the_ledger_unusable() -> None:
    _ledger([0.0, 0.01, MAX_SEND_LAG]).check_usable()
    with pytest.raises(GeneratorLag, match=r"fell behind its schedule by 0\.6\d+s \(request #1"):
        _ledger([0.0, MAX_SEND_LAG + 0.1, 0.0]).check_usable()
    with pytest.raises(GeneratorLag, match="no request"):
        _ledger([]).check_usable()


HUNG = '''
import pytest
from podlife.waiting import wait_for

@pytest.fixture
def podlife_cluster():
    """Stands in for the cluster: what makes this a podlife test."""

def test_hung(podlife_cluster):
    wait_for(lambda: None, 60, "the pod that never comes")
'''

BYSTANDER = '''
import signal

def test_untouched():
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
'''


def test_a_hung_test_ends_inconclusive_naming_its_wait(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hung=HUNG)
    result = pytester.runpytest("-p", "no:cacheprovider", "--test-time-limit", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TestOverran: the test ran past its 1s limit while waiting for the pod that never comes*"])


def test_a_test_of_another_project_keeps_its_own_signals(pytester: pytest.Pytester) -> None:
    """The plugin is loaded into every pytest run of the environment: it sets no SIGTERM handler
    and no alarm for tests that do not run on a podlife cluster.

    In a process of its own: the process running this test may hold a SIGTERM handler of its own
    session (one whose earlier tests use the cluster), which is not the other project's concern.
    """
    pytester.makepyfile(test_bystander=BYSTANDER)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_test_past_its_limit_names_the_innermost_wait() -> None:
    """The limit's alarm raises wherever the test is; the wait it lands in names itself, once."""
    def alarm() -> None:
        raise TestOverran(900)

    with pytest.raises(TestOverran, match="900s limit while waiting for the pod to run$"):
        wait_for(lambda: wait_for(alarm, 5, "the pod to run"), 5, "the rollout to finish")
    with pytest.raises(TestOverran, match="while waiting for nothing the harness tracks$"):
        alarm()
