"""A busybox pod that witnesses its own lifecycle: hook runs and signals, with timestamps.

Hook output never reaches the container log (LC-11), so every record goes to the
container's termination-message file, ``/dev/termination-log``, one ``<event> <epoch>``
line each, appended in the order things happened. When the container ends, the kubelet
copies that file into the pod status, where the harness reads it back through the API,
even for a container that was SIGKILLed and a pod that is about to vanish.

busybox ``date`` has no sub-second format; ``adjtimex`` reads the clock in microseconds
without privileges, so stamps are exact to the microsecond on the node's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.workloads.images import BUSYBOX, mirrored

RECORD_FILE = "/dev/termination-log"
#: What the postStart hook prints to its standard output (which LC-11 says nobody sees).
HOOK_OUTPUT = "poststart-hook-output"
_STAMP = "adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf \"%d.%06d\", s, u}'"
_RECORD = f'record() {{ echo "$1 $({_STAMP})" >> {RECORD_FILE}; }}'


def recording(*steps: str) -> list[str]:
    """A shell command line that runs ``steps`` with a ``record EVENT`` function available."""
    return ["sh", "-c", "; ".join([_RECORD, *steps])]


@dataclass
class Witness:
    """One container whose main process records ``started`` and ``sigterm``.

    ``ignore_sigterm`` makes the process record SIGTERM and carry on, so only SIGKILL ends it.
    """

    name: str = "witness"
    ignore_sigterm: bool = False
    pre_stop_sleep: float | None = None
    post_start_sleep: float | None = None
    #: Do the postStart work in the main process instead of a hook (the bad variant of LC-09).
    post_start_in_main: bool = False
    grace_period: int | None = None
    image_repo: str | None = None

    def container(self) -> dict[str, Any]:
        on_term = "record sigterm" if self.ignore_sigterm else "record sigterm; exit 0"
        post_start = (
            ["record poststart-start", f"echo {HOOK_OUTPUT}", f"sleep {self.post_start_sleep}", "record poststart-end"]
            if self.post_start_sleep is not None else []
        )
        in_main = post_start if self.post_start_in_main else []
        main = recording("record started", f"trap '{on_term}' TERM", *in_main, "while true; do sleep 0.1; done")
        container: dict[str, Any] = {"name": self.name, "image": mirrored(BUSYBOX, self.image_repo), "command": main}
        lifecycle: dict[str, Any] = {}
        if self.pre_stop_sleep is not None:
            lifecycle["preStop"] = {"exec": {"command": recording(
                "record prestop-start", f"sleep {self.pre_stop_sleep}", "record prestop-end")}}
        if post_start and not self.post_start_in_main:
            lifecycle["postStart"] = {"exec": {"command": recording(*post_start)}}
        if lifecycle:
            container["lifecycle"] = lifecycle
        return container

    def pod(self, pod_name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [self.container()], "restartPolicy": "Never"}
        if self.grace_period is not None:
            spec["terminationGracePeriodSeconds"] = self.grace_period
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "labels": {"app": pod_name}}, "spec": spec}


def parse_records(message: str | None) -> list[tuple[str, float]]:
    """``<event> <epoch>`` lines, in file order; malformed lines (a truncated tail) are skipped."""
    records = []
    for line in (message or "").splitlines():
        event, _, stamp = line.partition(" ")
        try:
            records.append((event, float(stamp)))
        except ValueError:
            continue
    return records
