"""What the benchmarks share: the ``--smoke`` switch, the scenario their short runs select, a scene of their own.

Benchmarks rot when nothing runs them: CI runs each short (``--smoke``; the start benchmark
whole, short as it is), a run of a minute or two that takes the benchmark's whole path (the
cluster, the apps, the pytest runs, the printed figures), so that a change breaking one fails
CI instead of the next person who measures.

The scene is built here and nowhere else in ``bench/``: a ``Scene`` is what scenarios change
the cluster through, and when it gains a field, this is the one call to change.
"""

from __future__ import annotations

import argparse
import contextlib
import uuid
from collections.abc import Iterable, Iterator

from podlife.cluster.base import describe
from podlife.cluster.local.provider import LocalCluster
from podlife.kernel.defaults import TEST_LABEL
from podlife.kernel.evidence import Attachment
from podlife.namespaces import NamespaceJanitor
from podlife.report.summary import TIMERS
from podlife.report.upgrade_check import DEFAULT_PYTEST_ARGS
from podlife.scene import Scene, Session

#: The scenario short runs select: SD-04's check deletes one busybox pod with a 6 s grace
#: override (about 15 s in all), and declares that timer, so the suite benchmark's timer column
#: is filled too.
SMOKE_SCENARIO = "test_delete_grace_period_overrides_the_pods"


def bench_parser(doc: str, smoke: str) -> argparse.ArgumentParser:
    """A benchmark's argument parser: its docstring's first paragraph, and ``--smoke`` doing what ``smoke`` says.

    No abbreviations: a benchmark that hands the rest of its arguments to pytest must not take
    a pytest option for one of its own.
    """
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()), allow_abbrev=False)
    parser.add_argument("--smoke", action="store_true", help=f"a short run for CI: {smoke}")
    return parser


def quick_profile(smoke: bool) -> list[str]:
    """pytest's arguments for the quick scenario profile, or for its one smoke scenario."""
    return [*DEFAULT_PYTEST_ARGS, *(["-k", SMOKE_SCENARIO] if smoke else [])]


class PrintedEvidence:
    """The evidence sink of a benchmark: figures are printed, texts and pictures (a test report's) are dropped."""

    def measure(self, name: str, value: object) -> None:
        print(f"{name}: {value}")

    def waits_on(self, **timers: float) -> None:
        self.measure(TIMERS, timers)

    def attach(self, name: str, text: str | Iterable[str], kind: Attachment = "text") -> None:
        """Dropped: the applied manifests and the like are for a test's report, and a benchmark has none."""

    def illustrate(self, observation: object) -> None:
        """Dropped, as attachments are."""


@contextlib.contextmanager
def local_scene(cluster: LocalCluster, name: str) -> Iterator[Scene]:
    """A scene in a fresh namespace of the running local cluster; the namespace is deleted afterwards.

    Its objects carry the run's id as their test label, and its reference images are those of
    the cluster's version.
    """
    handle = describe("local", cluster.layout.kubeconfig, None)
    api = handle.api_client()
    janitor = NamespaceJanitor(api, uuid.uuid4().hex[:8])
    namespace = janitor.create(name)
    try:
        yield Scene(session=Session.of(api, handle, handle.reference_images()), namespace=namespace,
                    labels={TEST_LABEL: janitor.run_id}, evidence=PrintedEvidence())
    finally:
        janitor.delete_all(wait=False)
