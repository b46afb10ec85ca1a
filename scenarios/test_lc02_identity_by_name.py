"""LC-02: address peers by name, never by IP.

Story: a client pod talks to a StatefulSet member through its DNS name (``db-0.db``, via
the headless Service) and to a Deployment through its Service name. The member, or the
Deployment's pod, is deleted and replaced: the IP changes, the name reaches the
replacement. Control: the client that kept the old IP gets no answer from the member, and
the verdict catches it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from kubernetes import client

from podlife.errors import ExecFailed
from podlife.scene import Scene
from podlife.served import meta, name_of, pod_ip
from podlife.verdicts.identity import assert_reaches
from podlife.waiting import wait_for
from podlife.workloads.agnhost import HTTP_PORT, Netexec, client_pod
from podlife.workloads.jig import MakeJig


@dataclass
class Replacement:
    """What a client saw after a pod was replaced: who answered by name and by the old IP."""

    member: str
    old_ip: str
    new_ip: str
    by_name: str | None
    by_old_ip: str | None


#: How long a client keeps asking by name: a new pod's endpoint reaches kube-proxy (1 s sync
#: period) and DNS (CoreDNS watches EndpointSlices) a moment after the pod turns Ready.
PATIENCE = 10.0


def ask(scene: Scene, url: str, patience: float = 0.0) -> str | None:
    """What agnhost's ``/hostname`` at ``url`` answers to the in-cluster client, or None; retried for ``patience`` s."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return scene.exec("client", ["curl", "-sf", "-m", "2", url]).strip() or None
        except ExecFailed:
            if time.monotonic() >= deadline:
                return None
        time.sleep(0.5)


def replace_pod(scene: Scene, selector: dict[str, str], name: str) -> tuple[str, client.V1Pod]:
    """Delete pod ``name``; return its IP and the Ready pod that was created to replace it."""
    before = {meta(p).uid for p in scene.ready_pods(selector)}
    old = scene.pod(name)
    scene.delete_pod(name, grace_period=1)

    def replacement() -> client.V1Pod | None:
        pods = scene.ready_pods(selector)
        fresh = [p for p in pods if meta(p).uid not in before]
        return fresh[0] if fresh and len(pods) == len(before) else None

    return pod_ip(old), wait_for(replacement, 90, f"{name}'s replacement to be Ready")


def start_client(scene: Scene) -> None:
    scene.apply(client_pod("client"))
    wait_for(lambda: scene.all_running("client"), 60, "the client pod to run")


def replace_member(scene: Scene) -> Replacement:
    """Replace StatefulSet member db-0 and ask for it by its DNS name and by its old IP."""
    db = Netexec("db", replicas=2)
    scene.apply(db.statefulset(), db.service(headless=True))
    scene.wait_ready(db.selector, 2)
    start_client(scene)
    old_ip, fresh = replace_pod(scene, db.selector, "db-0")
    return Replacement("db-0", old_ip, pod_ip(fresh),
                       ask(scene, f"http://db-0.db:{HTTP_PORT}/hostname", PATIENCE),
                       ask(scene, f"http://{old_ip}:{HTTP_PORT}/hostname"))


@pytest.mark.claim("LC-02")
@pytest.mark.disruptive
def test_statefulset_member_name_reaches_its_replacement(scene: Scene) -> None:
    seen = replace_member(scene)
    assert seen.new_ip != seen.old_ip, f"db-0's replacement kept IP {seen.old_ip}: nothing to tell apart"
    assert_reaches(seen.by_name, seen.member, "by its DNS name")


@pytest.mark.claim("LC-02")
@pytest.mark.disruptive
def test_service_name_reaches_the_replacement_pod(jig: MakeJig) -> None:
    app = jig(Netexec("web"))
    app.deploy()
    start_client(app.scene)
    old_ip, fresh = replace_pod(app.scene, app.app.selector, name_of(app.pods()[0]))
    assert pod_ip(fresh) != old_ip, f"the replacement kept IP {old_ip}: nothing to tell apart"
    assert_reaches(ask(app.scene, "http://web/hostname", PATIENCE), name_of(fresh), "by its Service name")


@pytest.mark.claim("LC-02")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_client_holding_the_old_ip_is_caught(scene: Scene) -> None:
    seen = replace_member(scene)
    with pytest.raises(AssertionError, match="by its old IP"):
        assert_reaches(seen.by_old_ip, seen.member, "by its old IP")
