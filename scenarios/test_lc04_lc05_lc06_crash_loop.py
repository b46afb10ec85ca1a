"""LC-04, LC-05, LC-06: a container that keeps crashing is restarted with exponential back-off.

Story: a Deployment's only container exits with an error on every attempt. The harness
watches the pod and measures each restart's delay from its status (previous ``finishedAt``
to next ``startedAt``), then compares them with the back-off the node's kubelet is
configured for (read from its configz: 10 s, x2, capped at 300 s by default). The quick
check covers the first restarts; a slow one waits for the cap (LC-04). A slow check lets the
container run healthily for 10 minutes between crashes and sees the back-off start over
(LC-05). Meanwhile the ReplicaSet keeps the crashing pod as its replica: no replacement,
phase Running, container waiting in CrashLoopBackOff (LC-06).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import pytest

from podlife.observe.kubelet import BackoffPolicy, expected_backoff
from podlife.observe.timeline import Timeline
from podlife.report.chart import backoff_chart
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import name_of, present
from podlife.verdicts.backoff import Restart, allowed, assert_follows, assert_starts_over, infer, restarts, table
from podlife.verdicts.replicas import assert_kept_as_replica, crash_looping
from podlife.waiting import wait_for
from podlife.workloads.crasher import Crasher

#: Restarts the quick profile measures: the immediate one, then 10 s, 20 s and 40 s by default.
QUICK_RESTARTS = 4
#: LC-05: the kubelet forgets a container's back-off once it has run this long (kubelet.go, 600 s).
RESET_AFTER = 600
#: LC-05: the attempt that runs healthily before crashing, after the back-off has grown.
LONG_RUN = 4


@dataclass
class CrashLoop:
    """A crashing Deployment's pod under observation, and the back-off its kubelet should apply."""

    pod: str
    container: str
    timeline: Timeline
    policy: BackoffPolicy

    def restarts(self) -> list[Restart]:
        return restarts(self.timeline, self.pod, self.container)

    def await_restarts(self, count: int, extra: float = 0) -> list[Restart]:
        """Wait until ``count`` restarts were seen: every window's far end, ``extra`` seconds of runs, and a minute to start."""
        deadline = sum(allowed(self.policy, n)[1] for n in range(1, count + 1)) + extra + 60
        wait_for(lambda: len(self.restarts()) >= count, deadline, f"{count} restarts of {self.container}")
        return self.restarts()[:count]


@contextlib.contextmanager
def crash_loop(scene: Scene, crasher: Crasher) -> Iterator[CrashLoop]:
    with scene.watch() as timeline:
        scene.apply(crasher.deployment())
        pod = name_of(wait_for(lambda: next(iter(scene.pods(crasher.selector)), None), 60, "the crashing pod"))
        try:
            yield CrashLoop(pod, crasher.name, timeline, expected_backoff(scene.api, scene.node_of(pod)))
        finally:
            scene.evidence.attach("timeline", timeline.render())


def report_backoff(evidence: Evidence, policy: BackoffPolicy, measured: list[Restart]) -> None:
    """Measured delays with their windows in the summary; the table and a chart in the Allure report."""
    windows = {r.number: allowed(policy, r.number) for r in measured}
    evidence.measure("expected_policy", {"initial_s": policy.initial, "factor": policy.factor, "cap_s": policy.cap,
                                         "source": policy.source})
    evidence.measure("restart_delays", [
        {"restart": r.number, "delay_s": round(r.delay, 1), "expected_s": policy.delay(r.number),
         "allowed_s": [round(v, 1) for v in windows[r.number]]} for r in measured])
    evidence.measure("inferred_policy", infer(measured))
    evidence.waits_on(backoff=sum(policy.delay(r.number) for r in measured))
    evidence.attach("restart delays", table(policy, measured))
    curve = [(n, low, policy.delay(n), high) for n, (low, high) in windows.items()]
    chart = backoff_chart(curve, [(r.number, r.delay) for r in measured], f"crash-loop back-off ({policy.source})")
    evidence.attach("back-off chart", chart, "svg")


@pytest.mark.claim("LC-04")
def test_crash_loop_backs_off_exponentially(scene: Scene, evidence: Evidence) -> None:
    with crash_loop(scene, Crasher()) as loop:
        measured = loop.await_restarts(QUICK_RESTARTS)
    report_backoff(evidence, loop.policy, measured)
    assert_follows(loop.policy, measured, QUICK_RESTARTS)


