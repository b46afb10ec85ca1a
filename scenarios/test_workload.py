"""Your own workload under the lifecycle claims: `pytest scenarios/ --workload podlife-workload.yaml`.

Story, for each workload the file names: its manifests are applied into a fresh namespace and
it serves steady traffic through its Service; then Kubernetes does to it what it does in
production (a rolling update, with clients that open a connection per request and with clients
that keep theirs, a scale-down, a killed pod, a new pod starting, a pod deleted)
and the verdicts say what the app lost, why, and the change that fixes it; on the local
cluster its container is also crashed from the node and its restarts timed. A pass counts only
if the disruption exposed the app to the failure it rules out (requests reached the removed pods
after the kubelet began stopping them; for a pod kill, the pod carried traffic); otherwise the
check is inconclusive, with the exposure measured.
Without ``--workload`` these tests are skipped.
"""

from __future__ import annotations

import pytest

from podlife.access import Target
from podlife.chaos import apps as chaos
from podlife.chaos import nodes
from podlife.chaos.crash import crash, node_runtime
from podlife.chaos.deletion import watch_deletion
from podlife.errors import NotExercised
from podlife.kernel.defaults import TRAFFIC_POD_PREFIX
from podlife.observe.kubelet import expected_backoff
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.served import name_of
from podlife.verdicts.advice import workload_advice
from podlife.verdicts.backoff import allowed, assert_follows, restarts
from podlife.verdicts.nodes import healthy_pods
from podlife.verdicts.replicas import assert_kept_as_replica
from podlife.verdicts.traffic import (
    assert_kept_alive_connections_ended,
    assert_no_request_lost,
    assert_success_ratio,
    check_exposed,
    check_hit_traffic,
    check_kept_alive_exposed,
    exposed,
    leaving,
    removal_lags,
)
from podlife.verdicts.workload import PreStop, shutdown_times
from podlife.waiting import wait_for
from podlife.workloads.jig import AppJig, MakeJig
from podlife.workloads.user import UserApp

#: LC-01's threshold, the reference scenario's: a killed pod may cost a request or two in flight on some apps.
SUCCESS_THRESHOLD = 0.99
#: Crashes of one pod's app container: restart 1 comes at once, 2 and 3 after the back-off's
#: first two delays (10 s and 20 s by default), enough to see it grow.
CRASHES = 3


@pytest.fixture
def app(user_app: UserApp, jig: MakeJig) -> tuple[AppJig, Target]:
    """The user's workload, applied into the test's namespace and answering through its Service."""
    deployed = jig(user_app)
    return deployed, deployed.deploy(timeout=chaos.SETTLE_TIMEOUT)


def judge_lossless(window: Window, evidence: Evidence, hit: chaos.Hit) -> None:
    """A disruption that should cost nothing: requests reached the removed pods as they stopped, and none failed.

    The API side's lag (the EndpointSlice) and the data path's (the node's rules, or at least the
    last request a leaving pod got) are reported beside each other: the second is what a preStop
    delay must cover.
    """
    for name, lags in removal_lags(window).items():
        evidence.measure(name, lags)
    evidence.measure("exposure", check_exposed(window, hit))
    assert_no_request_lost(window)


