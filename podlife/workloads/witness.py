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

from podlife.kernel.defaults import HookAction, HookPhase
from podlife.kernel.images import BUSYBOX
from podlife.workloads.agnhost import HTTP_PORT

RECORD_FILE = "/dev/termination-log"
_STAMP = "adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf \"%d.%06d\", s, u}'"


def recording(*steps: str, into: str = RECORD_FILE) -> list[str]:
    """A shell command line that runs ``steps`` with a ``record EVENT`` function appending to ``into``."""
    record = f'record() {{ echo "$1 $({_STAMP})" >> {into}; }}'
    return ["sh", "-c", "; ".join([record, *steps])]


#: The port a witness's failing httpGet hook aims at: nothing listens on it in a busybox container.
CLOSED_PORT = 8080


@dataclass(frozen=True)
class Hook:
    """One lifecycle hook of a witness container.

    An ``exec`` hook records ``<phase>-start`` and, unless it fails first, ``<phase>-end`` in
    the container's record file. An ``httpGet`` hook cannot write into the container, so it
    asks a recorder (an agnhost netexec pod at ``recorder``) for ``/echo?msg=<container>-<phase>``,
    which netexec writes to its log. A failing httpGet hook aims at a closed port of the pod
    itself: the kubelet counts only a failed connection as a failed HTTP hook, not a status code.
    """

    action: HookAction = "exec"
    sleep: float = 0
    fails: bool = False
    #: Printed to the hook's standard output (which LC-11 says nobody sees).
    output: str | None = None
    recorder: str | None = None

    def steps(self, phase: HookPhase) -> list[str]:
        """The exec hook's shell steps (also what a main process runs to do the same work itself)."""
        return [
            f"record {phase}-start",
            *([f"echo {self.output}"] if self.output else []),
            *([f"sleep {self.sleep}"] if self.sleep else []),
            *(["exit 1"] if self.fails else []),
            f"record {phase}-end",
        ]

    def handler(self, container: str, phase: HookPhase) -> dict[str, Any]:
        if self.action == "exec":
            return {"exec": {"command": recording(*self.steps(phase))}}
        if self.fails:
            return {"httpGet": {"path": "/", "port": CLOSED_PORT}}
        return {"httpGet": {"host": self.recorder, "port": HTTP_PORT, "path": f"/echo?msg={recorded_message(container, phase)}"}}


def recorded_message(container: str, phase: HookPhase) -> str:
    """What an httpGet hook of ``container`` leaves in the recorder's log for ``phase``."""
    return f"{container}-{phase}"


@dataclass
class Witness:
    """One container whose main process records ``started`` and ``sigterm``, and whose hooks record themselves.

    ``ignore_sigterm`` makes the process record SIGTERM and carry on, so only SIGKILL ends it.
    """

    name: str = "witness"
    ignore_sigterm: bool = False
    pre_stop: Hook | None = None
    post_start: Hook | None = None
    #: Do the postStart work in the main process instead of a hook (the bad variant of LC-09).
    post_start_in_main: bool = False
    grace_period: int | None = None

    def container(self) -> dict[str, Any]:
        on_term = "record sigterm" if self.ignore_sigterm else "record sigterm; exit 0"
        in_main = self.post_start.steps("poststart") if self.post_start and self.post_start_in_main else []
        main = recording("record started", f"trap '{on_term}' TERM", *in_main, "while true; do sleep 0.1; done")
        container: dict[str, Any] = {"name": self.name, "image": BUSYBOX, "command": main}
        lifecycle: dict[str, Any] = {}
        if self.pre_stop:
            lifecycle["preStop"] = self.pre_stop.handler(self.name, "prestop")
        if self.post_start and not self.post_start_in_main:
            lifecycle["postStart"] = self.post_start.handler(self.name, "poststart")
        if lifecycle:
            container["lifecycle"] = lifecycle
        return container

    def pod(self, pod_name: str, *others: "Witness", restart_policy: str = "Never") -> dict[str, Any]:
        """A pod of this witness, beside ``others`` as further containers (hooks belong to containers, LC-15)."""
        spec: dict[str, Any] = {"containers": [self.container(), *(o.container() for o in others)],
                                "restartPolicy": restart_policy}
        if self.grace_period is not None:
            spec["terminationGracePeriodSeconds"] = self.grace_period
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "labels": {"app": pod_name}}, "spec": spec}
