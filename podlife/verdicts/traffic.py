"""Verdicts over the traffic ledger, for podlife's apps and users' alike: what was lost, why, and the fix.

Every failed request is placed by pod and phase: a pod *starting* (routed to, never yet
answered), *serving* (had answered, was not leaving), or *leaving* (its deletion started and the
data path still routed to it), with the step that broke and the change that would fix it, so a
failing reference scenario reads like a failing workload check. Where the harness can read the
node's rules (``observe.datapath``) it knows which pods the data path routed to when a request
was sent, so a refused connection that names no pod is placed too; elsewhere the ledger bounds
it. A request that cannot be placed is said to be, with why.

A pass must have been exposed to the failure it rules out: ``check_exposed`` asks that requests
reached the leaving pods after the kubelet began stopping them (where an app without a preStop
delay gets SIGTERM), else the result is inconclusive (``NotExercised``) with the exposure
measured; ``check_hit_traffic`` asks less, for disruptions judged by a success ratio.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable

from podlife.chaos.apps import Hit
from podlife.errors import NotExercised
from podlife.kernel.defaults import TRAFFIC_POD_PREFIX
from podlife.observe.datapath import DataPath
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger, Request
from podlife.observe.window import Window

SHOWN_FAILURES = 8
#: Margin added to the longest data-path lag measured here when suggesting a preStop delay:
#: kube-proxy's one-second minimum sync period, by which a removal arriving just after a sync
#: waits, which this run may not have met and a busier cluster will.
PRE_STOP_MARGIN = 1.0
#: Requests that must reach the leaving pods after the kubelet began stopping them for a pass to
#: count. Each is a request an app without a preStop delay (SIGTERM at that moment, exit at once)
#: would have lost, but the event's arrival and the app's exit each take a few milliseconds, so
#: one request right at the edge proves little; three, at 25 or more per second per pod, span
#: over 0.1 s past it.
MIN_EXPOSED = 3


def pre_stop_for(lag: float) -> int:
    """The preStop delay, in whole seconds, that covers a data-path lag and kube-proxy's sync period."""
    return math.ceil(lag + PRE_STOP_MARGIN)


def _describe(r: Request, origin: float) -> str:
    return f"#{r.seq} sent at {r.sent - origin:+.3f}s: {r.error or f'HTTP {r.status}'}"


def explain_failures(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float]) -> str:
    """Which requests failed, when, and relative to which landmark (e.g. the delete call)."""
    failures = ledger.failures
    origin = timeline.origin
    marks = ", ".join(f"{name} at {t - origin:+.3f}s" for name, t in sorted(landmarks.items(), key=lambda kv: kv[1]))
    lines = [f"{len(failures)} of {ledger.sent_count} requests to {ledger.target} failed ({marks}):"]
    lines += [f"  {_describe(r, origin)}" for r in failures[:SHOWN_FAILURES]]
    if len(failures) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failures) - SHOWN_FAILURES} more, last at {failures[-1].sent - origin:+.3f}s")
    return "\n".join(lines)


def endpoint_removal_lags(timeline: Timeline) -> dict[str, float]:
    """Per deleted pod, seconds from its deletionTimestamp to its endpoint leaving the ready set (the API side).

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
class Leaving:
    """A pod whose deletion started: when, when the EndpointSlice and when the data path let go of it."""

    pod: str
    since: float
    #: Seconds from ``since`` until its endpoint was no longer ready (None: it stayed ready).
    api_lag: float | None
    #: Seconds from ``since`` until the data path no longer routed to it: measured from the node's
    #: rules (to their sampling's resolution), or, where they cannot be read, at least the last
    #: request it got (``measured`` False). None when neither tells.
    data_path_lag: float | None
    measured: bool

    @property
    def routed_until(self) -> float:
        """Until when requests may have reached it: the data path's drop, else an estimate from the API side."""
        if self.measured and self.data_path_lag is not None:
            return self.since + self.data_path_lag
        estimate = (self.api_lag if self.api_lag is not None else math.inf) + PRE_STOP_MARGIN
        return self.since + max(self.data_path_lag or 0.0, estimate)

    def lag_text(self) -> str:
        api = (f"the EndpointSlice marked it not ready {self.api_lag:.2f}s later" if self.api_lag is not None
               else "its endpoint stayed ready in the EndpointSlice (RQ-02: it turns not ready when deletion starts)")
        if self.data_path_lag is None:
            return f"{api}; when the data path dropped it is unknown"
        if self.measured:
            return f"{api}, the node's rules stopped routing to it {self.data_path_lag:.2f}s later"
        return f"{api}; the data path still routed to it {self.data_path_lag:.2f}s later (its last request there)"


