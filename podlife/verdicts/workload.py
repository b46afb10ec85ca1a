"""The shutdown of a user's app (SD-02, SD-03, LC-12), judged from its manifests and what was observed.

A reference scenario's witness records its hook and its SIGTERM; a user's app records nothing,
so its shutdown is read from the container's exit and the preStop hook its manifest declares.
What a disruption under traffic lost, and why, is judged for every app alike in ``verdicts.traffic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.observe.shutdown import Shutdown
from podlife.verdicts.advice import pre_stop_advice, pre_stop_sleep
from podlife.verdicts.shutdown import KILL_EARLY_TOLERANCE, KUBELET_MINIMUM_GRACE, SIGKILL_EXIT


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
    took = s.stopped_after()
    hook = min(pre_stop.seconds, grace) if pre_stop.seconds is not None else None
    times: dict[str, Any] = {"shutdown_s": round(took, 1), "pre_stop": pre_stop.describe()}
    if hook is not None:
        times["after_sigterm_s"] = round(max(took - hook, 0.0), 1)
    if s.final_state().exit_code == SIGKILL_EXIT and took >= grace - KILL_EARLY_TOLERANCE:
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
