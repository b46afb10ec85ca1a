"""An upgrade of the cluster does not disturb the apps running on it: in place on the local cluster, or yours.

Story: the local cluster is started on the previous minor (``--upgrade-from``, by default the
one before the run's version) and ``web`` (three replicas, readiness probe, preStop delay)
serves steady traffic. The cluster is then upgraded in place to the run's version in the
order a real upgrade uses: etcd and the container runtime stay; the API server,
controller-manager and scheduler are restarted on the new binaries, then the kubelet and
kube-proxy. Verdict, from the ledger and the timeline: no request lost, no pod created,
deleted or given a new UID or IP, no container restarted, and the Service never without a
ready endpoint. Control: the same upgrade, with the app's containers killed while the kubelet
is down (what an upgrade that recreates the node's containers does), must fail the verdict.

Marked ``lifecycle`` (it restarts the cluster under every other test) and ``slow`` (the
previous version is built on first use, a cold build of about 17 minutes): the nightly
profile, ``pytest scenarios/test_upgrade_in_place.py --run-lifecycle``.

On an existing cluster, ``--upgrade-watch version:1.37`` (or ``file:PATH``) keeps ``web`` under
traffic while you upgrade the cluster by your own means, until the nodes report the version
(or the file appears), and judges the same ledger.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Callable

import pytest

from podlife.chaos.apps import Hit
from podlife.chaos.crash import crash_all
from podlife.chaos.upgrade import UpgradeWatch
from podlife.cluster.base import ClusterHandle
from podlife.cluster.image_load import load_into_local
from podlife.cluster.local.build import resolve_version
from podlife.cluster.local.components import REGISTRY_ADDRESS, Settings
from podlife.cluster.local.provider import LocalCluster
from podlife.observe.clock import now
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.served import name_of
from podlife.verdicts.traffic import assert_no_request_lost, check_hit_traffic
from podlife.verdicts.upgrade import (
    assert_endpoints_never_emptied,
    assert_pods_untouched,
)
from podlife.waiting import wait_for
from podlife.workloads.agnhost import Netexec
from podlife.workloads.jig import App, AppJig, MakeJig
from podlife.workloads.user import UserApp

#: The reference app: three replicas, so one pod's trouble cannot empty the Service.
WEB = Netexec("web", replicas=3, readiness_probe=True, pre_stop_sleep=5)
#: How long a user's workload may take to be ready.
SETTLE_TIMEOUT = 300
#: Traffic goes on this long after the node is Ready again on the new kubelet: kube-proxy's
#: first full sync after its restart, within its one-second minimum period, plus the
#: generator's two-second request timeout.
TRAFFIC_AFTER_UPGRADE = 3.0

#: How the scenario has the cluster upgraded while ``web`` serves; returns the figures to report.
Upgrade = Callable[[AppJig], dict[str, Any]]


@pytest.fixture
def versions(podlife_cluster: ClusterHandle, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The local cluster restarted on the version to upgrade from; after the test, back on the run's version."""
    if not podlife_cluster.on_this_host:
        pytest.skip("upgrading in place replaces the local cluster's processes: the local cluster only")
    target = resolve_version(podlife_cluster.version)
    minor = int(re.match(r"1\.(\d+)", target).group(1))  # type: ignore[union-attr]
    source = resolve_version(request.config.getoption("upgrade_from") or f"1.{minor - 1}")
    cluster = LocalCluster()
    running = Settings.from_record(cluster.recorded()["settings"])  # type: ignore[index]
    cluster.up(replace(running, version=source))
    cluster.preload_images(target)  # the run's reference images, which the scenario's manifests name
    yield source, target
    cluster.up(replace(running, version=target))


def kill_app_containers(jig: AppJig) -> Callable[[], None]:
    """What a careless upgrade does while the kubelet is down: the node's containers are killed."""
    def kill() -> None:
        crash_all(jig.scene, [name_of(pod) for pod in jig.scene.pods(jig.app.selector)], WEB.container()["name"])
    return kill


def in_place(versions: tuple[str, str], careless: bool = False) -> Upgrade:
    """The local cluster's in-place upgrade, optionally killing the app's containers while the kubelet is down."""
    def upgrade(app: AppJig) -> dict[str, Any]:
        result = LocalCluster().upgrade(versions[1], before_kubelet=kill_app_containers(app) if careless else None)
        return {"from": versions[0], "to": versions[1], "seconds": round(result.seconds, 1),
                "component_restarts_s": result.restarts_s}
    return upgrade