@dataclass(frozen=True)
class Placed:
    """Where a failed request belongs: ``phase`` (starting, serving, leaving, kept alive: leaving, on a
    connection an earlier request opened; no endpoint, unplaced), the pod (with ``?`` when inferred
    from what the data path routed to), and for unplaced ones why."""

    phase: str
    pod: str
    why: str = ""


@dataclass(frozen=True)
class Phases:
    """What each pod of a window was doing when: routed from when, first answered when, leaving since when."""

    #: Per pod: when it was first routed to (the data path's first sample, else its endpoint's first
    #: ready sighting) and when it first answered (inf: never).
    starting: dict[str, tuple[float, float]]
    leaving: dict[str, Leaving]
    data_path: DataPath | None
    timeline: Timeline
    #: ``timeline.address_holders()``, read once.
    holders: dict[str, list[tuple[float, str]]]

    @classmethod
    def of(cls, ledger: Ledger, timeline: Timeline, data_path: DataPath | None = None) -> "Phases":
        first_answer: dict[str, float] = {}
        for r in ledger.requests:
            if r.ok and r.pod:
                first_answer[r.pod] = min(first_answer.get(r.pod, math.inf), r.sent)
        holders = timeline.address_holders()
        routed: dict[str, float] = {}
        for entry in timeline.of("EndpointSlice"):
            for pod, state in entry.slice.endpoints.items():
                if state.ready:
                    routed.setdefault(pod, entry.seen)
        if data_path is not None:
            for route in data_path.routes:
                if (holder := timeline.pod_at(route.address, route.first, holders)) is not None:
                    routed[holder] = min(routed.get(holder, math.inf), route.spans()[1][0])
        api_lags = endpoint_removal_lags(timeline)
        leaving = {pod: _leaving(pod, since, api_lags.get(pod), ledger, data_path, holders)
                   for pod, since in timeline.deletion_started().items() if not pod.startswith(TRAFFIC_POD_PREFIX)}
        starting = {pod: (since, first_answer.get(pod, math.inf)) for pod, since in routed.items()}
        return cls(starting, leaving, data_path, timeline, holders)

    def _is_starting(self, pod: str, at: float) -> bool:
        return at < self.starting.get(pod, (0.0, math.inf))[1]

    def _is_leaving(self, pod: str, at: float, finished: float | None = None) -> bool:
        """Whether ``pod`` was leaving for a request sent at ``at``: sent after its deletion started, or still
        in flight then (``finished``), as a request an app that exits at SIGTERM cuts off is."""
        return pod in self.leaving and self.leaving[pod].since <= (at if finished is None else max(at, finished))

    def routed_at(self, at: float) -> list[str] | None:
        """The pods the data path may have routed a request sent at ``at`` to; None where the rules were not read."""
        if self.data_path is None:
            return None
        pods = (self.timeline.pod_at(a, at, self.holders) for a in self.data_path.routed_at(at))
        return sorted({pod for pod in pods if pod is not None})

    def place(self, r: Request) -> Placed:
        """The phase and pod of a failed request: from the pod it went to, else from the pods that could have refused it then."""
        at = r.sent
        if r.pod:
            if self._is_leaving(r.pod, at, r.finished):
                return Placed("kept alive" if r.reused else "leaving", r.pod)
            return Placed("starting", r.pod) if self._is_starting(r.pod, at) else Placed("serving", r.pod)
        routed = self.routed_at(at)
        if routed is None:  # no rules read: the candidates are the pods starting or leaving then, as estimated
            leaving = [p for p, lv in self.leaving.items() if lv.since <= at <= lv.routed_until]
            starting = [p for p, (a, b) in self.starting.items() if a <= at < b and p not in leaving]
        else:
            if not routed:
                return Placed("no endpoint", "?")
            leaving = [p for p in routed if self._is_leaving(p, at)]
            starting = [p for p in routed if p not in leaving and self._is_starting(p, at)]
        if leaving and not starting:
            return Placed("leaving", f"{'/'.join(leaving)}?")
        if starting and not leaving:
            return Placed("starting", f"{'/'.join(starting)}?")
        if starting:
            return Placed("unplaced", "?", f"a starting pod ({', '.join(starting)}) and a leaving one "
                                           f"({', '.join(leaving)}) were both routed to, and it names neither")
        if routed is None:
            return Placed("unplaced", "?", "no pod was starting or leaving then, and the node's rules could not be read "
                                           "to tell which pod it went to")
        return Placed("unplaced", "?", f"the data path routed to {', '.join(routed)} then, each of which had answered "
                                       "before and none was leaving")


