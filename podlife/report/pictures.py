"""What the evidence pictures show, as data: lanes of requests with landmarks, and a pod's shutdown.

Pure functions over what was recorded: a traffic window's ledger, timeline and landmarks, or a
deletion's ``Shutdown``. What a picture claims is decided here and unit-tested without drawing;
``report.drawing`` only draws it. Every time is seconds from a zero the picture names, on the
harness's clock (``observe.clock``): for traffic, the window's start (``Timeline.origin``, the zero
of the "timeline" and "landmarks" attachments and of the request ledger CSV); for a shutdown,
the harness's delete call.

Where a moment comes from matters to whoever reads the picture, so each mark says it:
- seen: when the harness's watch delivered the change (deletionTimestamp, endpoint
  conditions, the kubelet's ``Killing`` event, the pod's removal), a few milliseconds after the
  API server had it;
- pod status: a container's ``finishedAt``, stamped by the kubelet in whole seconds;
- record: what a witness's hooks and main process wrote with microsecond stamps
  (``workloads.witness``), the only exact account of preStop and SIGTERM;
- estimated: SIGTERM after a preStop sleep the spec declares, where nothing recorded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podlife.observe.clock import K8S_TIMESTAMP_RESOLUTION
from podlife.observe.datapath import DataPath
from podlife.observe.records import parse_records
from podlife.observe.shutdown import DeclaredPreStop, Shutdown
from podlife.observe.snapshots import EndpointState
from podlife.observe.timeline import Entry, Timeline
from podlife.observe.traffic import Ledger
from podlife.report.ledger_csv import outcome
from podlife.verdicts.shutdown import SIGKILL_EXIT, kill_window

#: The lane of requests no pod could be named for: mostly failures, since only connection
#: tracking names the pod of a failed request, and an app naming itself only does so in an answer.
UNKNOWN_LANE = "pod not named"
#: The longest lane label. A longer pod name keeps its tail, where a Deployment's pod-template
#: hash and random suffix tell its pods apart (old from new in a rollout), after an ellipsis.
LABEL_CHARS = 26
LABEL_TAIL = 16

#: Marks on a pod's lane, in legend order, with what each means and where it comes from.
MARKS = {
    "ready": "Ready (seen)",
    "deleting": "deletionTimestamp (seen)",
    "stopping": "kubelet Killing event: preStop, then SIGTERM (seen)",
    "endpoint-not-ready": "endpoint not ready (seen)",
    "endpoint-removed": "endpoint removed (seen)",
    "data-path-dropped": "the node's rules stopped routing to it (sampled)",
    "prestop-start": "preStop start (record)",
    "prestop-end": "preStop end (record)",
    "sigterm": "SIGTERM (record)",
    "sigterm-estimated": "SIGTERM (estimated: Killing event plus the spec's preStop sleep)",
    "exit": "container exit, within the bar's second (finishedAt)",
    "removed": "pod removed (seen)",
}
#: The records of a witness (``workloads.witness``) that are landmarks of a shutdown.
RECORDED = ("prestop-start", "prestop-end", "sigterm")


@dataclass(frozen=True)
class Mark:
    """A moment, in seconds from the picture's zero: a ``MARKS`` kind, or ``scenario`` for the scenario's own landmarks."""

    at: float
    kind: str
    note: str = ""


def short_pod_name(name: str) -> str:
    """``name`` cut to ``LABEL_CHARS``: its head, an ellipsis, and its last ``LABEL_TAIL`` characters."""
    if len(name) <= LABEL_CHARS:
        return name
    return f"{name[:LABEL_CHARS - LABEL_TAIL - 1]}…{name[-LABEL_TAIL:]}"


def _became_ready(entries: list[Entry]) -> Entry | None:
    """The first entry showing the pod Ready after one showing it not Ready: a pod Ready all along did not become so."""
    seen_unready = False
    for e in entries:
        if not e.pod.ready and e.change != "DELETED":
            seen_unready = True
        elif e.pod.ready and seen_unready:
            return e
    return None


def pod_marks(timeline: Timeline, pod: str, zero: float, container: str | None = None) -> list[Mark]:
    """What happened to ``pod``, in time order; exits and records of ``container`` only, when named.

    A container that terminated before ``zero`` (an earlier run of a restarted one) is history, not
    a landmark: exits are kept from one timestamp resolution before ``zero`` on.
    """
    seen: list[tuple[Entry | None, str]] = [
        (_became_ready(list(timeline.of("Pod", pod))), "ready"),
        (timeline.deleting(pod), "deleting"),
        (timeline.stopping(pod), "stopping"),
        (timeline.removed(pod), "removed"),
    ]
    marks = [Mark(e.seen - zero, kind) for e, kind in seen if e is not None]
    for name, state in timeline.terminations(pod).items():
        if container not in (None, name):
            continue
        finished, code = state.finished, state.exit_code
        if finished is not None and finished >= zero - K8S_TIMESTAMP_RESOLUTION:
            marks.append(Mark(finished - zero, "exit", f"{name}: {'SIGKILL 137' if code == SIGKILL_EXIT else f'exit {code}'}"))
        marks += [Mark(at - zero, event, name) for event, at in parse_records(state.message) if event in RECORDED]
    return sorted(marks, key=lambda m: m.at)


def endpoint_marks(timeline: Timeline, zero: float) -> dict[str, list[Mark]]:
    """Per pod, when its endpoint turned not ready and when it left its EndpointSlice, in time order."""
    before: dict[str, dict[str, EndpointState]] = {}
    marks: dict[str, list[Mark]] = {}
    for entry in timeline.of("EndpointSlice"):
        now: dict[str, EndpointState] = {} if entry.change == "DELETED" else entry.slice.endpoints
        for pod, was in before.get(entry.name, {}).items():
            if pod not in now:
                marks.setdefault(pod, []).append(Mark(entry.seen - zero, "endpoint-removed"))
            elif was.ready and not now[pod].ready:
                marks.setdefault(pod, []).append(Mark(entry.seen - zero, "endpoint-not-ready"))
        before[entry.name] = now
    return marks


def data_path_marks(timeline: Timeline, data_path: DataPath | None, zero: float) -> dict[str, list[Mark]]:
    """Per pod, when the node's rules stopped routing to it (the first sample without it), where they were read."""
    if data_path is None:
        return {}
    holders = timeline.address_holders()
    marks: dict[str, list[Mark]] = {}
    for route in data_path.routes:
        pod = timeline.pod_at(route.address, route.last, holders)
        if route.gone_by is not None and pod is not None:
            marks.setdefault(pod, []).append(Mark(route.gone_by - zero, "data-path-dropped"))
    return marks


