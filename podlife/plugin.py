"""The podlife pytest plugin (registered through the ``pytest11`` entry point).

It adds cluster selection options, the ``claim``/``control``/``slow``/``disruptive``
markers, and fixtures with deliberate scopes: one cluster per session, one labelled
namespace per test, deleted whatever happens to the test.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client

from podlife import guards, schedule
from podlife.chaos.upgrade import UpgradeWatch
from podlife.cluster.base import ClusterHandle
from podlife.cluster.providers import PROVIDERS
from podlife.errors import PodlifeError
from podlife.kernel.defaults import TEST_LABEL
from podlife.namespaces import NamespaceJanitor, SharedNamespace
from podlife.observe.logstore import parse_query_url
from podlife.provisioning import (
    USER_APPS,
    XdistController,
    attached_cluster,
    load_user_apps,
    namespaces_of,
    provision_once,
    reference_images,
    release,
)
from podlife.report.summary import (
    SUMMARY,
    Evidence,
    SummaryPlugin,
    cluster_facts,
    cluster_property,
)
from podlife.scene import Scene, Session
from podlife.signals import sigterm_unwinds
from podlife.workloads.jig import App, AppJig, MakeJig

ALLOW_DISRUPTIVE_ENV = "PODLIFE_ALLOW_DISRUPTIVE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podlife")
    group.addoption("--cluster", default="auto", choices=PROVIDERS,
                    help="where scenarios run: the embedded local cluster, kind, an existing cluster, or auto")
    group.addoption("--nodes", default=None, metavar="N",
                    help="nodes of the local (or kind) cluster; a running local cluster of another size is restarted")
    group.addoption("--k8s-version", default=None, help="Kubernetes version for --cluster=local or kind")
    group.addoption("--context", default=None, help="kubeconfig context for --cluster=existing")
    group.addoption("--allow-disruptive", default=os.environ.get(ALLOW_DISRUPTIVE_ENV),
                    metavar="CONTEXT", help=f"allow disruptive scenarios on this existing context (or ${ALLOW_DISRUPTIVE_ENV})")
    group.addoption("--namespace", default=None, metavar="NS[,NS...]",
                    help="namespace-scoped mode on an existing cluster: run in these pre-created namespaces "
                         "(one per xdist worker) with a namespaced Role only; see fixtures/podlife-namespace-role.yaml")
    group.addoption("--traffic", default="host", choices=("host", "in-cluster"),
                    help="where scenario traffic leaves from: this host (ClusterIP on the local cluster, NodePort "
                         "elsewhere) or pods in the cluster (nothing needs to be reachable from this host)")
    group.addoption("--image-repo", default=None, metavar="REPO",
                    help="pull the reference images (agnhost, busybox) from this mirror instead")
    group.addoption("--image-registry", default=None, metavar="[http://]HOST[:PORT][/PATH]",
                    help="where the image scenarios (OP-01, OP-02) push the images they build, for the cluster to "
                         "pull without credentials (default: the local cluster's registry; elsewhere they are skipped)")
    group.addoption("--log-query", default=None, metavar="victorialogs+http://HOST[:PORT]",
                    help="the cluster's own log store, for the central-logging scenario (OP-06) on clusters where "
                         "podlife does not install one (default: installed on the local cluster; elsewhere skipped)")
    group.addoption("--test-time-limit", type=float, default=900.0, metavar="SECONDS",
                    help="end a test that runs longer (slow tests get four times as long), naming what it waited for")
    group.addoption("--workload", action="append", default=[], metavar="FILE", type=Path,
                    help="run the workload scenarios (scenarios/test_workload.py) against the workloads this file "
                         "names; repeatable. See the README's 'Test your own workload'")
    group.addoption("--podlife-summary-append", action="store_true",
                    help="add this run's claims to the summary file instead of replacing it (a second session "
                         "of the same run, e.g. the node scenarios on a cluster of several nodes)")
    group.addoption("--podlife-summary", default=str(SUMMARY), metavar="PATH", type=Path,
                    help="where the per-claim and per-workload summary is written (relative to the rootdir)")
    group.addoption("--run-exclusive", action="store_true",
                    help="also run tests that run pytest sessions of their own at full load (run them alone)")
    group.addoption("--run-nodes", action="store_true",
                    help="also run the node scenarios (drains, node loss, partitions); they disrupt whole nodes, "
                         "so run them alone: pytest -m nodes --run-nodes --nodes 3")
    group.addoption("--allow-node-disruption", default=None, metavar="NODE[,NODE]",
                    help="on an existing cluster, the nodes the node scenarios may drain (cordons are always undone); "
                         "stopping or cutting off a node needs the local cluster")
    group.addoption("--run-lifecycle", action="store_true",
                    help="also run tests that stop and restart the local cluster itself")
    group.addoption("--upgrade-from", default=None, metavar="VERSION",
                    help="the version the in-place upgrade scenario starts the local cluster on "
                         "(default: the minor before the run's version)")
    group.addoption("--upgrade-watch", default=None, metavar="UNTIL",
                    help="keep a reference app under traffic while you upgrade the cluster yourself, until "
                         "version:1.37 (every node's kubelet reports it) or file:PATH (the file exists)")
    # pytest-kind owns --cluster-name, --kubeconfig, --kind-image, --kind-bin, --kind-kubectl-bin and
    # --keep-cluster; they are shared, not redefined.


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "claim(*ids): the claims of the catalog (docs/claims.md) this test verifies",
        "control: a negative control: shows the claim check fails on the bad variant",
        "slow(seconds=N): waits about N seconds on Kubernetes timers (excluded from the quick profile); "
        "the longest run first, each on an xdist worker of its own (podlife.schedule)",
        "disruptive: kills or deletes workload pods; refused on existing clusters unless allowed",
        "lifecycle: stops and restarts the local cluster itself; run alone, last",
        "exclusive: runs whole pytest sessions of its own at full load; run alone (--run-exclusive)",
        "nodes: drains, stops or cuts off whole nodes (every pod on them goes); run alone on a cluster of "
        "several nodes (pytest -m nodes --run-nodes --nodes 3), one at a time",
    ):
        config.addinivalue_line("markers", marker)
    config.stash[USER_APPS] = load_user_apps(config)
    try:
        if config.getoption("upgrade_watch"):
            UpgradeWatch.parse(config.getoption("upgrade_watch"))
        if config.getoption("log_query"):
            parse_query_url(config.getoption("log_query"))
    except PodlifeError as err:
        raise pytest.UsageError(f"podlife: {err}") from None
    config.pluginmanager.register(SummaryPlugin(), "podlife-summary")
    config.pluginmanager.register(guards, "podlife-guards")
    config.pluginmanager.register(schedule, "podlife-schedule")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(XdistController(), "podlife-xdist-controller")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each workload scenario once per user workload, or skip it with a reason when none was named."""
    if "user_app" not in metafunc.fixturenames:
        return
    apps = metafunc.config.stash[USER_APPS]
    params = [pytest.param(app, id=app.workload.name) for app in apps] or [
        pytest.param(None, id="no-workload", marks=pytest.mark.skip(reason="no --workload file given"))]
    metafunc.parametrize("user_app", params)


