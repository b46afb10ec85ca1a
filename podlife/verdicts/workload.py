"""Verdicts over a user's workload: what it lost, why, and the change that would fix it.

A reference scenario proves a claim with a good variant and a bad one. A user's app has no bad
twin, so its verdicts stand on two other legs: every failed request is explained from the
timeline (which pod it went to, and what that pod was doing: shutting down, or not yet able
to answer), and a pass counts only if the disruption hit pods that were carrying traffic;
otherwise the result is inconclusive (``NotExercised``), not a pass.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from podlife.errors import NotExercised
from podlife.observe.incluster import TRAFFIC_POD_PREFIX
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.verdicts.advice import pre_stop_advice, pre_stop_sleep
from podlife.verdicts.shutdown import KILL_EARLY_TOLERANCE, KUBELET_MINIMUM_GRACE, SIGKILL_EXIT, Shutdown
from podlife.verdicts.traffic import explain_failures

#: Margin added to the slowest endpoint removal measured here when suggesting a preStop delay:
#: kube-proxy's one-second minimum sync period, which a busier cluster may need on top.
PRE_STOP_MARGIN = 1.0


def endpoint_removal_lags(timeline: Timeline) -> dict[str, float]:
    """Per deleted pod, seconds from its deletionTimestamp to its endpoint leaving the ready set.

    Both ends are when the harness's watches delivered them, so the watch delay cancels out.
    """
    lags: dict[str, float] = {}
    for pod, since in timeline.deletion_started().items():
        def gone(e: Entry, p: str = pod, t: float = since) -> bool:
            return e.seen >= t and not e.facts["endpoints"].get(p, {}).get("ready", False)

        removed = timeline.first("EndpointSlice", gone)
        if removed:
            lags[pod] = round(removed.seen - since, 3)
    return lags


def check_attributable(ledger: Ledger) -> None:
    """``NotExercised`` when healthy answers came but none names its pod: no check could show what it hit."""
    if any(r.ok for r in ledger.requests) and not any(r.pod for r in ledger.requests if r.ok):
        raise NotExercised(
            "no request could be attributed to a pod, so nothing could show a disruption hit pods carrying traffic: "
            "name the pod in a response header (servedBy.header in the workload file), or run on the local cluster, "
            "where connection tracking tells"
        )


def check_hit_traffic(ledger: Ledger, pods: list[str], before: float, disruption: str) -> dict[str, int]:
    """``NotExercised`` unless one of ``pods`` served a request before ``before``; returns what each served."""
    check_attributable(ledger)
    served = Counter(r.pod for r in ledger.requests if r.ok and r.pod in pods and r.sent < before)
    if not served:
        raise NotExercised(f"the {disruption} hit {', '.join(pods) or 'no pod'}, which had served none of the requests "
                           "before it, so a pass would prove nothing")
    return dict(served)


@dataclass(frozen=True)
class Phases:
    """When each pod of the window was starting (there, never yet answered) or shutting down (deleted, still routed)."""

    starting: dict[str, tuple[float, float]]
    stopping: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, ledger: Ledger, timeline: Timeline) -> "Phases":
        first_success: dict[str, float] = {}
        for r in ledger.requests:
            if r.ok and r.pod:
                first_success[r.pod] = min(first_success.get(r.pod, math.inf), r.sent)
        # From the pod's first sight, not its endpoint's: kube-proxy may route to it before the watch tells.
        routed: dict[str, float] = {}
        for entry in timeline.of("Pod"):
            if not entry.name.startswith(TRAFFIC_POD_PREFIX):
                routed.setdefault(entry.name, entry.seen)
        lags = endpoint_removal_lags(timeline)
        deleting = timeline.deletion_started()
        return cls(
            starting={pod: (since, first_success.get(pod, math.inf)) for pod, since in routed.items()},
            stopping={pod: (since, since + lags.get(pod, math.inf) + PRE_STOP_MARGIN) for pod, since in deleting.items()},
        )

    def cause(self, r: Request) -> tuple[str, str]:
        """(cause, pod) of a failed request: from the pod it went to, or else from which pods could have refused it then."""
        if r.pod:
            if r.sent < self.starting.get(r.pod, (0.0, math.inf))[1]:
                return "start-up", r.pod
            return ("shutdown", r.pod) if r.pod in self.stopping and r.sent >= self.stopping[r.pod][0] else ("unknown", r.pod)
        starting = [p for p, (a, b) in self.starting.items() if a <= r.sent < b]
        stopping = [p for p, (a, b) in self.stopping.items() if a <= r.sent < b]
        if starting and not stopping:
            return "start-up", f"{'/'.join(sorted(starting))}?"
        if stopping and not starting:
            return "shutdown", f"{'/'.join(sorted(stopping))}?"
        return "unknown", "a starting or a stopping pod" if starting else "?"


def diagnose(ledger: Ledger, timeline: Timeline) -> list[str]:
    """One line per cause of the failed requests, with the fix it calls for.

    A failed request names its pod when the pod's answer or connection tracking told; a refused
    connection leaves no tracking behind, so then the cause is read from what the app's pods
    were doing when it was sent: a pod routed to but never yet answering is starting, a deleted
    pod still routed to is shutting down. Such pods are named with a question mark.
    """
    phases = Phases.of(ledger, timeline)
    by_cause: dict[str, Counter[str]] = {}
    errors: dict[str, Counter[str]] = {}
    for r in ledger.failures:
        cause, pod = phases.cause(r)
        by_cause.setdefault(cause, Counter())[pod] += 1
        errors.setdefault(cause, Counter())[r.error or f"HTTP {r.status}"] += 1
    lines = []
    if "shutdown" in by_cause:
        lags = endpoint_removal_lags(timeline)
        worst = max(lags.values(), default=0.0)
        lines.append(
            f"{sum(by_cause['shutdown'].values())} request(s) went to pods whose deletion had started "
            f"({_pods(by_cause['shutdown'])}; {_pods(errors['shutdown'])}): the app stopped answering while the Service still routed to it "
            f"(endpoint removal took up to {worst:.2f}s here). Fix: a preStop sleep of at least "
            f"{math.ceil(worst + PRE_STOP_MARGIN)}s, or keep serving that long after SIGTERM"
        )
    if "start-up" in by_cause:
        lines.append(
            f"{sum(by_cause['start-up'].values())} request(s) went to pods before they had ever answered "
            f"({_pods(by_cause['start-up'])}; {_pods(errors['start-up'])}): they were in the Service before they could serve. Fix: a readiness "
            "probe that succeeds only once the app answers (on the path traffic uses)"
        )
    if "unknown" in by_cause:
        lines.append(f"{sum(by_cause['unknown'].values())} failed request(s) could not be tied to a pod's start or shutdown "
                     f"({_pods(errors['unknown'])})")
    return lines


def assert_nothing_lost(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> None:
    """Every request answered as a healthy app answers; failures come with their causes and fixes."""
    ledger.check_usable()
    if ledger.failures:
        raise AssertionError("\n".join([*diagnose(ledger, timeline), explain_failures(ledger, timeline, landmarks)]))


def assert_keeps_serving(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float], at_least: float) -> None:
    """LC-01 for a user's app: the success ratio stays at or above ``at_least``."""
    ledger.check_usable()
    if ledger.success_ratio < at_least:
        raise AssertionError("\n".join([f"success ratio {ledger.success_ratio:.4f} is below {at_least}",
                                        *diagnose(ledger, timeline), explain_failures(ledger, timeline, landmarks)]))


