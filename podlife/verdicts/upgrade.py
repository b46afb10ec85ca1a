"""Verdicts over an in-place cluster upgrade: the app's pods must not notice it.

A control-plane restart changes nothing a pod can see, and a kubelet restarted on a new binary
adopts the containers it finds running: the pods keep their UIDs, IPs and containers (no
restart counted), the Service keeps ready endpoints throughout, and no request fails. Each
verdict names the first thing that broke that promise, from the timeline's Pod and
EndpointSlice records.
"""

from __future__ import annotations

from podlife.observe.snapshots import PodSnapshot
from podlife.observe.timeline import Timeline


def assert_pods_untouched(timeline: Timeline, since: float) -> None:
    """Every pod of the namespace kept, from ``since`` on, the UID, IP and restart counts it had then; none came or went."""
    before: dict[str, PodSnapshot] = {e.name: e.pod for e in timeline.of("Pod") if e.seen < since}
    changes = []
    for entry in timeline.of("Pod"):
        if entry.seen < since:
            continue
        was, pod = before.get(entry.name), entry.pod
        if was is None:
            changes.append(f"a new pod {entry.name} appeared ({entry.change})")
        elif entry.change == "DELETED" or pod.deleting is not None:
            changes.append(f"{entry.name} was deleted")
        else:
            for fact, then, now in (("uid", was.uid, pod.uid), ("ip", was.ip, pod.ip)):
                if now != then:
                    changes.append(f"{entry.name}'s {fact} changed from {then} to {now}")
            for container, status in pod.containers.items():
                if status.restarts > was.restarts(container):
                    changes.append(f"{entry.name}'s container {container} was restarted "
                                   f"(restart count {was.restarts(container)} -> {status.restarts})")
    unique = list(dict.fromkeys(changes))
    assert not unique, "the upgrade disturbed the app's pods: " + "; ".join(unique[:6])


def assert_endpoints_never_emptied(timeline: Timeline, service: str, since: float) -> None:
    """The Service listed at least one ready endpoint in every EndpointSlice record since ``since``."""
    empty = [e.seen - timeline.origin for e in timeline.of("EndpointSlice")
             if e.seen >= since and e.slice.service == service
             and not any(ep.ready for ep in e.slice.endpoints.values())]
    assert not empty, (f"{service}'s Service had no ready endpoint at {', '.join(f'{t:+.1f}s' for t in empty[:5])}: "
                       "every request sent then had nowhere to go")
