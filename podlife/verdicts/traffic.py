"""Verdicts over the traffic ledger, for podlife's apps and users' alike: what was lost, why, and the fix.

Every failed request is explained from the timeline (which pod it went to, and what that pod
was doing: shutting down, or not yet able to answer), with the change that would fix it, so a
failing reference scenario reads like a failing workload check. A pass counts only if the
disruption hit pods that were carrying traffic (``check_hit_traffic``); otherwise the result
is inconclusive (``NotExercised``), not a pass: the workload analogue of a negative control.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from podlife.chaos.apps import Hit
from podlife.errors import NotExercised
from podlife.kernel.defaults import TRAFFIC_POD_PREFIX
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request

SHOWN_FAILURES = 8


def _describe(r: Request, origin: float) -> str:
    return f"#{r.seq} sent at {r.sent - origin:+.3f}s: {r.error or f'HTTP {r.status}'}"


def explain_failures(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> str:
    """Which requests failed, when, and relative to which landmark (e.g. the delete call)."""
    failures = ledger.failures
    origin = timeline.origin
    marks = ", ".join(f"{name} at {t - origin:+.3f}s" for name, t in sorted(landmarks.items(), key=lambda kv: kv[1]))
    lines = [f"{len(failures)} of {len(ledger.requests)} requests to {ledger.target} failed ({marks}):"]
    lines += [f"  {_describe(r, origin)}" for r in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failures) - SHOWN_FAILURES} more, last at {failures[-1].sent - origin:+.3f}s")
    return "\n".join(lines)


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
            return e.seen >= t and not e.slice.ready(p)

        removed = timeline.first("EndpointSlice", gone)
        if removed:
            lags[pod] = round(removed.seen - since, 3)
    return lags


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
            f"({_pods(by_cause['start-up'])}; {_pods(errors['start-up'])}): they were in the Service before they could serve. "
            "Fix: a readiness "
            "probe that succeeds only once the app answers (on the path traffic uses)"
        )
    if "unknown" in by_cause:
        lines.append(f"{sum(by_cause['unknown'].values())} failed request(s) could not be tied to a pod's start or shutdown "
                     f"({_pods(errors['unknown'])})")
    return lines


def _pods(counts: Counter[str]) -> str:
    """``a x3, b x1``: what a Counter of pods (or of errors) holds, most first."""
    return ", ".join(f"{pod} x{n}" for pod, n in counts.most_common())


def check_hit_traffic(ledger: Ledger, hit: Hit) -> dict[str, int]:
    """``NotExercised`` unless a pod the disruption hit served a request before it; returns what each served."""
    ledger.check_attributable()
    served = Counter(r.pod for r in ledger.requests if r.ok and r.pod in hit.pods and r.sent < hit.at)
    if not served:
        raise NotExercised(f"the {hit.disruption} hit {', '.join(hit.pods) or 'no pod'}, which had served none of the "
                           "requests before it, so a pass would prove nothing")
    return dict(served)


def assert_no_request_lost(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> None:
    """Every request answered as a healthy app answers; failures come with their causes and fixes."""
    ledger.check_usable()
    if ledger.failures:
        raise AssertionError("\n".join([*diagnose(ledger, timeline), explain_failures(ledger, timeline, landmarks)]))


def assert_success_ratio(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float], at_least: float) -> None:
    """The app kept serving: the success ratio stays at or above ``at_least``; failures come with causes and fixes."""
    ledger.check_usable()
    if ledger.success_ratio < at_least:
        raise AssertionError("\n".join([f"success ratio {ledger.success_ratio:.4f} is below {at_least}",
                                        *diagnose(ledger, timeline), explain_failures(ledger, timeline, landmarks)]))


def assert_requests_lost(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float], since: str | None = None) -> None:
    """The negative control's verdict: the bad variant must visibly lose requests, and (given the
    disruption's landmark ``since``) none before it began, else something else broke."""
    ledger.check_usable()
    assert ledger.failures, (
        f"the bad variant lost none of {len(ledger.requests)} requests, so the check could not tell it "
        f"from the good one ({', '.join(landmarks)})"
    )
    if since is not None:
        before = [r for r in ledger.failures if r.sent < landmarks[since]]
        assert not before, f"{len(before)} requests failed before the {since} began: not the claim's effect"
