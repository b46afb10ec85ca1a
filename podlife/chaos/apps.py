"""Disruptions of an app under traffic: a rolling update, a scale-down, a killed pod, a new pod.

Each works on any app a jig drives (podlife's reference apps and users' workloads alike), inside
an observation window (``Scene.traffic``): it marks its landmark on the window's clock, does what
Kubernetes does in production, settles (the controller done, the old pods gone, then a tail of
traffic) and returns a ``Hit``: the pods it took down or brought up, and when. Verdicts take the
hit for the exposure rule (``verdicts.traffic.check_hit_traffic``: a pass counts only if the
disruption hit pods that carried traffic; ``check_exposed``: requests reached them as they
stopped) and the window for what was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from podlife.observe.clock import now
from podlife.observe.window import Window
from podlife.served import name_of
from podlife.waiting import wait_for
from podlife.workloads.jig import AppJig

#: Requests per second under a rolling update or a scale-down, the same for podlife's apps and
#: users': a deleted pod stays routable only until kube-proxy applies the endpoint change,
#: measured here at 0.04 to 1 s after the harness saw the deletionTimestamp. Spread over the old
#: and new pods of a rollout, 25 req/s sometimes left that window empty for all three old pods;
#: at 100 req/s each pod expects several requests even in a 0.1 s window.
ROLLOUT_RATE = 100.0
#: Clients that each keep a connection alive, for the kept-alive checks (RQ-04): wrk's default
#: connection count, and enough that each of three pods holds several of them.
KEPT_ALIVE_CLIENTS = 16
#: Requests per second under a pod kill or a scale-up, the same for podlife's apps and users':
#: what can fail there lasts seconds (a replacement starting, a slow starter in the Service
#: before it answers), so a steady client sees it at 25 req/s. More only loads the node the
#: pods start on: at 100 req/s under ``-n 2`` the pod-kill check saw 20 requests time out while
#: the replacement started (CI, 2026-12-04), and the in-cluster generator fell behind.
STEADY_RATE = 25.0
#: How long an app may take to roll out, start a pod or settle after a disruption (a ceiling for
#: the harness's waits, not a tolerance of any verdict: users' apps may start slowly).
SETTLE_TIMEOUT = 300.0
#: How long traffic goes on after the disruption settled (old pods gone). kube-proxy applies an
#: endpoint change within its 1 s minimum sync period, so a request routed to a pod that already
#: exited can still be sent up to a second after the pod is gone; 2 s covers that with the
#: generator's 2 s request timeout starting inside the window. Observation, not an assertion.
TRAFFIC_AFTER_SETTLED = 2.0
#: How many scale-down flaps a check may make until requests reached the removed pods as they
#: stopped (``verdicts.traffic.exposed``): a flap whose removal kube-proxy applied at once leaves
#: that window empty, so the flap is repeated, and after this many the check is inconclusive.
EXPOSURE_FLAPS = 5
#: How long every replica gets to serve its first request once the app answers.
FIRST_SERVED_TIMEOUT = 30.0


@dataclass(frozen=True)
class Hit:
    """What a disruption hit: its landmark, when it began, and the pods it took down (or brought up)."""

    disruption: str
    at: float
    pods: tuple[str, ...]
    #: Pods that took over (a killed pod's replacement), once they served.
    replacements: tuple[str, ...] = ()


#: A disruption of an app under traffic, as scenarios pass them around.
Disruption = Callable[[AppJig, Window], Hit]


def serving(jig: AppJig, window: Window) -> dict[str, int]:
    """Once every replica has served a request: how many each pod of the app served so far.

    A pod that serves nothing in time is left to ``check_hit_traffic``, which makes the check
    inconclusive; an app whose answers name no pod at all is inconclusive at once.
    """
    replicas = jig.app.replicas
    wait_for(lambda: any(r.ok for r in window.ledger.requests), FIRST_SERVED_TIMEOUT, "the app to answer a request")
    window.attributed().check_attributable()

    def served() -> dict[str, int] | None:
        counts = window.attributed().served_by()
        return counts if len(counts) >= replicas else None

    return wait_for(served, FIRST_SERVED_TIMEOUT, f"each of the {replicas} replicas to serve a request")


def settle(jig: AppJig, window: Window, disruption: str, mark: str = "settled") -> float:
    """Wait for the disruption to finish (rolled out, old pods gone), mark it, and let the traffic tail run on."""
    wait_for(jig.settled, SETTLE_TIMEOUT, f"the {disruption} to finish, old pods gone")
    settled = window.mark(mark)
    wait_for(lambda: now() - settled >= TRAFFIC_AFTER_SETTLED, TRAFFIC_AFTER_SETTLED + 5, "the traffic tail after settling")
    return settled


def rolling_update(jig: AppJig, window: Window) -> Hit:
    """Change the pod template, as a new release would, and wait until every old pod is gone."""
    old = tuple(name_of(p) for p in jig.pods())
    started = window.mark("rolling-update")
    jig.roll_out()
    settle(jig, window, "rolling update")
    return Hit("rolling-update", started, old)


def known_pods(jig: AppJig, window: Window) -> set[str]:
    """The app's pods now, and every pod that served before: none of them is a newcomer.

    Pods that served and are gone count too: a pod an earlier flap removed is no new pod.
    """
    return {name_of(p) for p in jig.scene.pods(jig.app.selector)} | set(window.attributed().served_by())


def newcomer(window: Window, known: set[str]) -> str | None:
    """A pod not in ``known`` that has served a request."""
    return next((pod for pod in window.attributed().served_by() if pod not in known), None)


def scale_up(jig: AppJig, window: Window, to: int) -> Hit:
    """Scale to ``to`` replicas and wait until each new pod has served a request (RQ-01's disruption).

    Marks ``scale-up`` and ``new pods serving``; the hit is the new pods.
    """
    known, adding = known_pods(jig, window), to - len(jig.scene.pods(jig.app.selector))
    started = window.mark("scale-up")
    jig.scale(to)

    def new_pods_serving() -> tuple[str, ...] | None:
        served = [pod for pod in window.attributed().served_by() if pod not in known]
        return tuple(sorted(served)) if len(served) >= adding else None

    new = wait_for(new_pods_serving, SETTLE_TIMEOUT, f"the {adding} new pod(s) to serve")
    window.mark("new pods serving")
    settle(jig, window, "scale-up")
    return Hit("scale-up", started, new)


def lost_a_request(window: Window) -> bool:
    """Whether a request of the window failed: a negative control's disruption may stop repeating."""
    return bool(window.ledger.failures)


def scale_down(jig: AppJig, window: Window, to: int, attempts: int = 1,
               enough: Callable[[Window], bool] = lost_a_request) -> Hit:
    """Scale up by one and, as soon as the new pod serves, down to ``to`` replicas, removing the
    pods that served most before it: an autoscaler's flap.

    On a quiet single-node cluster kube-proxy applies a lone endpoint removal within
    milliseconds, before the kubelet has even signalled the pod, so nothing is lost whatever
    the app does (measured: 0 of 446 requests without a preStop delay). Right after the sync
    that added the new pod's endpoint, kube-proxy's 1 s rate limit holds the removal back
    (measured 0.3 to 1 s). Which pods go matters: the ReplicaSet would remove the new one, and
    the kubelet, whose worker for a pod is busy with a sync a recent change to it started (the
    pod's start, or even an annotation patched just before), began stopping it 0.5 to 1.5 s after
    its deletion, once the data path had dropped it: an app that exits at SIGTERM lost nothing in
    5 of 5 such flaps. So before scaling up, the pods that served most are marked to go first
    (``AppJig.remove_first``); by the scale-down their kubelet is idle and stops them within
    0.03 s (measured), while the data path still routes to them.

    With ``attempts`` above one the flap is repeated, each once the last settled, until
    ``enough`` says the window shows what the verdict needs: a lost request for a negative
    control, exposure for a check (``verdicts.traffic.exposed``). The first flap is the
    ``scale-down`` landmark, the others are numbered; the hit is every pod any flap removed.
    """
    started = 0.0
    for attempt in range(1, attempts + 1):
        if attempt > 1 and enough(window):
            break
        known = known_pods(jig, window)
        served = window.attributed().served_by()
        busiest = sorted((name_of(p) for p in jig.pods()), key=lambda pod: -served.get(pod, 0))
        jig.remove_first(busiest[:jig.app.replicas + 1 - to])
        jig.scale(jig.app.replicas + 1)
        wait_for(lambda: newcomer(window, known), SETTLE_TIMEOUT, "the extra pod to serve")
        at = window.mark("scale-down" if attempt == 1 else f"scale-down {attempt}")
        started = started or at
        jig.scale(to)
        settle(jig, window, "scale-down", "settled" if attempt == attempts else f"settled {attempt}")
    removed = tuple(sorted(pod for pod, at in window.timeline.deletion_started().items() if at >= started))
    return Hit("scale-down", started, removed)


def kill_pod(jig: AppJig, window: Window, served: dict[str, int]) -> Hit:
    """Delete the pod that served most (LC-01's disruption) and wait until a replacement serves.

    Marks ``deleted POD`` and ``replacement serving``; the hit is the victim, its replacement named.
    """
    victim = max(served, key=lambda pod: served[pod])
    known = known_pods(jig, window)
    started = window.mark(f"deleted {victim}")
    jig.delete_pod(victim)
    replacement = wait_for(lambda: newcomer(window, known), SETTLE_TIMEOUT, "a replacement pod to serve")
    window.mark("replacement serving")
    settle(jig, window, "pod kill")
    return Hit(f"deleted {victim}", started, (victim,), (replacement,))