def _leaving(pod: str, since: float, api_lag: float | None, ledger: Ledger | None, data_path: DataPath | None,
             holders: dict[str, list[tuple[float, str]]]) -> Leaving:
    """How long the data path routed to a leaving pod: from the node's rules, else from the last request it got."""
    address = next((a for a, held in holders.items() if any(name == pod for _, name in held)), None)
    if data_path is not None and address is not None:
        route = data_path.route_at(address, since)
        if route is not None:
            dropped = route.gone_by if route.gone_by is not None else route.last
            return Leaving(pod, since, api_lag, round(max(dropped - since, 0.0), 3), True)
    requests = ledger.requests if ledger is not None else []
    last = max((r.sent for r in requests if r.pod == pod and r.sent >= since), default=None)
    return Leaving(pod, since, api_lag, None if last is None else round(last - since, 3), False)


def leaving(timeline: Timeline, pod: str, data_path: DataPath | None) -> Leaving:
    """A deleted pod's exit from the EndpointSlice and from the data path, without traffic (a lone deletion)."""
    return _leaving(pod, timeline.deletion_started()[pod], endpoint_removal_lags(timeline).get(pod), None, data_path,
                    timeline.address_holders())


def diagnose(window: Window) -> list[str]:
    """One paragraph per phase the failed requests belong to: the step that broke, and the fix it calls for."""
    phases = Phases.of(window.ledger, window.timeline, window.data_path)
    placed: dict[str, list[tuple[Request, Placed]]] = {}
    for r in window.ledger.failures:
        where = phases.place(r)
        placed.setdefault(where.phase, []).append((r, where))
    origin = window.timeline.origin
    lines = []
    if "leaving" in placed:
        lines.append(_leaving_text(placed["leaving"], phases, origin))
    if "kept alive" in placed:
        lines.append(_kept_alive_text(placed["kept alive"], phases, origin))
    if "starting" in placed:
        failed = placed["starting"]
        lines.append(
            f"{len(failed)} request(s) failed at pods that had never answered yet ({_counts(p.pod for _, p in failed)}; "
            f"{_errors(failed)}): they were routed to before they could serve. Fix: a readiness probe that succeeds only "
            "once the app answers (on the path traffic uses)"
        )
    if "no endpoint" in placed:
        failed = placed["no endpoint"]
        lines.append(f"{len(failed)} request(s) failed while the node's rules routed the Service to no pod at all "
                     f"({_errors(failed)}; kube-proxy rejects such connections): every pod was gone or not ready then")
    if "serving" in placed:
        failed = placed["serving"]
        lines.append(f"{len(failed)} request(s) failed at pods that had answered before and were not leaving "
                     f"({_counts(p.pod for _, p in failed)}; {_errors(failed)}): the app failed while serving")
    if "unplaced" in placed:
        failed = placed["unplaced"]
        lines.append(f"{len(failed)} failed request(s) could not be placed ({_errors(failed)}): "
                     + "; ".join(f"{why} (x{n})" for why, n in Counter(p.why for _, p in failed).most_common()))
    return lines


def _leaving_text(failed: list[tuple[Request, Placed]], phases: Phases, origin: float) -> str:
    """The leaving pods' failures: per pod the steps (deletion, EndpointSlice, data path, first failure), then the fix.

    Where the rules were not read, the last failed request placed on a pod also bounds its
    data-path lag from below: the data path still routed to it then.
    """
    lines = [f"{len(failed)} request(s) failed at pods that were leaving, the data path still routing to them "
             f"({_counts(p.pod for _, p in failed)}; {_errors(failed)}):"]
    lags = {name: (lv.data_path_lag, lv.measured) for name, lv in phases.leaving.items() if lv.data_path_lag is not None}
    for name, leaving in sorted(phases.leaving.items(), key=lambda kv: kv[1].since):
        mine = [r.sent - leaving.since for r, p in failed if name in p.pod.rstrip("?").split("/")]
        if not mine:
            continue
        if not leaving.measured:
            at_least = round(max(leaving.data_path_lag or 0.0, *mine), 3)
            leaving = replace(leaving, data_path_lag=at_least)
            lags[name] = (at_least, False)
        lines.append(f"  {name}: deletion started at {leaving.since - origin:+.3f}s; {leaving.lag_text()}; requests sent to "
                     f"it from {min(mine):+.2f}s on failed: the app stopped serving before the data path stopped routing to it")
    if lags:
        name, (lag, measured) = max(lags.items(), key=lambda kv: kv[1][0])
        what = (f"the longest data-path lag here, {lag:.2f}s" if measured else
                f"the data path still routed to {name} {lag:.2f}s after its deletion started, and maybe longer")
        lines.append(f"Fix: a preStop sleep of at least {pre_stop_for(lag)}s ({what}, plus "
                     f"{PRE_STOP_MARGIN:g}s for kube-proxy's sync period), or keep serving that long after SIGTERM")
    else:
        lines.append("Fix: a preStop sleep longer than the data path takes to drop a leaving pod, or keep serving that "
                     "long after SIGTERM")
    return "\n".join(lines)


