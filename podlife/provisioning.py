"""The session's cluster: provisioned once per run, handed to xdist workers, released at the end.

The machinery behind the plugin's ``podlife_cluster`` fixture: the users' workloads read when
the run starts (a mistake in them ends the run before any cluster work), the cluster request
built from the options, provisioning by the single process or, under ``-n``, by the xdist
controller before any worker starts (workers only attach), the reference images the cluster
names, and the release.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.build import local_kubectl
from podlife.cluster.providers import ClusterRequest, Provisioned, node_count, provision
from podlife.errors import HarnessError, PodlifeError
from podlife.kernel.images import ReferenceImages
from podlife.kube import Discovery
from podlife.preflight import run_preflight
from podlife.signals import sigterm_unwinds
from podlife.workloads.spec import load_workloads
from podlife.workloads.user import UserApp

#: The users' workloads of this run (``--workload``), rendered once when the run starts.
USER_APPS = pytest.StashKey[list[UserApp]]()


def load_user_apps(config: pytest.Config) -> list[UserApp]:
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


def check_user_apps(config: pytest.Config, handle: ClusterHandle) -> None:
    """Every kind the users' manifests use is one this cluster serves, in a namespace: else one line, before any test."""
    apps = config.stash[USER_APPS]
    if apps:
        discovery = Discovery(handle.api_client())
        for app in apps:
            discovery.object_paths("default", app.manifests(), app.source)


def load_user_images(config: pytest.Config, provisioned: Provisioned, say: Callable[[str], None]) -> None:
    """Load the image archives the users' workloads name, once per run, where the cluster can take them."""
    archives = list(dict.fromkeys(a for app in config.stash[USER_APPS] for a in app.workload.images))
    if archives and provisioned.load_image is None:
        say(f"not loading {len(archives)} image archive(s): this cluster pulls from your registry")
    elif provisioned.load_image:
        for archive in archives:
            say(f"loaded {', '.join(provisioned.load_image(archive))} from {archive}")


def cluster_request(config: pytest.Config) -> ClusterRequest:
    opt = config.getoption
    kubeconfig = opt("kubeconfig")
    kind_bin = opt("kind_bin")
    kubectl_bin = opt("kind_kubectl_bin")
    return ClusterRequest(
        provider=opt("cluster"),
        k8s_version=opt("k8s_version"),
        nodes=node_count(opt("nodes")) if opt("nodes") is not None else None,
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=opt("context"),
        kind_name=opt("cluster_name"),
        kind_image=opt("kind_image"),
        kind_bin=Path(kind_bin) if kind_bin else None,
        kind_kubectl_bin=Path(kubectl_bin) if kubectl_bin else None,
        keep_cluster=opt("keep_cluster"),
        namespaces=namespaces_of(config),
        allow_node_disruption=tuple(n.strip() for n in (config.getoption("allow_node_disruption") or "").split(",") if n.strip()),
    )


def namespaces_of(config: pytest.Config) -> tuple[str, ...]:
    return tuple(n.strip() for n in (config.getoption("namespace") or "").split(",") if n.strip())


#: Where the provisioned cluster is kept for the session, and the key that hands it to xdist workers.
PROVISIONED = pytest.StashKey[Provisioned]()
WORKER_INPUT_KEY = "podlife_cluster"


def say_to(config: pytest.Config) -> Callable[[str], None]:
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


def provision_once(config: pytest.Config) -> Provisioned:
    """Get the cluster once for this process and remember it; any failure ends the run in one line."""
    if PROVISIONED not in config.stash:
        say = say_to(config)
        try:
            request = cluster_request(config)
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
            source = "a pod in the cluster" if handle.traffic_in_cluster else "this host"
            say(f"cluster: {handle.provider}, {handle.version}, {nodes}; traffic from {source}")
            run_preflight(handle, reference_images(config, handle), request.namespaces[0] if request.namespaces else None, say)
            check_user_apps(config, handle)
            load_user_images(config, provisioned, say)
        except (PodlifeError, HarnessError) as err:
            pytest.exit(f"podlife: {err}", returncode=2)
        config.stash[PROVISIONED] = provisioned
    return config.stash[PROVISIONED]


def reference_images(config: pytest.Config, handle: ClusterHandle) -> ReferenceImages:
    """How the run's cluster names the reference images, with ``--image-repo``."""
    return handle.reference_images(config.getoption("image_repo"))


class XdistController:
    """Under ``-n``, the controller provisions the cluster before any worker starts and hands it over.

    Workers only attach: a provisioning error is printed once, by the controller, instead of
    each worker failing on its own and xdist reporting nothing but "node down"; and only the
    controller, which outlives every worker, releases the cluster.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if session.config.pluginmanager.hasplugin("dsession"):  # distributing: -n or --dist
            provision_once(session.config)

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_INPUT_KEY] = provision_once(node.config).handle.to_dict()


def attached_cluster(config: pytest.Config) -> ClusterHandle | None:
    """The cluster this process works on, if it has one yet (never provisions)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return ClusterHandle.from_dict(workerinput[WORKER_INPUT_KEY])
    provisioned = config.stash.get(PROVISIONED, None)
    return provisioned.handle if provisioned else None


def release(config: pytest.Config) -> None:
    """At the run's end the provisioner releases the cluster (kind delete unless --keep-cluster; the local cluster's lease)."""
    provisioned = config.stash.get(PROVISIONED, None)
    if provisioned is not None:
        try:
            provisioned.release()
        except PodlifeError as err:
            say_to(config)(f"releasing the cluster failed: {err}")