@dataclass(frozen=True)
class PreStop:
    """The app container's preStop hook as its manifest declares it (LC-12).

    ``seconds`` is known for a plain sleep (the sleep action, or an exec of ``sleep N``); an
    httpGet or any other command takes as long as it takes, and the kubelet reports only its
    failure (a ``FailedPreStopHook`` event), never its length.
    """

    action: str | None
    seconds: float | None

    @classmethod
    def of(cls, container: dict[str, Any]) -> "PreStop":
        hook = (container.get("lifecycle") or {}).get("preStop") or {}
        action = next((a for a in ("sleep", "exec", "httpGet", "tcpSocket") if a in hook), None)
        return cls(action, pre_stop_sleep(container))

    def describe(self) -> str:
        if self.action is None:
            return "none"
        return f"{self.action} {self.seconds:g}s" if self.seconds is not None else f"{self.action} (length unknown)"


def shutdown_times(s: Shutdown, grace: float, pre_stop: PreStop) -> dict[str, Any]:
    """SD-02/SD-03/LC-12 for a user's app: how its shutdown went, split at SIGTERM where the hook's length is known.

    The kubelet runs the preStop hook for at most the grace period, then sends SIGTERM, and
    SIGKILLs when the grace period is over (never sooner than 2 s after SIGTERM). An exit 137 at
    that moment means the app did not exit on SIGTERM in the time it had; when a preStop sleep
    left it little of the grace period, that is named as the cause. Passing, a preStop sleep
    eating most of the grace period is returned as advice. The seconds after SIGTERM include the
    kubelet's reaction to the delete and have the one-second resolution of ``finishedAt``.
    """
    state = s.final_state()
    took = state["finished"] - s.deleted_at
    hook = min(pre_stop.seconds, grace) if pre_stop.seconds is not None else None
    times: dict[str, Any] = {"shutdown_s": round(took, 1), "pre_stop": pre_stop.describe()}
    if hook is not None:
        times["after_sigterm_s"] = round(max(took - hook, 0.0), 1)
    if state["exit_code"] == SIGKILL_EXIT and took >= grace - KILL_EARLY_TOLERANCE:
        left = max(grace - hook, KUBELET_MINIMUM_GRACE) if hook is not None else None
        if left is not None and pre_stop_advice(hook, grace):
            fix = (f"its preStop hook ({pre_stop.describe()}) left it only {left:g}s of the {grace:g}s grace period "
                   f"after SIGTERM. Fix: raise terminationGracePeriodSeconds to the preStop delay plus the app's "
                   "shutdown time, or shorten the preStop delay")
        else:
            after = f" in the {left:g}s after its preStop hook" if left is not None else ""
            unknown = (f"; its preStop hook ({pre_stop.describe()}) may also have used the grace period"
                       if pre_stop.action and left is None else "")
            fix = (f"it did not exit on SIGTERM{after}{unknown}. Fix: handle SIGTERM (stop accepting, finish "
                   "in-flight requests, exit); if a shell is PID 1, exec the app so the signal reaches it")
        raise AssertionError(f"{s.container} of {s.pod} was SIGKILLed {took:.1f}s after the delete, at its "
                             f"{grace:g}s grace period: {fix}")
    if advice := pre_stop_advice(hook, grace):
        times["advice"] = [f"LC-12: {advice}"]
    return times


def _pods(counts: Counter[str]) -> str:
    """``a x3, b x1``: what a Counter of pods (or of errors) holds, most first."""
    return ", ".join(f"{pod} x{n}" for pod, n in counts.most_common())
