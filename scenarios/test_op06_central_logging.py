"""OP-06: centralised logging keeps what a deleted pod wrote.

Story: a log store (VictoriaLogs) and a node-level collector (the OpenTelemetry Collector's
filelog receiver, a DaemonSet reading the kubelet's pod log directory) run in the test's
namespace. A pod prints forty numbered lines carrying a marker of the test's and is deleted once
its log shows the last one. Reading its log then fails (the API answers that the pod is not
found), while the store returns every line, once, in the order written, each with the pod's
namespace, name and container.

Control: the same without the collector. The store works (a line ingested into it directly is
found) and is given the same time to receive the pod's lines, but holds none of them: the same
verdict catches the loss.

On the clusters podlife provides (local; kind, with ``--image-registry`` for the images) it builds
and installs both (``cluster.local.logging_build``), and the namespace takes them away. On an
existing cluster the check runs against the cluster's own pipeline when ``--log-query`` names
its store, and is skipped otherwise; the control needs a collector podlife can leave out, so it
runs only where podlife installs the logging.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from kubernetes import client

from podlife.access import ServiceAccess, service_target
from podlife.cluster.local.logging_build import LoggingBuild
from podlife.cluster.registry import Shelf
from podlife.errors import HarnessError
from podlife.kernel.images import BUSYBOX
from podlife.kube import status_message
from podlife.observe.kubelet import pod_logs_dir
from podlife.observe.logstore import StoredLine, VictoriaLogs, parse_query_url
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import name_of
from podlife.verdicts.central_logging import Shipped, assert_logs_outlive_the_pod
from podlife.waiting import wait_for
from podlife.workloads.logging import (
    COLLECTOR,
    POLL_INTERVAL_S,
    STORE,
    WRITER_CONTAINER,
    log_collector,
    log_store,
    log_writer,
    numbered_line,
)

LINES = 40
WRITER = "writer"
#: How long the store is given to hold every line after the pod printed its last. The collector
#: looks every 0.2 s and its exporter sends at once; VictoriaLogs makes what it ingested
#: searchable within about a second. Measured here from the last line seen in the pod's log, over
#: the pod's deletion, to all stored: 1.7-1.9 s alone, 3.2 s beside another worker (-n 2). Fifteen
#: seconds leave a margin of more than four, so a line still missing then was not shipped, not late.
SHIP_DEADLINE_S = 15.0


@dataclass
class Logging:
    """The log store the test queries, and how to start the collector where podlife runs it."""

    store: VictoriaLogs
    #: Starts podlife's collector; None where the cluster's own pipeline collects.
    start_collector: Callable[[], None] | None


def installed(scene: Scene, shelf: Shelf) -> Logging:
    """Install the store, answering through its Service; the collector is started on demand.

    The local cluster's ``up`` built both; a cluster started by an older podlife gets them built here, once.
    """
    binaries = LoggingBuild().ensure()
    shelf.publish(binaries.store_image(), "victoria-logs")
    scene.apply(*log_store(shelf.reference("victoria-logs")), source="the log store")
    store_pod = scene.wait_ready({"app": STORE}, 1)[0]
    target = service_target(scene.api, scene.cluster, scene.namespace, ServiceAccess(STORE))
    logs_dir = pod_logs_dir(scene.api, scene.node_of(name_of(store_pod)))

    def start_collector() -> None:
        shelf.publish(binaries.collector_image(), "otelcol")
        scene.apply(*log_collector(shelf.reference("otelcol"), scene.namespace, logs_dir), source="the log collector")
        wait_for(lambda: collecting(scene), 120, f"the {COLLECTOR} DaemonSet to run on every node")

    store = VictoriaLogs(target.url)
    wait_for(store.answers, 30, f"the {STORE} Service to answer")
    scene.evidence.measure("pod_logs_dir", logs_dir)
    return Logging(store, start_collector)


def collecting(scene: Scene) -> bool:
    status = scene.apps.read_namespaced_daemon_set_status(COLLECTOR, scene.namespace).status
    return bool(status and status.desired_number_scheduled and status.number_ready == status.desired_number_scheduled)


@pytest.fixture
def central(scene: Scene, request: pytest.FixtureRequest) -> Logging:
    named = request.config.getoption("log_query")
    if named:
        return Logging(VictoriaLogs(parse_query_url(named)), None)
    if not scene.cluster.made_by_podlife:
        pytest.skip("the central-logging scenario uses your cluster's own logging: name its store with "
                    "--log-query victorialogs+http://HOST[:PORT]")
    return installed(scene, request.getfixturevalue("shelf"))


def written_and_deleted(scene: Scene, marker: str) -> tuple[tuple[str, ...], str, float]:
    """Run the writer until its log shows the last line, delete it, and read its log again.

    Returns the lines its log held, the API's answer to the read after deletion, and the
    monotonic time the last line was seen.
    """
    scene.apply(log_writer(WRITER, BUSYBOX, marker, LINES), source="the pod whose lines are to be kept")
    last = numbered_line(marker, LINES, LINES)

    def printed_all() -> str | None:
        text = scene.log(WRITER)
        return text if last in text else None

    wait_for(lambda: scene.all_running(WRITER), 120, f"{WRITER} to run")
    log = wait_for(printed_all, 60, f"{WRITER} to print {LINES} lines")
    printed = time.monotonic()
    written = tuple(line for line in log.splitlines() if marker in line)
    if len(written) != LINES:
        raise HarnessError(f"{WRITER}'s log holds {len(written)} of the {LINES} lines it prints")
    scene.delete_pod(WRITER)
    wait_for(lambda: scene.gone(WRITER), 60, f"{WRITER} to be deleted")
    try:
        scene.log(WRITER)
    except client.ApiException as err:
        return written, f"HTTP {err.status}: {err.reason}, {status_message(err)}", printed
    raise HarnessError(f"{WRITER} is deleted, yet the API still returns its log")


def stored_lines(store: VictoriaLogs, marker: str, expected: int, since: float, evidence: Evidence) -> tuple[StoredLine, ...]:
    """What the store holds for ``marker`` once it holds ``expected`` lines, or when SHIP_DEADLINE_S has passed."""
    found: list[StoredLine] = []
    while time.monotonic() - since < SHIP_DEADLINE_S:
        found = store.lines(marker)
        if len(found) >= expected:
            evidence.measure("stored_within_s", round(time.monotonic() - since, 2))
            break
        time.sleep(POLL_INTERVAL_S)
    return tuple(found)


def story(scene: Scene, central: Logging, evidence: Evidence) -> Shipped:
    marker = f"podlife-{secrets.token_hex(6)}"
    written, after, printed = written_and_deleted(scene, marker)
    stored = stored_lines(central.store, marker, LINES, printed, evidence)
    shipped = Shipped(scene.namespace, WRITER, WRITER_CONTAINER, written, after, stored)
    evidence.measure("lines", {"written": len(written), "stored": len(stored)})
    evidence.measure("after_deletion", after)
    evidence.attach("lines the store returned", "\n".join(f"{s.time} {s.namespace}/{s.pod}/{s.container} {s.message}"
                                                            for s in stored) or "(none)")
    return shipped


@pytest.mark.claim("OP-06")
def test_a_deleted_pods_lines_are_kept_by_the_log_store(scene: Scene, central: Logging, evidence: Evidence) -> None:
    if central.start_collector:
        central.start_collector()
    assert_logs_outlive_the_pod(story(scene, central, evidence))


@pytest.mark.claim("OP-06")
@pytest.mark.control
def test_control_without_a_collector_the_lines_are_gone(scene: Scene, central: Logging, evidence: Evidence) -> None:
    if central.start_collector is None:
        pytest.skip("the control leaves the collector out, and the cluster's own cannot be left out: it runs where "
                    "podlife installs the logging (without --log-query, on a local or kind cluster)")
    canary = f"podlife-canary-{secrets.token_hex(6)}"
    central.store.ingest(canary)
    wait_for(lambda: central.store.lines(canary), SHIP_DEADLINE_S, "the log store to return a line ingested into it")
    shipped = story(scene, central, evidence)
    with pytest.raises(AssertionError, match=f"{LINES} of the {LINES} lines .* wrote are gone"):
        assert_logs_outlive_the_pod(shipped)

