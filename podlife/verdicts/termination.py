"""Verdicts over a finished container's termination message (OP-05)."""

from __future__ import annotations

from kubernetes import client

from podlife.served import meta, pod_status


def termination_message(pod: client.V1Pod, container: str) -> str | None:
    for cs in pod_status(pod).container_statuses or []:
        if cs.name == container and cs.state and cs.state.terminated:
            return cs.state.terminated.message
    raise AssertionError(f"{container} of {meta(pod).name} has not terminated")


def assert_message_shown(pod: client.V1Pod, container: str, expected: str) -> None:
    """OP-05: the container's last words are in ``state.terminated.message`` of the pod status."""
    message = termination_message(pod, container)
    assert message and expected in message, (
        f"{container}'s termination message is {message!r}; expected it to contain {expected!r}"
    )
