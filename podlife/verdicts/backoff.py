"""Verdicts over crash-loop back-off (LC-04, LC-05): restart delays measured from pod status.

A restart's delay is the previous run's ``finishedAt`` to the next run's ``startedAt``, both
from the same status snapshot (``lastState.terminated`` and ``state``).

Tolerance, derived from how the kubelet restarts a crashed container:
- it never restarts before the back-off B has passed since the precise finish time, but the
  two status stamps are truncated to whole seconds, so a measured delay can read up to 1 s
  short: the window opens at ``B - 1``;
- while in back-off, the pod worker is requeued for the remaining back-off times a jitter of
  up to 1.5 (``wait.Jitter(remaining, 0.5)`` in pod_workers.go), the remaining time capped at
  the kubelet's resync interval (60 s by default), so a restart may come up to
  ``0.5 * min(B, sync)`` late; on top of that come PLEG's 1 s relist (noticing the exit), the
  1 s sync-loop tick, the container start (under 1 s) and 1 s of stamp resolution: 4 s.
So the window is ``[B - 1, B + 0.5 * min(B, sync) + 4]``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from podlife.observe.clock import K8S_TIMESTAMP_RESOLUTION
from podlife.observe.kubelet import BackoffPolicy
from podlife.observe.timeline import Timeline
from podlife.served import present

EARLY = K8S_TIMESTAMP_RESOLUTION
JITTER = 0.5
LATE_FIXED = 4.0
#: Consecutive delays growing by less than this (jitter stays within x1.5) did not grow: the cap.
FLAT = 1.3


@dataclass(frozen=True, order=True)
class Restart:
    number: int
    finished: float
    started: float

    @property
    def delay(self) -> float:
        return self.started - self.finished


def restarts(timeline: Timeline, pod: str, container: str) -> list[Restart]:
    """Each restart of ``container`` the timeline saw, with the finish before it and the start it made."""
    seen: dict[int, Restart] = {}
    for entry in timeline.of("Pod", pod):
        status = entry.pod.containers.get(container)
        if status is None or not status.restarts or status.restarts in seen or status.last is None or status.started is None:
            continue
        finished = present(status.last.finished, f"finishedAt of {container}'s last run in pod {pod}")
        if status.started >= finished:
            seen[status.restarts] = Restart(status.restarts, finished, status.started)
    return sorted(seen.values())


def allowed(policy: BackoffPolicy, restart: int) -> tuple[float, float]:
    expected = policy.delay(restart)
    return max(0.0, expected - EARLY), expected + JITTER * min(expected, policy.sync) + LATE_FIXED


def infer(measured: list[Restart]) -> dict[str, float | None]:
    """Initial delay, growth factor and cap as the measurements show them.

    The initial delay is restart 2's (restart 1 is immediate). The factor is the median ratio
    of consecutive delays that grew, leaving out the step onto the cap; the cap is the mean of
    the delays that stopped growing, or None if it was not reached.
    """
    delays = [r.delay for r in measured if r.number >= 2]
    if not delays:
        return {"initial_s": None, "factor": None, "cap_s": None}
    pairs = [(a, b) for a, b in zip(delays, delays[1:]) if a > 0]
    flat = [i for i, (a, b) in enumerate(pairs) if b / a < FLAT]
    plateau = sorted({i for j in flat for i in (j, j + 1)})  # both delays of each pair that did not grow
    growing = [b / a for i, (a, b) in enumerate(pairs) if i not in flat and i + 1 not in plateau]
    plateau_delays = [delays[i] for i in plateau]
    return {
        "initial_s": round(delays[0], 1),
        "factor": round(statistics.median(growing), 2) if growing else None,
        "cap_s": round(statistics.mean(plateau_delays), 1) if plateau_delays else None,
    }


def table(policy: BackoffPolicy, measured: list[Restart]) -> str:
    lines = []
    for r in measured:
        low, high = allowed(policy, r.number)
        ok = "ok" if low <= r.delay <= high else "OUT"
        lines.append(f"restart {r.number}: waited {r.delay:6.1f}s, expected {policy.delay(r.number):5.0f}s "
                     f"(allowed {low:.0f}..{high:.0f}s) {ok}")
    return "\n".join(lines)


def assert_follows(policy: BackoffPolicy, measured: list[Restart], restarts_needed: int) -> None:
    """LC-04: every measured restart delay lies in its window of the expected policy."""
    numbers = [r.number for r in measured]
    assert len(measured) >= restarts_needed, f"saw restarts {numbers}, needed {restarts_needed}"
    outside = [r for r in measured if not allowed(policy, r.number)[0] <= r.delay <= allowed(policy, r.number)[1]]
    assert not outside, (
        f"restart delays do not follow the expected back-off (initial {policy.initial:g}s, x{policy.factor:g}, "
        f"cap {policy.cap:g}s; {policy.source}):\n{table(policy, measured)}"
    )


def assert_starts_over(policy: BackoffPolicy, measured: list[Restart], first_after_run: int) -> None:
    """LC-05: after a long healthy run, restarts behave like restarts 1, 2, ... of a fresh container."""
    again = [Restart(r.number - first_after_run + 1, r.finished, r.started) for r in measured if r.number >= first_after_run]
    assert again, f"no restart after run {first_after_run} was seen"
    try:
        assert_follows(policy, again, len(again))
    except AssertionError as err:
        raise AssertionError(f"the back-off did not start over after the healthy run (renumbered from {first_after_run}): {err}") from None
