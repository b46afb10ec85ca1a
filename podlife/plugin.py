"""The podlife pytest plugin (registered through the ``pytest11`` entry point).

It adds cluster selection options, the ``claim``/``control``/``slow``/``disruptive``
markers, and fixtures with deliberate scopes: one cluster per session, one labelled
namespace per test, deleted whatever happens to the test.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from kubernetes import client

from podlife.cluster.base import ClusterHandle
from podlife.cluster.providers import PROVIDERS, ClusterRequest, Provisioned, active_context, provision
from podlife.errors import PodlifeError
from podlife.namespaces import NamespaceJanitor
from podlife.report.evidence import attach_namespace_evidence
from podlife.report.summary import Evidence, SummaryPlugin, cluster_property

ALLOW_DISRUPTIVE_ENV = "PODLIFE_ALLOW_DISRUPTIVE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podlife")
    group.addoption("--cluster", default="auto", choices=PROVIDERS,
                    help="where scenarios run: the embedded local cluster, kind, an existing cluster, or auto")
    group.addoption("--k8s-version", default=None, help="Kubernetes version for --cluster=local or kind")
    group.addoption("--context", default=None, help="kubeconfig context for --cluster=existing")
    group.addoption("--allow-disruptive", default=os.environ.get(ALLOW_DISRUPTIVE_ENV),
                    metavar="CONTEXT", help=f"allow disruptive scenarios on this existing context (or ${ALLOW_DISRUPTIVE_ENV})")
    group.addoption("--image-repo", default=None, metavar="REPO",
                    help="pull the reference images (agnhost, busybox) from this mirror instead")
    group.addoption("--run-lifecycle", action="store_true",
                    help="also run tests that stop and restart the local cluster itself")
    # pytest-kind owns --kubeconfig, --kind-image, --kind-bin and --keep-cluster; they are shared, not redefined.


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "claim(*ids): the claims of shared/claims.md this test verifies",
        "control: a negative control: shows the claim check fails on the bad variant",
        "slow: waits minutes on Kubernetes timers (excluded from the quick profile)",
        "disruptive: kills or deletes workload pods; refused on existing clusters unless allowed",
        "lifecycle: stops and restarts the local cluster itself; run alone, last",
    ):
        config.addinivalue_line("markers", marker)
    config.pluginmanager.register(SummaryPlugin(), "podlife-summary")
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so namespace fixtures still clean up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _request(config: pytest.Config) -> ClusterRequest:
    opt = config.getoption
    kubeconfig = opt("kubeconfig")
    kind_bin = opt("kind_bin")
    return ClusterRequest(
        provider=opt("cluster"),
        k8s_version=opt("k8s_version"),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=opt("context"),
        kind_image=opt("kind_image"),
        kind_bin=Path(kind_bin) if kind_bin else None,
        keep_cluster=opt("keep_cluster"),
    )


@pytest.fixture(scope="session")
def podlife_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterHandle]:
    """The cluster every scenario of the session runs on; a cluster that cannot be used stops the run."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    say = (lambda line: reporter.write_line(f"[podlife] {line}")) if reporter else print
    try:
        provisioned: Provisioned = provision(_request(request.config), say)
    except PodlifeError as err:
        pytest.exit(f"podlife: {err}", returncode=2)
    say(f"cluster: {provisioned.handle.provider}, {provisioned.handle.version}, {provisioned.handle.node_count} node(s)")
    yield provisioned.handle
    provisioned.release()


@pytest.fixture(scope="session")
def k8s(podlife_cluster: ClusterHandle) -> client.ApiClient:
    return podlife_cluster.api_client()


@pytest.fixture(scope="session")
def run_id() -> str:
    """Identifies this run's objects; xdist workers each get their own."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def namespace_janitor(k8s: client.ApiClient, run_id: str) -> Iterator[NamespaceJanitor]:
    janitor = NamespaceJanitor(k8s, run_id)
    yield janitor
    janitor.delete_all()


@pytest.fixture
def namespace(namespace_janitor: NamespaceJanitor, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace labelled with the run id, deleted after the test however it ended."""
    name = namespace_janitor.create(request.node.name)
    yield name
    namespace_janitor.delete(name)


@pytest.fixture
def evidence(podlife_cluster: ClusterHandle, request: pytest.FixtureRequest) -> Evidence:
    """Figures for ``reports/summary.json`` and text for the Allure report of this test."""
    request.node.user_properties.append(cluster_property(podlife_cluster))
    return Evidence(request.node)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test gets its namespace's pod logs and events attached, while they still exist."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    if report.when == "call" and report.failed and "namespace" in funcargs and "k8s" in funcargs:
        attach_namespace_evidence(funcargs["k8s"], funcargs["namespace"])
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse disruptive scenarios on an existing cluster unless its context was named as allowed."""
    if item.get_closest_marker("lifecycle") and not item.config.getoption("run_lifecycle"):
        pytest.skip("stops the local cluster: run with --run-lifecycle")
    if item.get_closest_marker("disruptive") is None or item.config.getoption("cluster") != "existing":
        return
    allowed = item.config.getoption("allow_disruptive")
    context = active_context(_request(item.config))
    if allowed != context:
        pytest.skip(f"disruptive scenario refused on existing context {context!r}: pass --allow-disruptive={context}")

