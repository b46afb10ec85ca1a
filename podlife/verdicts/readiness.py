"""Verdicts over readiness gating a pod's traffic while a dependency is missing (LC-08)."""

from __future__ import annotations

from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger


def assert_waited_not_ready(timeline: Timeline, ledger: Ledger, pod: str, container: str, arrived: float) -> None:
    """LC-08: before the dependency ``arrived`` the pod's app ran but was NotReady and served nothing;
    afterwards it turned Ready and served, without a restart."""
    entries = list(timeline.of("Pod", pod))
    before = [e for e in entries if e.seen < arrived]
    assert any(e.pod.running(container) for e in before), (
        f"{container} was not running before the dependency appeared: the pod had not started"
    )
    assert not any(e.pod.ready for e in before), f"{pod} was Ready before its dependency existed"
    early = [r for r in ledger.requests if r.ok and r.pod == pod and r.sent < arrived]
    assert not early, f"{pod} served {len(early)} requests before its dependency existed"
    assert any(e.pod.ready for e in entries if e.seen >= arrived), f"{pod} never turned Ready after the dependency appeared"
    assert any(r.ok and r.pod == pod for r in ledger.requests if r.sent >= arrived), f"{pod} served nothing after turning Ready"
    restarts = timeline.most_restarts(pod, container)
    assert restarts == 0, f"{container} restarted {restarts} times: readiness should have waited, not restarted it"
