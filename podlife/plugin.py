"""The podlife pytest plugin (registered through the ``pytest11`` entry point).

It adds cluster selection options, the ``claim``/``control``/``slow``/``disruptive``
markers, and fixtures with deliberate scopes: one cluster per session, one labelled
namespace per test, deleted whatever happens to the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Generator, Iterator

import pytest
from kubernetes import client

from podlife.chaos.upgrade import UpgradeWatch
from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import local_kubectl
from podlife.cluster.local.paths import StateLayout, state_root
from podlife.cluster.local.supervisor import Supervisor
from podlife.cluster.providers import (
    PROVIDERS,
    ClusterRequest,
    Provisioned,
    active_context,
    provision,
)
from podlife.errors import HarnessError, PodlifeError, TestOverran
from podlife.kernel.defaults import TEST_LABEL
from podlife.kernel.images import ReferenceImages, agnhost_tag
from podlife.kube import Discovery
from podlife.namespaces import NamespaceJanitor, SharedNamespace
from podlife.observe.logstore import parse_query_url
from podlife.preflight import run_preflight
from podlife.report.evidence import attach_namespace_evidence
from podlife.report.summary import (
    FINDING_KEY,
    INCONCLUSIVE_KEY,
    SUMMARY,
    Evidence,
    SummaryPlugin,
    cluster_facts,
    cluster_property,
)
from podlife.scene import Scene, Session
from podlife.signals import sigterm_unwinds
from podlife.waiting import waiting_on
from podlife.workloads.jig import App, AppJig, MakeJig
from podlife.workloads.spec import load_workloads
from podlife.workloads.user import UserApp

ALLOW_DISRUPTIVE_ENV = "PODLIFE_ALLOW_DISRUPTIVE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podlife")
    group.addoption("--cluster", default="auto", choices=PROVIDERS,
                    help="where scenarios run: the embedded local cluster, kind, an existing cluster, or auto")
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
    group.addoption("--podlife-summary", default=str(SUMMARY), metavar="PATH", type=Path,
                    help="where the per-claim and per-workload summary is written (relative to the rootdir)")
    group.addoption("--run-exclusive", action="store_true",
                    help="also run tests that run pytest sessions of their own at full load (run them alone)")
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
        "slow: waits minutes on Kubernetes timers (excluded from the quick profile)",
        "disruptive: kills or deletes workload pods; refused on existing clusters unless allowed",
        "lifecycle: stops and restarts the local cluster itself; run alone, last",
        "exclusive: runs whole pytest sessions of its own at full load; run alone (--run-exclusive)",
    ):
        config.addinivalue_line("markers", marker)
    config.stash[USER_APPS] = _user_apps(config)
    try:
        if config.getoption("upgrade_watch"):
            UpgradeWatch.parse(config.getoption("upgrade_watch"))
        if config.getoption("log_query"):
            parse_query_url(config.getoption("log_query"))
    except PodlifeError as err:
        raise pytest.UsageError(f"podlife: {err}") from None
    config.pluginmanager.register(SummaryPlugin(), "podlife-summary")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(XdistController(), "podlife-xdist-controller")


#: The users' workloads of this run (``--workload``), rendered once when the run starts.
USER_APPS = pytest.StashKey[list[UserApp]]()


def _user_apps(config: pytest.Config) -> list[UserApp]:
    """Every workload the ``--workload`` files name; a mistake in them ends the run in one line, before any cluster work."""
    try:
        kubectl = shutil.which("kubectl") or local_kubectl()
        apps = [UserApp.load(w, kubectl) for path in config.getoption("workload") for w in load_workloads(path)]
    except PodlifeError as err:
        raise pytest.UsageError(f"podlife: {err}") from None
    names = Counter(app.workload.name for app in apps)
    if doubled := [name for name, n in names.items() if n > 1]:
        raise pytest.UsageError(f"podlife: workload name(s) {', '.join(doubled)} appear in more than one --workload file")
    return apps


def _check_user_apps(config: pytest.Config, handle: ClusterHandle) -> None:
    """Every kind the users' manifests use is one this cluster serves, in a namespace: else one line, before any test."""
    apps = config.stash[USER_APPS]
    if apps:
        discovery = Discovery(handle.api_client())
        for app in apps:
            discovery.object_paths("default", app.manifests(), app.source)


