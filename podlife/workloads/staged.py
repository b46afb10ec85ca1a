"""A pod whose start-up work comes in numbered steps, done by init containers (or, as the bad
variant, by ordinary containers), each recording its start and end in a shared emptyDir.

The app container records its own start and keeps running, so the harness can read the
whole record file from it (LC-07). A step can be made to fail on its first attempts, which
it counts in the same emptyDir, to show a failing init container is retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podlife.kernel.images import BUSYBOX
from podlife.workloads.witness import recording

SHARED = "/records"
RECORDS = f"{SHARED}/log"
APP = "app"


def step_name(number: int) -> str:
    return f"step-{number}"


@dataclass
class Staged:
    steps: int = 3
    step_seconds: float = 1
    #: Run the steps as init containers (the claim) or as ordinary containers beside the app.
    as_init: bool = True
    #: step number -> how many of its first attempts exit 1 before it records its end.
    failing: dict[int, int] = field(default_factory=dict)

    def _container(self, name: str, *steps: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": BUSYBOX,
            "command": recording(*steps, into=RECORDS),
            "volumeMounts": [{"name": "records", "mountPath": SHARED}],
        }

    def step(self, number: int) -> dict[str, Any]:
        name = step_name(number)
        attempts = f"{SHARED}/{name}.attempts"
        fails = self.failing.get(number, 0)
        work = [f"record {name}-start", f"sleep {self.step_seconds}"]
        if fails:
            work += [f"echo x >> {attempts}", f"if [ $(wc -l < {attempts}) -le {fails} ]; then record {name}-failed; exit 1; fi"]
        work.append(f"record {name}-end")
        # As an ordinary container, a step that ended must not exit, or it would be restarted.
        return self._container(name, *work, *([] if self.as_init else ["sleep 3600"]))

    def pod(self, name: str) -> dict[str, Any]:
        steps = [self.step(n) for n in range(1, self.steps + 1)]
        app = self._container(APP, f"record {APP}-started", "sleep 3600")
        spec: dict[str, Any] = {
            "containers": [*([] if self.as_init else steps), app],
            "volumes": [{"name": "records", "emptyDir": {}}],
            "terminationGracePeriodSeconds": 1,
        }
        if self.as_init:
            spec["initContainers"] = steps
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
