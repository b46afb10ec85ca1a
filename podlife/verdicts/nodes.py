"""Verdicts over nodes: budgets under a drain (ND-01), a lost node's timers (ND-02), serving through a loss (ND-04).

Each judges what its claim says happens, on facts the API records (the node's Lease renewal,
its Ready condition's transition, the taint's ``timeAdded``, the pods' readiness and deletion
on the timeline) or the request ledger, against the timers read from the cluster under test.
API timestamps other than the Lease's have one-second resolution: every window below widens by
a second on each side for that, and by the controller's period where it acts on a tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from podlife.observe.nodes import MONITOR_PERIOD, NodeTimers
from podlife.observe.timeline import Timeline
from podlife.observe.traffic import Ledger

#: One-second timestamps of conditions, taints and the timeline's first sight of a change.
STAMP = 1.0
#: How long after a toleration runs out the taint eviction controller deletes the pod: it
#: schedules the deletion for the expiry itself; a second covers the API's write and the watch.
EVICTION_SLACK = 2.0


@dataclass(frozen=True)
class Healthy:
    """The fewest of an app's pods that were ready and not being deleted in a window, and when."""

    fewest: int
    at: float
    at_start: int


def healthy_pods(timeline: Timeline, belongs: Callable[[str], bool], since: float, until: float) -> Healthy:
    """Replay the pods' readiness: the fewest that were ready and not deleting between ``since`` and ``until``.

    A pod being deleted counts as gone from the moment its deletionTimestamp is seen, as the
    disruption controller counts it.
    """
    state: dict[str, bool] = {}
    fewest, fewest_at, at_start = None, since, None
    for entry in timeline.of("Pod"):
        if not belongs(entry.name):
            continue
        if entry.seen > until:
            break
        if entry.change == "DELETED":
            state.pop(entry.name, None)
        else:
            state[entry.name] = entry.pod.ready and entry.pod.deleting is None
        count = sum(state.values())
        if entry.seen < since:
            at_start = count
            continue
        if fewest is None or count < fewest:
            fewest, fewest_at = count, entry.seen
    start = at_start if at_start is not None else sum(state.values())
    return Healthy(min(fewest if fewest is not None else start, start), fewest_at, start)


def assert_budget_held(healthy: Healthy, min_available: int, what: str) -> None:
    """ND-01: at no moment of the drain were fewer than ``min_available`` of the app's pods ready."""
    assert healthy.fewest >= min_available, (
        f"{what} left {healthy.fewest} of the app's pods ready (of {healthy.at_start} before it), "
        f"below the budget's minAvailable {min_available}: the pods were taken off without asking the budget "
        "(a delete, not an eviction) or the budget did not select them"
    )


def assert_marked_not_ready(last_heartbeat: float, not_ready_at: float, timers: NodeTimers) -> float:
    """ND-02: the node was marked not Ready one grace period after its last heartbeat (not sooner, not much later).

    The controller marks a node once ``grace`` has passed since it saw the Lease renewed, on
    its next tick: between ``grace`` and ``grace + MONITOR_PERIOD`` after the renewal, widened
    by the condition's one-second stamp. Returns the measured delay.
    """
    delay = not_ready_at - last_heartbeat
    low, high = timers.monitor_grace - STAMP, timers.monitor_grace + MONITOR_PERIOD + STAMP
    assert low <= delay <= high, (
        f"the node was marked not Ready {delay:.1f}s after its last heartbeat; with the node monitor grace period "
        f"of {timers.monitor_grace:.0f}s ({timers.source}) that should be between {low:.0f}s and {high:.0f}s"
    )
    return delay


def assert_tainted(taint_added: float | None, not_ready_at: float, taint: str) -> float:
    """ND-02: the lost node got the NoExecute ``taint`` when it was marked not Ready; returns the delay."""
    assert taint_added is not None, f"the node was marked not Ready but never got the {taint}:NoExecute taint"
    delay = taint_added - not_ready_at
    assert -STAMP <= delay <= MONITOR_PERIOD + STAMP, (
        f"the {taint}:NoExecute taint came {delay:.1f}s after the node was marked not Ready "
        f"(expected within the controller's {MONITOR_PERIOD:.0f}s period)"
    )
    return delay


def assert_evicted_after_toleration(deletion_seen: dict[str, float], pods: tuple[str, ...], taint_added: float,
                                    toleration: float) -> dict[str, float]:
    """ND-02: each of ``pods`` was evicted (its deletion started) ``toleration`` seconds after the taint.

    Not sooner (the toleration protects it) and not much later (the controller deletes it when
    the toleration runs out). Returns each pod's delay.
    """
    delays, wrong = {}, []
    for pod in pods:
        seen = deletion_seen.get(pod)
        if seen is None:
            wrong.append(f"{pod} is still bound to the lost node, not evicted")
            continue
        delays[pod] = delay = seen - taint_added
        if not toleration - STAMP <= delay <= toleration + EVICTION_SLACK + STAMP:
            wrong.append(f"{pod} was evicted {delay:.1f}s after the taint, its toleration being {toleration:.0f}s")
    assert not wrong, "; ".join(wrong)
    return delays


def assert_replaced_elsewhere(replacements: dict[str, str | None], lost: str, expected: int) -> None:
    """ND-02: the controller's replacements run on nodes other than the lost one."""
    running = {pod: node for pod, node in replacements.items() if node and node != lost}
    assert len(running) >= expected, (
        f"{len(running)} replacement(s) ran on other nodes ({running or 'none'}), expected {expected}: "
        f"{ {p: n for p, n in replacements.items() if p not in running} or 'no new pod was created'}"
    )


def assert_not_replaced(timeline: Timeline, pod: str, uid: str, since: float, until: float) -> None:
    """ND-03: while the old pod object exists, the StatefulSet created no other pod of its name."""
    others = sorted({e.pod.uid or "?" for e in timeline.of("Pod", pod) if since <= e.seen <= until and e.pod.uid != uid})
    assert not others, (
        f"a second pod named {pod} (uid {', '.join(others)}) appeared while the first, on the partitioned node, still existed"
    )


def longest_silence(ledger: Ledger, since: float, until: float) -> tuple[float, float]:
    """The longest stretch in ``[since, until]`` without a request that succeeded, and where it began.

    Requests count by when they were sent: a success sent at t shows the app served at t.
    """
    sent = [since, *sorted(r.sent for r in ledger.between(since, until) if r.ok), until]
    gaps = [(b - a, a) for a, b in zip(sent, sent[1:])]
    return max(gaps)


def assert_kept_serving(ledger: Ledger, since: float, until: float, max_silence: float) -> float:
    """ND-04: from ``since`` (the node lost) to ``until``, the app answered at least every ``max_silence`` seconds."""
    silence, began = longest_silence(ledger, since, until)
    assert silence <= max_silence, (
        f"the app answered no request for {silence:.1f}s, from {began - since:.1f}s after the node was lost "
        f"(allowed {max_silence:.1f}s): its replicas were not spread over nodes, so losing one node took all of them"
    )
    return silence