def _kept_alive_text(failed: list[tuple[Request, Placed]], phases: Phases, origin: float) -> str:
    """Requests cut off on kept-alive connections to leaving pods: the data path routes connections, not requests,
    so a client keeps reaching its pod after the rules dropped it, until the app ends the connection."""
    retried = sum(r.retried for r, _ in failed)
    again = (f" (the client sent {retried} of them again on a new connection, as HTTP pools do for a GET, RFC 9112 "
             "9.3.1; a POST, or a client that does not retry, loses them)") if retried else ""
    lines = [f"{len(failed)} request(s) on kept-alive connections were cut off at pods that were leaving "
             f"({_counts(p.pod for _, p in failed)}; {_errors(failed)}){again}: the node's rules route new connections, "
             "so a client that keeps its connection stays with the pod after the data path dropped it, "
             "and the app ended those connections under requests:"]
    for name, leaving in sorted(phases.leaving.items(), key=lambda kv: kv[1].since):
        mine = [r.sent - leaving.since for r, p in failed if p.pod == name]
        if mine:
            lines.append(f"  {name}: deletion started at {leaving.since - origin:+.3f}s; {leaving.lag_text()}; requests on "
                         f"its kept-alive connections were cut off {min(mine):.2f}-{max(mine):.2f}s after it")
    lines.append("Fix: once the preStop sleep is over (or at SIGTERM), answer every request with 'Connection: close' for "
                 "longer than a client waits between requests, then close the connections still idle, and exit when the "
                 "requests in flight are answered; closing idle connections at once (Go: Server.Shutdown, "
                 "Server.SetKeepAlivesEnabled(false)) races with a client sending on one just then; a longer preStop "
                 "sleep does not help these clients")
    return "\n".join(lines)


def _counts(names: Iterable[str]) -> str:
    """``a x3, b x1``: how often each name occurs, most first."""
    return ", ".join(f"{name} x{n}" for name, n in Counter(names).most_common())


def _errors(failed: list[tuple[Request, Placed]]) -> str:
    return _counts(r.error or f"HTTP {r.status}" for r, _ in failed)


def data_path_lags(window: Window) -> dict[str, float]:
    """Per leaving pod, seconds from its deletion starting until the data path dropped it (measured, or at least)."""
    phases = Phases.of(window.ledger, window.timeline, window.data_path)
    return {pod: lv.data_path_lag for pod, lv in phases.leaving.items() if lv.data_path_lag is not None}


def removal_lags(window: Window) -> dict[str, dict[str, float]]:
    """The API side's lag (deletion to the EndpointSlice marking each pod not ready) beside the data path's
    (deletion to the node's rules dropping it, or at least its last request there), as the report shows them."""
    return {"endpoint_removal_lag_s": endpoint_removal_lags(window.timeline), "data_path_lag_s": data_path_lags(window)}


def check_hit_traffic(ledger: Ledger, hit: Hit) -> dict[str, int]:
    """``NotExercised`` unless a pod the disruption hit served a request before it; returns what each served."""
    ledger.check_attributable()
    served = Counter(r.pod for r in ledger.requests if r.ok and r.pod in hit.pods and r.sent < hit.at)
    if not served:
        raise NotExercised(f"the {hit.disruption} hit {', '.join(hit.pods) or 'no pod'}, which had served none of the "
                           "requests before it, so a pass would prove nothing")
    return dict(served)