@pytest.mark.claim("LC-04")
@pytest.mark.control
def test_control_back_off_of_another_policy_is_caught(scene: Scene, evidence: Evidence) -> None:
    """The same crash loop judged against the reduced-decay policy (1 s initial, 60 s cap) must fail."""
    reduced = BackoffPolicy(initial=1, cap=60, source="ReduceDefaultCrashLoopBackOffDecay (not this cluster's)")
    with crash_loop(scene, Crasher()) as loop:
        measured = loop.await_restarts(2)
    with pytest.raises(AssertionError, match="do not follow the expected back-off"):
        assert_follows(reduced, measured, 2)


@pytest.mark.claim("LC-04")
@pytest.mark.slow(seconds=910)  # restarts 1-8 at the default back-off: 0+10+20+40+80+160+300+300 s
def test_crash_loop_back_off_reaches_its_cap(scene: Scene, evidence: Evidence) -> None:
    with crash_loop(scene, Crasher()) as loop:
        count = loop.policy.restarts_until_cap() + 1  # two restarts at the cap show it is one
        measured = loop.await_restarts(count)
    report_backoff(evidence, loop.policy, measured)
    assert_follows(loop.policy, measured, count)
    assert infer(measured)["cap_s"] is not None, f"the delays never stopped growing:\n{table(loop.policy, measured)}"


def crash_after_healthy_run(scene: Scene, healthy_for: int) -> tuple[BackoffPolicy, list[Restart]]:
    """Quick crashes build the back-off up; run ``LONG_RUN`` lasts ``healthy_for`` seconds; two restarts follow it."""
    evidence = scene.evidence
    with crash_loop(scene, Crasher(runs={LONG_RUN: healthy_for})) as loop:
        measured = loop.await_restarts(LONG_RUN + 1, extra=healthy_for)
    # Not report_backoff: its expectation and inference assume no reset, which is what is in question here.
    evidence.measure("restart_delays_s", {r.number: round(r.delay, 1) for r in measured})
    evidence.attach("restart delays (expected as if never reset)", table(loop.policy, measured))
    evidence.measure("healthy_run_s", healthy_for)
    evidence.waits_on(healthy_run=healthy_for)
    return loop.policy, measured


@pytest.mark.claim("LC-05")
@pytest.mark.slow(seconds=655)  # restarts 1-3 (0+10+20 s), the 615 s healthy run, restarts 4-5 started over (0+10 s)
def test_back_off_starts_over_after_ten_healthy_minutes(scene: Scene, evidence: Evidence) -> None:
    policy, measured = crash_after_healthy_run(scene, RESET_AFTER + 15)
    assert_starts_over(policy, measured, LONG_RUN)


@pytest.mark.claim("LC-05")
@pytest.mark.control
@pytest.mark.slow(seconds=450)  # restarts 1-3 (0+10+20 s), the 300 s healthy run, restarts 4-5 not reset (40+80 s)
def test_control_back_off_kept_after_a_shorter_run(scene: Scene, evidence: Evidence) -> None:
    policy, measured = crash_after_healthy_run(scene, RESET_AFTER // 2)
    with pytest.raises(AssertionError, match="did not start over"):
        assert_starts_over(policy, measured, LONG_RUN)


@pytest.mark.claim("LC-06")
def test_replica_set_keeps_crash_looping_pod(scene: Scene, evidence: Evidence) -> None:
    crasher = Crasher()
    with crash_loop(scene, crasher) as loop:
        wait_for(lambda: crash_looping(loop.timeline, crasher.name) and len(loop.restarts()) >= 2,
                 120, "the pod to crash-loop")
        replica_sets = scene.apps.list_namespaced_replica_set(scene.namespace).items
    assert_kept_as_replica(loop.timeline, crasher.name)
    counted = {name_of(rs): present(rs.status, f"status of ReplicaSet {name_of(rs)}").replicas for rs in replica_sets}
    assert list(counted.values()) == [1], f"the ReplicaSet should count the crash-looping pod as its one replica: {counted}"


@pytest.mark.claim("LC-06")
@pytest.mark.control
def test_control_job_replacing_failed_pods_is_caught(scene: Scene, evidence: Evidence) -> None:
    """A Job (restartPolicy Never) replaces a failed pod with a new one: the verdict must see that."""
    crasher = Crasher()
    with scene.watch() as timeline:
        scene.apply(crasher.job(retries=1))
        wait_for(lambda: len({e.name for e in timeline.of("Pod")}) >= 2, 120, "the Job to replace its failed pod")
    evidence.attach("timeline", timeline.render())
    with pytest.raises(AssertionError, match="more than one pod"):
        assert_kept_as_replica(timeline, crasher.name)