def _load_user_images(config: pytest.Config, provisioned: Provisioned, say: Callable[[str], None]) -> None:
    """Load the image archives the users' workloads name, once per run, where the cluster can take them."""
    archives = list(dict.fromkeys(a for app in config.stash[USER_APPS] for a in app.workload.images))
    if archives and provisioned.load_image is None:
        say(f"not loading {len(archives)} image archive(s): this cluster pulls from your registry")
    elif provisioned.load_image:
        for archive in archives:
            say(f"loaded {', '.join(provisioned.load_image(archive))} from {archive}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each workload scenario once per user workload, or skip it with a reason when none was named."""
    if "user_app" not in metafunc.fixturenames:
        return
    apps = metafunc.config.stash[USER_APPS]
    params = [pytest.param(app, id=app.workload.name) for app in apps] or [
        pytest.param(None, id="no-workload", marks=pytest.mark.skip(reason="no --workload file given"))]
    metafunc.parametrize("user_app", params)


def _request(config: pytest.Config) -> ClusterRequest:
    opt = config.getoption
    kubeconfig = opt("kubeconfig")
    kind_bin = opt("kind_bin")
    kubectl_bin = opt("kind_kubectl_bin")
    return ClusterRequest(
        provider=opt("cluster"),
        k8s_version=opt("k8s_version"),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=opt("context"),
        kind_name=opt("cluster_name"),
        kind_image=opt("kind_image"),
        kind_bin=Path(kind_bin) if kind_bin else None,
        kind_kubectl_bin=Path(kubectl_bin) if kubectl_bin else None,
        keep_cluster=opt("keep_cluster"),
        namespaces=_namespaces(config),
    )


def _namespaces(config: pytest.Config) -> tuple[str, ...]:
    return tuple(n.strip() for n in (config.getoption("namespace") or "").split(",") if n.strip())


#: Where the provisioned cluster is kept for the session, and the key that hands it to xdist workers.
PROVISIONED = pytest.StashKey[Provisioned]()
WORKER_INPUT_KEY = "podlife_cluster"


def _say(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines on the terminal as they happen, also from inside a fixture (a cold build takes minutes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if reporter:
                reporter.write_line(f"[podlife] {line}")
            else:
                print(f"[podlife] {line}", flush=True)

    return say


def _provision(config: pytest.Config) -> Provisioned:
    """Get the cluster once for this process and remember it; any failure ends the run in one line."""
    if PROVISIONED not in config.stash:
        say = _say(config)
        try:
            request = _request(config)
            workers = config.getoption("numprocesses", None) or 0
            if request.namespaces and isinstance(workers, int) and workers > len(request.namespaces):
                raise PodlifeError(f"namespace-scoped mode needs a namespace per xdist worker: -n {workers} "
                                   f"but --namespace names {len(request.namespaces)}")
            with sigterm_unwinds():
                provisioned = provision(request, say)
            traffic = config.getoption("traffic")
            provisioned.handle = replace(provisioned.handle, traffic=traffic)
            handle = provisioned.handle
            nodes = "nodes not visible" if handle.node_count is None else f"{handle.node_count} node(s)"
            say(f"cluster: {handle.provider}, {handle.version}, {nodes}; traffic from {'a pod in the cluster' if traffic == 'in-cluster' else 'this host'}")
            run_preflight(handle, reference_images(config, handle), request.namespaces[0] if request.namespaces else None, say)
            _check_user_apps(config, handle)
            _load_user_images(config, provisioned, say)
        except (PodlifeError, HarnessError) as err:
            pytest.exit(f"podlife: {err}", returncode=2)
        config.stash[PROVISIONED] = provisioned
    return config.stash[PROVISIONED]


def reference_images(config: pytest.Config, handle: ClusterHandle) -> ReferenceImages:
    """How the run's cluster names the reference images: the agnhost of its version, and ``--image-repo``."""
    return ReferenceImages(handle.agnhost_tag or agnhost_tag(handle.version), config.getoption("image_repo"))


class XdistController:
    """Under ``-n``, the controller provisions the cluster before any worker starts and hands it over.

    Workers only attach: a provisioning error is printed once, by the controller, instead of
    each worker failing on its own and xdist reporting nothing but "node down"; and only the
    controller, which outlives every worker, releases the cluster.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if session.config.pluginmanager.hasplugin("dsession"):  # distributing: -n or --dist
            _provision(session.config)

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_INPUT_KEY] = _provision(node.config).handle.to_dict()


def _attached(config: pytest.Config) -> ClusterHandle | None:
    """The cluster this process works on, if it has one yet (never provisions)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return ClusterHandle.from_dict(workerinput[WORKER_INPUT_KEY])
    provisioned = config.stash.get(PROVISIONED, None)
    return provisioned.handle if provisioned else None


@pytest.fixture(scope="session")
def podlife_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterHandle]:
    """The cluster every scenario of the session runs on: attached to under xdist, provisioned otherwise.

    From the first test that needs it until the session's namespaces are gone, SIGTERM unwinds.
    """
    with sigterm_unwinds():
        attached = _attached(request.config)
        yield _provision(request.config).handle if attached is None else attached


def pytest_unconfigure(config: pytest.Config) -> None:
    """The provisioner releases the cluster (kind delete unless --keep-cluster; the local cluster's lease)."""
    provisioned = config.stash.get(PROVISIONED, None)
    if provisioned is not None:
        try:
            provisioned.release()
        except PodlifeError as err:
            _say(config)(f"releasing the cluster failed: {err}")


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
    names = _namespaces(request.config)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test gets its namespace's pod logs and events attached, while they still exist."""
    report = yield
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
        raise TestOverran(f"the test ran past its {limit:.0f}s limit while waiting for {waiting_on() or 'nothing the harness tracks'}")

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
    if item.get_closest_marker("exclusive") and not item.config.getoption("run_exclusive"):
        pytest.skip("loads the machine as a whole test run does (it would starve the traffic of tests beside it): "
                    "run alone with --run-exclusive")
    handle = _attached(item.config)
    if handle is not None and handle.provider == "local" and "podlife_cluster" in getattr(item, "fixturenames", ()):
        Supervisor(StateLayout(state_root())).check_alive()
    if item.get_closest_marker("disruptive") is None or item.config.getoption("cluster") != "existing":
        return
    allowed = item.config.getoption("allow_disruptive")
    context = active_context(_request(item.config))
    if allowed != context:
        pytest.skip(f"disruptive scenario refused on existing context {context!r}: pass --allow-disruptive={context}")