def exposure(ledger: Ledger, timeline: Timeline, pods: Iterable[str], kept_alive: bool = False) -> dict[str, int]:
    """Per pod, the requests that reached it after the kubelet began stopping it (its ``Killing`` event, else its
    deletion): each one an app that exits at SIGTERM without a preStop delay would have lost. With
    ``kept_alive``, only those on connections an earlier request had opened."""
    return {pod: sum(1 for r in ledger.requests if r.pod == pod and r.sent >= since and (r.reused or not kept_alive))
            for pod, since in exposure_starts(timeline, pods).items()}


def exposure_starts(timeline: Timeline, pods: Iterable[str]) -> dict[str, float]:
    """Per pod, when the kubelet began stopping it: its ``Killing`` event, else its deletion (inf: neither)."""
    started = timeline.deletion_started()
    starts = {}
    for pod in pods:
        stopping = timeline.stopping(pod)
        starts[pod] = stopping.seen if stopping is not None else started.get(pod, math.inf)
    return starts


def exposed(window: Window) -> bool:
    """Whether the window's leaving pods were exposed enough (or a request was already lost): a disruption may stop repeating."""
    ledger = window.attributed()
    return bool(ledger.failures) or sum(exposure(ledger, window.timeline, window.timeline.deletion_started()).values()) >= MIN_EXPOSED


def check_exposed(window: Window, hit: Hit) -> dict[str, int]:
    """``NotExercised`` unless requests reached the pods the disruption removed after the kubelet began stopping them.

    A loss is possible only there: before, the app has not been told to stop; after the data
    path dropped it, nothing reaches it. A disruption whose removals the data path applied at
    once leaves that window empty, and an app that exits at SIGTERM would pass too. Returns the
    exposure per pod, for the report.
    """
    window.ledger.check_attributable()
    counts = exposure(window.ledger, window.timeline, hit.pods)
    if sum(counts.values()) < MIN_EXPOSED and not window.ledger.failures:
        lags = data_path_lags(window)
        raise NotExercised(
            f"only {sum(counts.values())} request(s) reached the pods the {hit.disruption} removed after the kubelet began "
            f"stopping them ({_counts_of(counts)}; at least {MIN_EXPOSED} needed): the data path dropped them "
            f"{_lags_of(lags)} after their deletion started, before an app without a preStop delay would have failed "
            "a request, so a pass would prove nothing"
        )
    return counts


@dataclass(frozen=True)
class KeptAliveEnds:
    """What kept-alive connections to the pods a disruption removed met once the kubelet began stopping them."""

    #: Per pod, the requests on kept connections it got from then on.
    requests: dict[str, int]
    #: Per pod, its answers that said ``Connection: close``: the app ending its connections itself.
    told: dict[str, int]
    #: Requests on kept connections to those pods that the connection's end cut off: no answer came.
    cut: list[Request]


def kept_alive_ends(window: Window, hit: Hit) -> KeptAliveEnds:
    """What kept connections to the pods ``hit`` removed met from the moment the kubelet began stopping each."""
    ledger = window.ledger
    stopping = exposure_starts(window.timeline, hit.pods)
    told = {pod: sum(1 for r in ledger.requests if r.pod == pod and r.reused and r.connection.endswith(",close")
                     and r.sent >= since) for pod, since in stopping.items()}
    cut = [r for r in ledger.requests if r.reused and r.status is None and r.pod in stopping and r.finished >= stopping[r.pod]]
    return KeptAliveEnds(exposure(ledger, window.timeline, hit.pods, kept_alive=True), told, cut)