@pytest.mark.claim("RQ-02", "RQ-03")
@pytest.mark.disruptive
def test_rolling_update_loses_no_request(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    jig, target = app
    with jig.scene.traffic(target, rate=chaos.ROLLOUT_RATE) as window:
        chaos.serving(jig, window)
        hit = chaos.rolling_update(jig, window)
    judge_lossless(window, evidence, hit)


@pytest.mark.claim("RQ-02", "RQ-04")
@pytest.mark.disruptive
def test_rolling_update_loses_no_request_on_kept_alive_connections(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    """Clients that keep their connections stay with the old pods after the data path dropped them (RQ-02);
    the app must end those connections itself, telling its clients, before it exits (RQ-04). The clients
    send a GET cut off with its connection once more, as pools do: its retry counts for RQ-02."""
    jig, target = app
    with jig.scene.traffic(target, rate=chaos.ROLLOUT_RATE, keepalive=chaos.KEPT_ALIVE_CLIENTS) as window:
        chaos.serving(jig, window)
        hit = chaos.rolling_update(jig, window)
    evidence.measure("kept_alive_exposure", check_kept_alive_exposed(window, hit))
    evidence.measure("kept_alive_ends", assert_kept_alive_connections_ended(window, hit))
    assert_no_request_lost(window)


@pytest.mark.claim("RQ-03")
@pytest.mark.disruptive
def test_scale_down_loses_no_request(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    jig, target = app
    with jig.scene.traffic(target, rate=chaos.ROLLOUT_RATE) as window:
        chaos.serving(jig, window)
        hit = chaos.scale_down(jig, window, to=jig.app.replicas, attempts=chaos.EXPOSURE_FLAPS, enough=exposed)
    judge_lossless(window, evidence, hit)


@pytest.mark.claim("LC-01")
@pytest.mark.disruptive
def test_pod_kill_keeps_serving(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    jig, target = app
    with jig.scene.traffic(target, rate=chaos.STEADY_RATE) as window:
        hit = chaos.kill_pod(jig, window, chaos.serving(jig, window))
    evidence.measure("replacement_serving_after_s", round(window.landmarks["replacement serving"] - hit.at, 1))
    evidence.measure("success_ratio", round(window.ledger.success_ratio, 4))
    check_hit_traffic(window.ledger, hit)
    assert_success_ratio(window, SUCCESS_THRESHOLD)


@pytest.mark.claim("RQ-01")
@pytest.mark.disruptive
def test_new_pod_gets_traffic_only_once_it_answers(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    jig, target = app
    with jig.scene.traffic(target, rate=chaos.STEADY_RATE) as window:
        chaos.serving(jig, window)
        hit = chaos.scale_up(jig, window, to=jig.app.replicas + 1)
    evidence.measure("first_served_after_scale_up_s", round(window.landmarks["new pods serving"] - hit.at, 1))
    assert_no_request_lost(window)


@pytest.mark.claim("SD-02", "SD-03", "LC-12")
@pytest.mark.disruptive
def test_pod_shuts_down_on_sigterm_within_its_grace_period(user_app: UserApp, app: tuple[AppJig, Target],
                                                          evidence: Evidence) -> None:
    jig, _ = app
    victim = name_of(jig.pods()[0])
    pre_stop = PreStop.of(user_app.container_spec)
    with jig.scene.data_path() as data_path:
        shutdown = watch_deletion(jig.scene, victim, user_app.container, user_app.grace_period, pre_stop=pre_stop)
    failed_hooks = shutdown.timeline.events("FailedPreStopHook", victim)
    assert not failed_hooks, f"the preStop hook of {victim} failed: {failed_hooks[0].event.message}"
    lag = leaving(shutdown.timeline, victim, data_path)
    times = shutdown_times(shutdown, user_app.grace_period, pre_stop, lag.data_path_lag if lag.measured else None)
    for name, value in times.items():
        evidence.measure(name, value)


@pytest.mark.claim("LC-04", "LC-06")
@pytest.mark.disruptive
def test_crashed_container_restarts_with_the_kubelets_back_off(user_app: UserApp, app: tuple[AppJig, Target],
                                                              evidence: Evidence) -> None:
    jig, _ = app
    scene, container = jig.scene, user_app.container
    victim = name_of(jig.pods()[0])
    node_runtime(scene)  # a cluster whose nodes podlife cannot reach skips here, before any wait
    policy = expected_backoff(scene.api, scene.node_of(victim))
    with scene.watch() as timeline:
        killed: set[str] = set()
        for number in range(1, CRASHES + 1):
            crash(scene, victim, container, killed, allowed(policy, number)[1] + 60)
        measured = wait_for(lambda: r if len(r := restarts(timeline, victim, container)) >= CRASHES else None,
                            allowed(policy, CRASHES)[1] + 60, f"{CRASHES} restarts of {container}")
    evidence.attach("timeline", timeline.render())
    evidence.measure("restart_delays_s", [round(r.delay, 1) for r in measured])
    assert_follows(policy, measured, CRASHES)
    assert_kept_as_replica(timeline, container, victim)


@pytest.mark.claim("ND-01")
@pytest.mark.disruptive
@pytest.mark.nodes
def test_node_drain_loses_no_request(app: tuple[AppJig, Target], evidence: Evidence) -> None:
    """Drain the node carrying most of the app's traffic: what was lost, whether a budget held, and the fix."""
    jig, target = app
    scene = jig.scene
    drainable = set(nodes.disruptable_nodes(scene))
    with scene.traffic(target, rate=chaos.ROLLOUT_RATE) as window:
        served = chaos.serving(jig, window)
        by_node: dict[str, int] = {}
        for pod, count in served.items():
            where = scene.node_of(pod)
            if where in drainable:
                by_node[where] = by_node.get(where, 0) + count
        if not by_node:
            raise NotExercised(f"none of the app's serving pods runs on a node podlife may drain ({', '.join(sorted(drainable))})")
        node = max(by_node, key=lambda n: by_node[n])
        with nodes.drained(scene, node, window) as drain:
            chaos.settle(jig, window, "drain")
    hit = chaos.Hit("drain", drain.at, drain.pods(scene.namespace))
    healthy = healthy_pods(window.timeline, lambda pod: not pod.startswith(TRAFFIC_POD_PREFIX), drain.at, drain.finished)
    evidence.measure("drained_node", node)
    evidence.measure("evictions_refused_by_a_budget", sum(e.refusals for e in drain.evictions))
    evidence.measure("fewest_ready_during_drain", healthy.fewest)
    check_hit_traffic(window.ledger, hit)
    try:
        assert_no_request_lost(window)
    except AssertionError as lost:
        budget = ("no disruption budget refused an eviction: add a PodDisruptionBudget (minAvailable) so a drain takes "
                  "one pod at a time" if not any(e.refusals for e in drain.evictions) else
                  f"the budget held the drain back ({healthy.fewest} pods stayed ready)")
        raise AssertionError(f"{lost}\ndraining {node}: {budget}; spread the replicas over nodes and keep a preStop "
                             "delay so each evicted pod finishes what it was sent") from None


@pytest.mark.claim("OP-02", "OP-03", "OP-04", "OP-05", "ND-01", "ND-04")
def test_manifests_follow_the_advice(user_app: UserApp, evidence: Evidence) -> None:
    """Advice from the manifests alone: reported, and failed only when the workload file says ``strict``."""
    advice = [str(a) for a in workload_advice(user_app.target_manifest, user_app.manifests())]
    evidence.measure("advice", advice)
    if user_app.workload.strict:
        assert not advice, "strict: the manifests do not follow the advice:\n" + "\n".join(advice)
