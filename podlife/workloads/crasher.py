"""A busybox container that crashes: at once on every attempt, or after a long healthy run on chosen attempts.

It counts its own attempts in an emptyDir (which outlives container restarts, LC-03), so one
manifest can crash fast a few times, then run for minutes, then crash again (LC-05).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podlife.kernel.images import BUSYBOX

EXIT_CODE = 3


@dataclass
class Crasher:
    name: str = "crasher"
    #: attempt number (1-based) -> seconds that attempt runs before it crashes; others crash at once.
    runs: dict[int, float] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name}

    def container(self) -> dict[str, Any]:
        long_runs = "".join(f"{attempt}) sleep {seconds};; " for attempt, seconds in sorted(self.runs.items()))
        script = (
            "n=$(( $(cat /attempts/n 2>/dev/null || echo 0) + 1 )); echo $n > /attempts/n; echo attempt $n; "
            f"case $n in {long_runs}*) ;; esac; exit {EXIT_CODE}"
        )
        return {
            "name": self.name,
            "image": BUSYBOX,
            "command": ["sh", "-c", script],
            "volumeMounts": [{"name": "attempts", "mountPath": "/attempts"}],
        }

    def pod_spec(self, restart_policy: str = "Always") -> dict[str, Any]:
        return {
            "containers": [self.container()],
            "volumes": [{"name": "attempts", "emptyDir": {}}],
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 1,
        }

    def deployment(self) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": self.selector},
                "template": {"metadata": {"labels": self.selector}, "spec": self.pod_spec()},
            },
        }

    def job(self, retries: int) -> dict[str, Any]:
        """A Job whose failed pods are replaced, up to ``retries`` times (the contrast to a ReplicaSet)."""
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": self.name},
            "spec": {
                "backoffLimit": retries,
                "template": {"metadata": {"labels": self.selector}, "spec": self.pod_spec("Never")},
            },
        }