def check_kept_alive_exposed(window: Window, hit: Hit) -> dict[str, dict[str, int]]:
    """``NotExercised`` unless kept-alive connections carried requests to the removed pods after the kubelet began
    stopping them (RQ-02 for kept connections), and one was in flight when a pod ended its connections.

    Only a request in flight then can be cut off when an app exits with its connections open: an
    app that ends them itself answers it with ``Connection: close`` (``told``), one that exits
    cuts it off (``cut_off``). Connections that were idle at the end show neither, and a pass
    would prove nothing. Returns the counts per pod, for the report.
    """
    ledger = window.ledger
    ledger.check_attributable()
    ends = kept_alive_ends(window, hit)
    counts = {"kept_alive_requests": ends.requests, "told": ends.told, "cut_off": dict(Counter(str(r.pod) for r in ends.cut))}
    if ends.cut or ledger.failures:
        return counts
    if not any(r.reused for r in ledger.requests):
        raise NotExercised("no request went on a kept-alive connection: the app closed every connection after its "
                           "answer, so no kept connection could be cut off and none was shown to be")
    if sum(ends.requests.values()) < MIN_EXPOSED:
        raise NotExercised(
            f"only {sum(ends.requests.values())} request(s) on kept-alive connections reached the pods the {hit.disruption} "
            f"removed after the kubelet began stopping them ({_counts_of(ends.requests)}; at least {MIN_EXPOSED} needed): the "
            "clients' connections had moved off them, so nothing could show what their exit does to kept connections"
        )
    if not any(ends.told.values()):
        kept = [r for r in ledger.requests if r.reused and r.ok]
        connections = ledger.keepalive or len({r.source for r in kept}) or 1
        latency = sum(r.latency for r in kept) / max(len(kept), 1)
        raise NotExercised(
            f"kept-alive connections carried requests to the removed pods after the kubelet began stopping them "
            f"({_counts_of(ends.requests)}), but none was in flight when a pod ended its connections (none was answered "
            "with 'Connection: close', none was cut off): the connections were idle then, and whether the app would cut "
            f"off a request in flight is not shown (its answers took {latency * 1000:.1f} ms on average: at {ledger.rate:g} "
            f"req/s over {connections} kept-alive clients, each carried a request {ledger.rate * latency / connections:.1%} "
            "of the time)"
        )
    return counts


def assert_kept_alive_connections_ended(window: Window, hit: Hit) -> dict[str, int]:
    """RQ-04's own check: the app ended its kept-alive connections itself once told to stop, rather than exiting
    with them open under requests.

    A client cannot tell a request the app dropped in flight from one its close of an idle
    connection crossed on the wire (HTTP/1.1 leaves that race to clients, which send a GET
    again): both come back with no answer. What tells the apps apart is whether the app told
    its clients to leave, with an answer saying ``Connection: close`` after the kubelet began
    stopping its pod. Requests cut off at an app none of whose answers said so fail the check,
    with where and the fix; at an app that said so they are the race, counted for the report
    (their retries are judged with every other request). Run ``check_kept_alive_exposed`` first:
    without a request in flight at a pod's end, neither shows.
    """
    window.ledger.check_usable()
    ends = kept_alive_ends(window, hit)
    told = sum(ends.told.values())
    if ends.cut and not told:
        phases = Phases.of(window.ledger, window.timeline, window.data_path)
        raise AssertionError(
            "The app ended its kept-alive connections under requests without telling its clients: no answer from the "
            "leaving pods said 'Connection: close' after the kubelet began stopping them.\n"
            + _kept_alive_text([(r, phases.place(r)) for r in ends.cut], phases, window.timeline.origin))
    return {"told_to_leave": told, "cut_off_while_closing": len(ends.cut)}


def _counts_of(counts: dict[str, int]) -> str:
    return ", ".join(f"{pod} {n}" for pod, n in counts.items()) or "no pod removed"


def _lags_of(lags: dict[str, float]) -> str:
    return "within " + ", ".join(f"{lag:.2f}s" for lag in lags.values()) if lags else "at an unknown time"


def _failed(window: Window, opening: list[str]) -> AssertionError:
    return AssertionError("\n".join([*opening, *diagnose(window),
                                     explain_failures(window.ledger, window.timeline, window.landmarks)]))


def assert_no_request_lost(window: Window) -> None:
    """Every request answered as a healthy app answers; failures come placed, with the step that broke and the fix."""
    window.ledger.check_usable()
    if window.ledger.failures:
        raise _failed(window, [])


def assert_success_ratio(window: Window, at_least: float) -> None:
    """The app kept serving: the success ratio stays at or above ``at_least``; failures come placed, with fixes."""
    ledger = window.ledger
    ledger.check_usable()
    if ledger.success_ratio < at_least:
        raise _failed(window, [f"success ratio {ledger.success_ratio:.4f} is below {at_least}"])


def assert_requests_lost(window: Window, since: str | None = None) -> None:
    """The negative control's verdict: the bad variant must visibly lose requests, and (given the
    disruption's landmark ``since``) none before it began, else something else broke."""
    ledger, landmarks = window.ledger, window.landmarks
    ledger.check_usable()
    assert ledger.failures, (
        f"the bad variant lost none of {ledger.sent_count} requests, so the check could not tell it "
        f"from the good one ({', '.join(landmarks)})"
    )
    if since is not None:
        before = [r for r in ledger.failures if r.sent < landmarks[since]]
        assert not before, f"{len(before)} requests failed before the {since} began: not the claim's effect"
