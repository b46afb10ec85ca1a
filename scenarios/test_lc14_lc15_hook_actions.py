"""LC-14, LC-15: hooks run a command (exec) or call a URL (httpGet), and belong to containers.

Story (LC-14): a witness whose postStart and preStop hooks are both exec, or both httpGet, is
started and deleted. An exec hook leaves its record in the container's record file; an
httpGet hook calls a recorder pod, whose log shows the call. Both actions run for both
hooks. Control: httpGet hooks aimed at a closed port leave no trace, and the verdict says so.

Story (LC-15): a pod with two containers, each with hooks of its own; container ``a``'s
preStop takes a few seconds. On deletion each container runs its own hooks, and ``b``
gets SIGTERM without waiting for ``a``'s preStop. Control: when only ``a`` declares hooks,
none run for ``b``.
"""

from __future__ import annotations

import pytest

from podlife.chaos.deletion import delete_and_watch
from podlife.kernel.defaults import HookAction, HookPhase
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.hooks import HookTrail, assert_hook_ran
from podlife.workloads.witness import Hook, Witness
from scenarios.conftest import Recorder

PHASES: tuple[HookPhase, ...] = ("poststart", "prestop")
#: How long ``a``'s preStop takes in LC-15: well beyond b's SIGTERM arriving at once.
SLOW_PRE_STOP = 3


def run_with_hooks(scene: Scene, recorder: Recorder | None, *witnesses: Witness) -> HookTrail:
    """Start a pod of ``witnesses`` (hooks and all), delete it, and collect every trace its hooks left."""
    shutdown = delete_and_watch(scene, witnesses[0].pod("hooked", *witnesses[1:]))
    found = HookTrail({w.name: shutdown.of(w.name).records() for w in witnesses}, recorder.log() if recorder else "")
    scene.evidence.attach("records", "\n".join(f"{c}: {r}" for c, r in found.records.items()))
    return found


@pytest.mark.claim("LC-14")
@pytest.mark.disruptive
@pytest.mark.parametrize("action", ["exec", "httpGet"])
def test_both_hook_actions_run_for_both_hooks(scene: Scene, recorder: Recorder, action: HookAction) -> None:
    hook = Hook(action, recorder=recorder.ip)
    found = run_with_hooks(scene, recorder, Witness(post_start=hook, pre_stop=hook, grace_period=5))
    for phase in PHASES:
        assert_hook_ran(found, "witness", phase, action)


@pytest.mark.claim("LC-14")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_http_hooks_aimed_nowhere_are_caught(scene: Scene, recorder: Recorder) -> None:
    hook = Hook("httpGet", recorder=recorder.ip)
    nowhere = Hook("httpGet", fails=True)
    found = run_with_hooks(scene, recorder, Witness(post_start=hook, pre_stop=nowhere, grace_period=5))
    assert_hook_ran(found, "witness", "poststart", "httpGet")
    with pytest.raises(AssertionError, match="prestop httpGet hook left no trace"):
        assert_hook_ran(found, "witness", "prestop", "httpGet")


def two_containers(b_hooks: bool) -> tuple[Witness, Witness]:
    a = Witness("a", post_start=Hook(), pre_stop=Hook(sleep=SLOW_PRE_STOP), grace_period=SLOW_PRE_STOP + 5)
    b = Witness("b", post_start=Hook(), pre_stop=Hook()) if b_hooks else Witness("b")
    return a, b


@pytest.mark.claim("LC-15")
@pytest.mark.disruptive
def test_each_container_runs_its_own_hooks(scene: Scene, evidence: Evidence) -> None:
    found = run_with_hooks(scene, None, *two_containers(b_hooks=True))
    for container in ("a", "b"):
        for phase in PHASES:
            assert_hook_ran(found, container, phase, "exec")
    a_pre_stop_end = dict(found.records["a"])["prestop-end"]
    b_sigterm = dict(found.records["b"])["sigterm"]
    evidence.measure("b_sigterm_before_a_prestop_end_s", round(a_pre_stop_end - b_sigterm, 3))
    assert b_sigterm < a_pre_stop_end, (
        f"b got SIGTERM {b_sigterm - a_pre_stop_end:.2f}s after a's preStop ended: it waited for another container's hook"
    )


@pytest.mark.claim("LC-15")
@pytest.mark.control
@pytest.mark.disruptive
def test_control_hooks_of_one_container_do_not_run_for_another(scene: Scene) -> None:
    found = run_with_hooks(scene, None, *two_containers(b_hooks=False))
    assert_hook_ran(found, "a", "prestop", "exec")
    with pytest.raises(AssertionError, match="b's prestop exec hook left no trace"):
        assert_hook_ran(found, "b", "prestop", "exec")
