"""The nightly profile's long waits, longest first, each on an xdist worker of its own.

The slow profile (``pytest -m slow -n 3``) is a few tests that mostly wait out Kubernetes
timers: the crash-loop back-off up to its cap (910 s of timers), its reset after ten healthy
minutes (655 s) and that reset's control (450 s). The profile can take no less than its longest
test, and takes more only when one worker runs two long tests one after the other while
another idles, which xdist's default scheduling did: 1,636 s where about 950 s would do.

Each slow test declares what it waits: ``@pytest.mark.slow(seconds=910)``, the sum of the
Kubernetes timers it cannot finish before, derived from the scenario (its marker line says
how). Tests are collected longest first: declared slow tests by their seconds, a bare ``slow``
(a user's, say) before them all, since an unknown wait may be the longest; the others keep
their order, after them.

Under ``-n``, tests are handed to the workers one at a time, in that order. The scheduler that
does it is xdist's own ``loadgroup`` one, chosen in place of the ``load`` that ``-n`` implies:

- an xdist worker starts a test only once it holds the next one (pytest tears fixtures down
  knowing the next test), so each worker always has one test queued behind the one it runs;
- ``load`` opens by sending each worker a chunk of at least two consecutive tests when there
  are two per worker (also with ``--maxschedchunk=1``), so the two longest go to one worker,
  one queued behind the other;
  ``worksteal`` opens with contiguous blocks, and a worker's queued test is never stolen back;
- ``loadgroup`` sends one work unit to each worker, then a second to each, then one more to a
  worker each time one of its tests ends; a test without an ``xdist_group`` mark is a unit of
  its own. Longest first, the N longest tests therefore start at once on the N workers, and
  each has one of the next N queued behind it.

With more long tests than workers, one long test still waits behind another (with ``-n 2``,
the 910 s and 450 s tests share a worker). An explicit ``--dist`` other than ``load`` is left
as it is.
"""

from __future__ import annotations

import math

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

#: The marker, and the keyword that declares its test's expected wait.
SLOW, SECONDS = "slow", "seconds"


def expected_seconds(item: pytest.Item) -> float:
    """How long ``item`` is expected to run, to order tests by: 0 unless marked slow, infinite if slow without seconds.

    A marker given anything but a positive ``seconds`` only warns, and counts as one without: it
    steers the order of tests, nothing else (an error raised here would be lost under xdist).
    """
    marker = item.get_closest_marker(SLOW)
    if marker is None:
        return 0.0
    seconds = marker.kwargs.get(SECONDS)
    if not marker.args and set(marker.kwargs) == {SECONDS} and isinstance(seconds, (int, float)) and seconds > 0:
        return float(seconds)
    if marker.args or marker.kwargs:
        item.warn(pytest.PytestWarning(f"@pytest.mark.slow takes only seconds=N, a positive number (given: arguments "
                                       f"{marker.args}, keywords {marker.kwargs}); scheduled as a wait of unknown length"))
    return math.inf


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first; a stable sort, so equal tests (all the quick ones) keep their order.

    Last among the hooks, so it orders what selection and other plugins left; every xdist worker
    sorts the same collection the same way, so their collections stay identical.
    """
    items.sort(key=lambda item: -expected_seconds(item))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadGroupScheduling | None:
    """For ``-n``'s default distribution, one test at a time in collection order (see the module's docstring)."""
    if config.getvalue("dist") != "load":
        return None
    return LoadGroupScheduling(config, log)