@pytest.fixture(scope="session")
def podlife_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterHandle]:
    """The cluster every scenario of the session runs on: attached to under xdist, provisioned otherwise.

    From the first test that needs it until the session's namespaces are gone, SIGTERM unwinds.
    """
    with sigterm_unwinds():
        handle = attached_cluster(request.config)
        yield provision_once(request.config).handle if handle is None else handle


def pytest_unconfigure(config: pytest.Config) -> None:
    release(config)


@pytest.fixture(scope="session")
def k8s(podlife_cluster: ClusterHandle) -> client.ApiClient:
    return podlife_cluster.api_client()


@pytest.fixture(scope="session")
def podlife_session(k8s: client.ApiClient, podlife_cluster: ClusterHandle, request: pytest.FixtureRequest) -> Session:
    """What every scene of this process shares: the client, the cluster, its reference images and discovery."""
    return Session.of(k8s, podlife_cluster, reference_images(request.config, podlife_cluster))


@pytest.fixture(scope="session")
def run_id() -> str:
    """Identifies this run's objects; xdist workers each get their own."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def namespace_janitor(k8s: client.ApiClient, run_id: str) -> Iterator[NamespaceJanitor]:
    janitor = NamespaceJanitor(k8s, run_id)
    yield janitor
    janitor.delete_all()


@pytest.fixture(scope="session")
def shared_namespace(k8s: client.ApiClient, request: pytest.FixtureRequest) -> SharedNamespace | None:
    """In namespace-scoped mode, this worker's namespace (gw0 takes the first, gw1 the second, ...)."""
    names = namespaces_of(request.config)
    if not names:
        return None
    # From xdist's own record, not PYTEST_XDIST_WORKER: a pytest started by a test inherits that variable.
    worker = getattr(request.config, "workerinput", {}).get("workerid", "gw0")
    return SharedNamespace(k8s, names[int(worker.removeprefix("gw"))])


@pytest.fixture
def test_id(run_id: str) -> str:
    """The test's own id: the value of ``TEST_LABEL`` on everything it creates."""
    return f"{run_id}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace(shared_namespace: SharedNamespace | None, request: pytest.FixtureRequest, test_id: str) -> Iterator[str]:
    """Where the test creates its objects, all stamped with its id; whatever it created is gone afterwards.

    A fresh namespace labelled with the run id, deleted after the test however it ended; in
    namespace-scoped mode the worker's namespace, cleared of the test's objects.
    """
    if shared_namespace is not None:
        yield shared_namespace.name
        shared_namespace.clear(test_id)
        return
    janitor: NamespaceJanitor = request.getfixturevalue("namespace_janitor")
    name = janitor.create(request.node.name)
    yield name
    janitor.delete(name)


@pytest.fixture(scope="session")
def podlife_cluster_facts(podlife_cluster: ClusterHandle, k8s: client.ApiClient) -> dict[str, Any]:
    """The cluster's facts for the summary, read once per worker."""
    return cluster_facts(podlife_cluster, k8s)


@pytest.fixture
def evidence(podlife_cluster_facts: dict[str, Any], request: pytest.FixtureRequest) -> Evidence:
    """Figures for ``reports/summary.json`` and text for the Allure report of this test.

    (Where Allure files the test, by claim or by workload, the summary plugin's labels decide.)
    """
    request.node.user_properties.append(cluster_property(podlife_cluster_facts))
    return Evidence(request.node)


@pytest.fixture
def scene(podlife_session: Session, namespace: str, test_id: str, evidence: Evidence) -> Scene:
    """The test's namespace on its cluster: every change a scenario makes goes through it, stamped with the test's id."""
    return Scene(podlife_session, namespace, {TEST_LABEL: test_id}, evidence)


@pytest.fixture
def jig(scene: Scene) -> MakeJig:
    """``jig(app)``: a jig that deploys and disrupts ``app`` (a reference app or a user's) in the test's scene."""
    def make(app: App) -> AppJig:
        return AppJig(scene, app)

    return make


