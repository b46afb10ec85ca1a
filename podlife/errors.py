"""The two kinds of failure podlife tells apart, and the error that ends a command in one line.

A *violated claim* is an ``AssertionError`` raised by a verdict over recorded facts. A *harness
problem* (a wait that timed out, an exec that could not run, a traffic generator that fell
behind, an image that cannot be pulled, a cluster component that died) is a ``HarnessError``:
it is not an ``AssertionError``, so it can neither be reported as a violated claim nor satisfy a
negative control's ``pytest.raises(AssertionError)``; ``summary.json`` reports such a test as
inconclusive, with the reason.
"""


class PodlifeError(Exception):
    """A failure the user can act on; the CLI prints ``str(err)`` on one line and exits non-zero."""


class NotApplicable(Exception):
    """What the scenario needs is not there on this cluster (a node address, a right the credentials lack).

    Raised below the plugin, which knows nothing of pytest there; the plugin reports the test
    as skipped with this reason, as it would a ``pytest.skip``.
    """


class HarnessError(Exception):
    """The harness could not observe what the claim needs; the test's verdict is inconclusive."""


class WaitTimeout(HarnessError):
    """A condition the scenario needed never came true; the message says which and for how long."""


class ExecFailed(HarnessError):
    """A command run inside a pod exited non-zero or could not be started."""


class GeneratorLag(HarnessError):
    """The traffic generator sent requests later than scheduled beyond its stated bound."""


class RateTooHigh(HarnessError):
    """The traffic engine could not hold the asked rate where it would run: said before a request is sent."""


class PodCannotRun(HarnessError):
    """A pod the scenario needs cannot start (image not pullable, bad container config)."""


class ComponentDied(HarnessError):
    """A process of the local cluster exited while tests were running."""


class NotExercised(HarnessError):
    """The disruption did not hit what the verdict is about (e.g. no killed pod had carried
    traffic), so a pass would prove nothing: the workload analogue of a negative control."""


class TestOverran(HarnessError):
    """A test ran past its time limit; the message names what it was waiting for.

    Raised by the limit's alarm wherever the test is; the innermost ``wait_for`` it passes
    through names its wait (``waiting_for``), so no record of waits needs to be kept anywhere.
    """

    __test__ = False  # not a test class, whatever pytest's name pattern says

    def __init__(self, limit: float, waiting_for: str | None = None) -> None:
        super().__init__(f"the test ran past its {limit:.0f}s limit while waiting for "
                         f"{waiting_for or 'nothing the harness tracks'}")
        self.limit, self.waiting_for = limit, waiting_for
