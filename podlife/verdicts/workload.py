"""The shutdown of a user's app (SD-02, SD-03, LC-12), judged from its manifests and what was observed.

A reference scenario's witness records its hook and its SIGTERM; a user's app records nothing,
so its shutdown is read from the container's exit and the preStop hook its manifest declares.
What a disruption under traffic lost, and why, is judged for every app alike in ``verdicts.traffic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.observe.shutdown import Shutdown
from podlife.verdicts.advice import hook_sleep, pre_stop_advice
from podlife.verdicts.shutdown import KILL_EARLY_TOLERANCE, KUBELET_MINIMUM_GRACE, SIGKILL_EXIT
from podlife.verdicts.traffic import PRE_STOP_MARGIN, pre_stop_for


@dataclass(frozen=True)
class PreStop:
    """The app container's preStop hook as its manifest declares it (LC-12).

    ``seconds`` is known for a sleep (the sleep action, an exec of ``sleep N``, a shell's
    ``sleep N``), exactly when the hook does nothing else (``exact``), else as a lower bound; an
    httpGet or any other command takes as long as it takes, and the kubelet reports only its
    failure (a ``FailedPreStopHook`` event), never its length.
    """

    action: str | None
    seconds: float | None
    exact: bool = True

    @classmethod
    def of(cls, container: dict[str, Any]) -> "PreStop":
        hook = (container.get("lifecycle") or {}).get("preStop") or {}
        action = next((a for a in ("sleep", "exec", "httpGet", "tcpSocket") if a in hook), None)
        slept = hook_sleep(container)
        return cls(action, slept.seconds, slept.exact)

    def describe(self) -> str:
        if self.action is None:
            return "none"
        if self.seconds is None:
            return f"{self.action} (length unknown from the manifests)"
        return f"{self.action} {self.seconds:g}s" if self.exact else f"{self.action} at least {self.seconds:g}s"


def shutdown_times(s: Shutdown, grace: float, pre_stop: PreStop, data_path_lag: float | None = None) -> dict[str, Any]:
    """SD-02/SD-03/LC-12 for a user's app: how its shutdown went, split at SIGTERM where the hook's length is known.

    The kubelet runs the preStop hook for at most the grace period, then sends SIGTERM, and
    SIGKILLs when the grace period is over (never sooner than 2 s after SIGTERM). An exit 137 at
    that moment means the app did not exit on SIGTERM in the time it had; when a preStop sleep
    left it little of the grace period, that is named as the cause. Passing, a preStop sleep
    eating most of the grace period is returned as advice, and so is what the data path calls for
    (``data_path_lag``, seconds from the deletion until the node's rules dropped the pod, where
    measured): an app without a hook that stops before then fails the requests still routed to
    it; a hook of unknown length is named with the time the pod took. The seconds after SIGTERM
    include the kubelet's reaction to the delete and have the one-second resolution of ``finishedAt``.
    """
    took = s.stopped_after()
    hook = min(pre_stop.seconds, grace) if pre_stop.seconds is not None else None
    times: dict[str, Any] = {"shutdown_s": round(took, 1), "pre_stop": pre_stop.describe()}
    if data_path_lag is not None:
        times["data_path_lag_s"] = data_path_lag
    if hook is not None and pre_stop.exact:
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
    advice = [f"LC-12: {text}"] if (text := pre_stop_advice(hook, grace)) else []
    lag = data_path_lag or 0.0
    if pre_stop.action is None and took < lag + PRE_STOP_MARGIN:
        measured = (f"the node's rules dropped it {data_path_lag:.2f}s after its deletion started" if data_path_lag is not None
                    else "kube-proxy syncs its rules at most once a second")
        advice.append(f"RQ-03: {s.container} stopped {took:.1f}s after the delete, with no preStop hook, while the data "
                      f"path could still route requests to it ({measured}). Fix: a preStop sleep of at least "
                      f"{pre_stop_for(lag)}s")
    elif pre_stop.action is not None and pre_stop.seconds is None:
        advice.append(f"RQ-03: its preStop hook ({pre_stop.describe()}) is not a plain sleep: the pod took {took:.1f}s "
                      "from the delete to exit, the hook and the app's shutdown together")
    if advice:
        times["advice"] = advice
    return times