def serve_through(jig: MakeJig, evidence: Evidence, upgrade: Upgrade, served: App | None = None) -> tuple[Window, float]:
    """``served`` (``web`` by default) under traffic from before the upgrade to a little after it.

    Returns the window and when the upgrade began.
    """
    app = jig(served or WEB)
    url = app.deploy(timeout=SETTLE_TIMEOUT)
    with app.scene.traffic(url) as window:
        wait_for(lambda: len(window.attributed().served_by()) >= app.app.replicas, 30, "every replica to serve")
        started = window.mark("upgrade")
        evidence.measure("upgrade", upgrade(app))
        done = window.mark("upgraded")
        wait_for(lambda: now() - done >= TRAFFIC_AFTER_UPGRADE, TRAFFIC_AFTER_UPGRADE + 5, "the traffic tail after the upgrade")
    # Each pod's restart counts as last seen: the figure the verdict judges.
    evidence.measure("container_restarts", {e.name: {container: status.restarts for container, status in e.pod.containers.items()}
                                            for e in window.timeline.of("Pod")})
    return window, started


@pytest.mark.claim("LC-01")
@pytest.mark.lifecycle
@pytest.mark.slow(seconds=90)  # no Kubernetes timer: two restarts of the local cluster, web's start, the upgrade (estimated)
@pytest.mark.disruptive
def test_in_place_upgrade_leaves_running_apps_alone(versions: tuple[str, str], jig: MakeJig, evidence: Evidence) -> None:
    window, started = serve_through(jig, evidence, in_place(versions))
    assert_no_request_lost(window)
    assert_pods_untouched(window.timeline, started)
    assert_endpoints_never_emptied(window.timeline, "web", started)


@pytest.mark.claim("LC-01")
@pytest.mark.control
@pytest.mark.lifecycle
@pytest.mark.slow(seconds=90)  # as the check above (estimated)
@pytest.mark.disruptive
def test_control_upgrade_that_kills_containers_is_caught(versions: tuple[str, str], jig: MakeJig,
                                                         evidence: Evidence) -> None:
    window, started = serve_through(jig, evidence, in_place(versions, careless=True))
    with pytest.raises(AssertionError, match="was restarted"):
        assert_pods_untouched(window.timeline, started)


@pytest.mark.claim("LC-01")
@pytest.mark.slow(seconds=3480)  # waits for your upgrade: at most 4 x --test-time-limit (900 s) less 120 s
@pytest.mark.disruptive
def test_apps_keep_serving_while_you_upgrade(jig: MakeJig, evidence: Evidence, request: pytest.FixtureRequest) -> None:
    """On your cluster: ``--upgrade-watch version:1.37`` (or ``file:PATH``), then upgrade it your way.

    Nodes drained by a real upgrade move pods, so pods may be replaced here; what must hold is
    that the app kept serving: no request lost, and its Service never without a ready endpoint.
    """
    until = request.config.getoption("upgrade_watch")
    if not until:
        pytest.skip("watches an upgrade you do yourself: pass --upgrade-watch version:X.Y or file:PATH")
    watch = UpgradeWatch.parse(until)
    # The slow test's time limit, less what deploying the app and the traffic tail take.
    patience = request.config.getoption("test_time_limit") * 4 - 120

    def wait_for_the_user(app: AppJig) -> dict[str, Any]:
        print(f"\n[podlife] upgrade-watch: web is serving; upgrade the cluster now. Waiting until {watch.describe()} "
              f"(at most {patience:.0f}s)", flush=True)
        began = now()
        wait_for(lambda: watch.done(app.scene.api), patience, f"the upgrade to finish ({watch.describe()})")
        return {"watched_until": watch.describe(), "seconds": round(now() - began, 1)}

    window, started = serve_through(jig, evidence, wait_for_the_user)
    replaced = sorted({e.name for e in window.timeline.of("Pod") if e.seen >= started and e.change in ("ADDED", "DELETED")})
    evidence.measure("pods_added_or_deleted", replaced)
    assert_no_request_lost(window)
    assert_endpoints_never_emptied(window.timeline, "web", started)


@pytest.mark.claim("LC-01")
@pytest.mark.lifecycle
@pytest.mark.slow(seconds=90)  # as the reference app's check above, per workload (estimated)
@pytest.mark.disruptive
def test_your_workload_survives_an_in_place_upgrade(versions: tuple[str, str], user_app: UserApp, jig: MakeJig,
                                                    evidence: Evidence) -> None:
    """``--workload FILE``: each of your workloads through the same upgrade, judged the same way.

    Your app has no bad twin here; the reference control above shows the verdict catches a
    disruptive upgrade, and a pass counts only if your pods carried traffic when it began.
    """
    for archive in user_app.workload.images:  # the cluster was restarted on the old version: load them again
        load_into_local(archive, LocalCluster().ctr_commands(), REGISTRY_ADDRESS)
    window, started = serve_through(jig, evidence, in_place(versions), user_app)
    ledger = window.attributed()
    check_hit_traffic(ledger, Hit("upgrade", started, tuple(sorted(ledger.served_by()))))
    assert_no_request_lost(window)
    assert_pods_untouched(window.timeline, started)
    assert_endpoints_never_emptied(window.timeline, user_app.access.service, started)