@dataclass
class Lane:
    """One pod's requests (``sent`` time, outcome) and landmarks; ``pod`` is None for requests no pod was named for."""

    pod: str | None
    ticks: list[tuple[float, str]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def label(self) -> str:
        ok, cut = (sum(1 for _, o in self.ticks if o == outcome) for outcome in ("ok", "retried"))
        failed = len(self.ticks) - ok - cut  # a cut-off attempt was sent again: not a lost request
        counts = f"{ok} ok" + (f", {failed} failed" if failed else "") + (f", {cut} cut off" if cut else "")
        return f"{short_pod_name(self.pod) if self.pod else UNKNOWN_LANE}\n{counts}"


@dataclass
class TrafficPicture:
    """A traffic window as lanes of requests, one per pod, with the landmarks on the same clock (zero: window start)."""

    title: str
    lanes: list[Lane]
    #: The scenario's own landmarks (``Window.mark``): the delete call, a rollout's start, ...
    landmarks: list[Mark]
    #: Spans in which a watch was broken, so its landmarks may be missing: (from, to, what).
    gaps: list[tuple[float, float, str]]
    end: float


def traffic_picture(ledger: Ledger, timeline: Timeline, landmarks: dict[str, float],
                    data_path: DataPath | None = None) -> TrafficPicture:
    """Lay a window out: a lane for each pod that served or was an endpoint, then one for unnamed requests.

    Pods are in order of first appearance (first seen by the watch, else first named by a
    request), so in a rollout the old pods come before the new ones. Pods that neither served
    nor stood behind the Service (the in-cluster traffic pods, say) get no lane.
    """
    zero = timeline.origin
    endpoints = endpoint_marks(timeline, zero)
    for pod, marks in data_path_marks(timeline, data_path, zero).items():
        endpoints.setdefault(pod, []).extend(marks)
    pods = {r.pod for r in ledger.requests if r.pod} | {pod for e in timeline.of("EndpointSlice") for pod in e.slice.endpoints}
    first_seen = {pod: min([e.seen for e in timeline.of("Pod", pod)] + [r.sent for r in ledger.requests if r.pod == pod])
                  for pod in pods}
    lanes = {pod: Lane(pod, marks=sorted(pod_marks(timeline, pod, zero) + endpoints.get(pod, []), key=lambda m: m.at))
             for pod in sorted(pods, key=lambda p: (first_seen[p], p))}
    unknown = Lane(None)
    for r in ledger.requests:
        (lanes[r.pod] if r.pod else unknown).ticks.append((r.sent - zero, outcome(r)))
    ordered = list(lanes.values()) + ([unknown] if unknown.ticks else [])
    scenario = sorted((Mark(t - zero, "scenario", name) for name, t in landmarks.items()), key=lambda m: m.at)
    ends = [r.finished - zero for r in ledger.requests] + [m.at for lane in ordered for m in lane.marks]
    end = max(ends + [m.at for m in scenario] + [1.0])
    gaps = [(broken - zero, (resumed if resumed is not None else zero + end) - zero, f"{kind} watch broken: {why}")
            for kind, broken, resumed, why in timeline.gaps]
    failed = len(ledger.failures)
    title = f"{ledger.sent_count} requests to {ledger.target} at {ledger.rate:g}/s: {failed or 'none'} failed"
    return TrafficPicture(title, ordered, scenario, gaps, end)


#: A shutdown picture's rows, top to bottom, and the marks each holds.
ROWS = {
    "API server": ("deleting", "removed"),
    "kubelet": ("stopping",),
    "preStop hook": ("prestop-start", "prestop-end"),
    "container": ("sigterm", "sigterm-estimated", "exit"),
}


@dataclass(frozen=True)
class Span:
    """A stretch of a shutdown row: ``prestop`` (recorded), ``prestop-planned`` (the spec's sleep), ``running``, ``after-sigterm``."""

    row: str
    start: float
    end: float
    kind: str


@dataclass
class ShutdownPicture:
    """One container's shutdown against its grace period (zero: the harness's delete call)."""

    title: str
    grace: float
    #: Where a container SIGKILLed at the grace period is seen to finish (``verdicts.shutdown.kill_window``).
    kill_window: tuple[float, float]
    spans: list[Span]
    marks: list[Mark]
    end: float
    #: What the picture could not show or took from the spec, in words (no exit reported, SIGTERM not recorded).
    notes: list[str]


def shutdown_picture(s: Shutdown, grace: float, pre_stop: DeclaredPreStop | None = None) -> ShutdownPicture:
    """The shutdown of ``s.container`` as rows: API server, kubelet, preStop hook, container.

    ``pre_stop`` is the hook the spec declares, for containers that record nothing: a sleep of
    known length is drawn as planned from the kubelet's ``Killing`` event, and SIGTERM is
    estimated at its end (or at the event, when the spec declares no hook). Recorded
    ``prestop-*`` and ``sigterm`` lines (a witness) take precedence over any estimate.
    """
    marks = [m for m in pod_marks(s.timeline, s.pod, s.deleted_at, s.container) if any(m.kind in k for k in ROWS.values())]
    at = {m.kind: m.at for m in reversed(marks)}  # the first of each kind
    exit_state = s.timeline.terminations(s.pod).get(s.container)
    spans, notes = [], []
    if "prestop-start" in at:
        spans.append(Span("preStop hook", at["prestop-start"],
                          at.get("prestop-end", at.get("sigterm", at.get("exit", at["prestop-start"]))), "prestop"))
    elif pre_stop is not None and pre_stop.seconds is not None:
        start = at.get("stopping", at.get("deleting", 0.0))
        spans.append(Span("preStop hook", start, start + min(pre_stop.seconds, grace), "prestop-planned"))
        notes.append(f"preStop: {pre_stop.action} {pre_stop.seconds:g}s as the spec declares (its run is not recorded)")
    sigterm = at.get("sigterm")
    if sigterm is None and pre_stop is not None and "stopping" in at and (pre_stop.action is None or spans):
        sigterm = spans[0].end if spans else at["stopping"]
        marks.append(Mark(sigterm, "sigterm-estimated"))
    elif sigterm is None:
        notes.append("SIGTERM: not recorded")
    if "exit" in at:
        stopped = at["exit"]
        code = exit_state.exit_code if exit_state else None
        # finishedAt is truncated to its second, and the container ran at the delete call.
        within = f"{max(stopped, 0.0):.1f}-{stopped + K8S_TIMESTAMP_RESOLUTION:.1f}s"
        ending = f"{'SIGKILLed (137)' if code == SIGKILL_EXIT else f'exited {code}'} {within} after the delete"
    else:
        stopped = at.get("removed", max([m.at for m in marks] + [grace]))
        ending = "no exit reported"
        notes.append(f"{s.container} reported no exit" + (": the pod was removed first" if "removed" in at else ""))
    spans.append(Span("container", 0.0, sigterm if sigterm is not None else stopped, "running"))
    if sigterm is not None:
        spans.append(Span("container", sigterm, max(sigterm, stopped), "after-sigterm"))
    end = max([m.at for m in marks] + [span.end for span in spans] + [kill_window(grace)[1]])
    return ShutdownPicture(f"shutdown of {s.pod}/{s.container}: grace period {grace:g}s, {ending}", grace,
                           kill_window(grace), spans, sorted(marks, key=lambda m: m.at), end, notes)
