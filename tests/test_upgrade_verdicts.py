"""The upgrade verdicts read the timeline (a pod that changed, a Service left without endpoints); --upgrade-watch's forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from podlife.chaos.upgrade import UpgradeWatch
from podlife.errors import PodlifeError
from podlife.observe.timeline import Entry, Timeline
from podlife.verdicts.upgrade import assert_endpoints_never_emptied, assert_pods_untouched
from tests.entries import container, pod_entry, slice_entry


def _pod(seen: float, name: str, change: str = "MODIFIED", restarts: int = 0, ip: str = "10.244.0.5",
         uid: str = "u1", deleting: float | None = None) -> Entry:
    return pod_entry(seen, name, change, ip=ip, uid=uid, deleting=deleting, containers={"app": container(restarts=restarts)})


def _slice(seen: float, **ready: bool) -> Entry:
    return slice_entry(seen, ready)


UPGRADE = 10.0


def test_pods_seen_again_unchanged_after_the_kubelet_restart_pass() -> None:
    timeline = Timeline(origin=0.0, entries=[_pod(1, "web-a", "EXISTING"), _pod(15, "web-a"), _pod(16, "web-a")])
    assert_pods_untouched(timeline, UPGRADE)


@pytest.mark.parametrize(("after", "message"), [
    (_pod(15, "web-a", restarts=1), "web-a's container app was restarted (restart count 0 -> 1)"),
    (_pod(15, "web-a", ip="10.244.0.9"), "web-a's ip changed from 10.244.0.5 to 10.244.0.9"),
    (_pod(15, "web-a", uid="u2"), "web-a's uid changed"),
    (_pod(15, "web-a", deleting=14.0), "web-a was deleted"),
    (_pod(15, "web-b", "ADDED"), "a new pod web-b appeared"),
])
def test_a_pod_the_upgrade_changed_is_named(after: Entry, message: str) -> None:
    timeline = Timeline(origin=0.0, entries=[_pod(1, "web-a", "EXISTING"), after])
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        assert_pods_untouched(timeline, UPGRADE)


def test_endpoints_emptied_after_the_upgrade_began_are_caught_with_when() -> None:
    timeline = Timeline(origin=0.0, entries=[_slice(1, a=False), _slice(12, a=True), _slice(14, a=False), _slice(15, a=True)])
    with pytest.raises(AssertionError, match=r"no ready endpoint at \+14\.0s"):
        assert_endpoints_never_emptied(timeline, "web", UPGRADE)
    assert_endpoints_never_emptied(Timeline(origin=0.0, entries=[_slice(1, a=False), _slice(12, a=True)]), "web", UPGRADE)


def test_upgrade_watch_reads_its_two_forms_and_refuses_others_in_one_line(tmp_path: Path) -> None:
    assert UpgradeWatch.parse("version:v1.37") == UpgradeWatch("version", "1.37")
    done = tmp_path / "upgraded"
    watch = UpgradeWatch.parse(f"file:{done}")
    assert not watch.done(client.ApiClient()) and watch.describe() == f"{done} exists"
    done.touch()
    assert watch.done(client.ApiClient())
    for bad in ("1.37", "version:latest", "file:", "nodes:3"):
        with pytest.raises(PodlifeError, match="expected version:1.37 or file:PATH"):
            UpgradeWatch.parse(bad)
